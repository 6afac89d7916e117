// Why the host's TCP dropped a received segment (docs/architecture.md, Bad input: malformed input
// is dropped and counted by reason, never a crash). The counters (`TCPCounters.drops`, a Basics
// `ReasonCounts`) are indexed by the raw value, so the raw values are part of the contract: add new
// reasons at the end with the next number, never renumber.

/// Why a segment was dropped. Raw values index `TCPCounters.drops`; append only.
public enum TCPDropReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Truncated, bad data offset, bad checksum (RFC 9293 §3.10.7 "checksum test").
    case malformed = 0
    /// An option with a bad length (RFC 9293 §3.1).
    case badOptions = 1
    /// Not to this host's unicast address, or from a non-unicast source (RFC 1122 §4.2.3.10).
    case notForUs = 2
    /// No connection and no listener: answered with a RST unless it was one (RFC 9293 §3.10.7.1).
    case noConnection = 3
    /// Outside the receive window (RFC 9293 §3.10.7.4 "first, check sequence number"); re-ACKed.
    case outOfWindow = 4
    /// An ACK of something not yet sent, or a bad ACK in SYN-SENT, SYN-RECEIVED or LISTEN.
    case badACK = 5
    /// A timestamp older than TS.Recent (PAWS, RFC 7323 §5.3).
    case staleTimestamp = 6
    /// Without ACK in a synchronized state, or otherwise meaningless in its state.
    case unexpected = 7
    /// A SYN to a listener whose SYN backlog was full (RFC 4987 §3.1: bounded half-open state).
    case synBacklogFull = 8
    /// A SYN to a listener whose accept queue was full.
    case acceptQueueFull = 9

    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .badOptions: "bad-options"
        case .notForUs: "not-for-us"
        case .noConnection: "no-connection"
        case .outOfWindow: "out-of-window"
        case .badACK: "bad-ack"
        case .staleTimestamp: "stale-timestamp"
        case .unexpected: "unexpected"
        case .synBacklogFull: "syn-backlog-full"
        case .acceptQueueFull: "accept-queue-full"
        }
    }
}
