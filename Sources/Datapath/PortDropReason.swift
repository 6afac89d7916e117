// Why a port dropped a frame (docs/architecture.md, Bad input:
// malformed input is dropped and counted by reason, never a crash).
// The counters (`PortCounters.drops`, a Basics `ReasonCounts`) are indexed by the raw value, so the
// raw values are part of the contract: add new reasons at the end with the next number, never renumber.

/// Why a port dropped a frame. Raw values index `PortCounters.drops`; append only.
public enum PortDropReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Too short or otherwise unparsable.
    case malformed = 0
    /// The guest posted no receive buffer to deliver into.
    case noRxBuffer = 1
    /// The packet pool had no free buffer.
    case poolExhausted = 2
    /// The destination was learned on the ingress port: forwarding would send it back.
    case sameIngressPort = 3
    /// No port or host is known for the destination.
    case unknownDestination = 4
    /// IPv4 TTL reached zero.
    case ttlExpired = 5
    /// No route to the destination network.
    case noRoute = 6
    /// ARP did not resolve the next hop in time (or its wait queue overflowed).
    case arpUnresolved = 7
    /// An output queue was full.
    case queueFull = 8
    /// A filter rule rejected the frame.
    case filtered = 9
    /// The virtqueue is broken (NEEDS_RESET) and no longer carries frames.
    case brokenQueue = 10
    /// Larger than the egress MTU or the buffer.
    case tooBig = 11
    /// The source MAC is a group (multicast/broadcast) or all-zero address, which no station owns.
    case invalidSourceAddress = 12

    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .noRxBuffer: "no-rx-buffer"
        case .poolExhausted: "pool-exhausted"
        case .sameIngressPort: "same-ingress-port"
        case .unknownDestination: "unknown-destination"
        case .ttlExpired: "ttl-expired"
        case .noRoute: "no-route"
        case .arpUnresolved: "arp-unresolved"
        case .queueFull: "queue-full"
        case .filtered: "filtered"
        case .brokenQueue: "broken-queue"
        case .tooBig: "too-big"
        case .invalidSourceAddress: "invalid-source-address"
        }
    }
}
