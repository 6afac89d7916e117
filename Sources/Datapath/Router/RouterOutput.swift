// The router's side effects: frames to transmit, and UDP datagrams for local services. The
// caller passes its own conforming type, used generically (no existential on the hot path).
import Wire

/// A UDP datagram addressed to the router, for a service such as the DHCP server.
public struct LocalUDPDatagram: Hashable, Sendable {
    /// Interface it arrived on.
    public var interface: Int
    /// Link-layer source (a DHCP client's chaddr should match it).
    public var sourceMAC: MACAddress
    public var source: IPv4Address
    public var sourcePort: UInt16
    /// Our address, the interface's subnet broadcast, or 255.255.255.255.
    public var destination: IPv4Address
    public var destinationPort: UInt16
}

/// Receives what the router produces. The buffers are valid only during the call.
public protocol RouterOutput {
    /// Transmit `frame` on router interface `interface`.
    mutating func send(_ frame: UnsafeRawBufferPointer, on interface: Int)
    /// A UDP datagram for one of `RouterConfiguration.localUDPPorts` arrived; `payload` is the UDP data.
    mutating func deliver(_ datagram: LocalUDPDatagram, payload: UnsafeRawBufferPointer)
}

extension RouterOutput {
    /// By default local datagrams are ignored.
    public mutating func deliver(_ datagram: LocalUDPDatagram, payload: UnsafeRawBufferPointer) {}
}

/// What became of one received frame.
public enum RouterDisposition: Equatable, Sendable {
    /// Sent on towards its destination, out of `interface`.
    case forwarded(interface: Int)
    /// Held until ARP resolves the next hop.
    case queued
    /// Handed to `RouterOutput.deliver`.
    case delivered
    /// Answered by the router itself (ARP reply, echo reply).
    case answered
    /// Taken in with nothing to send (ARP learned, an ICMP reply or error for us).
    case consumed
    /// Dropped, and counted under `reason`.
    case dropped(RouterDropReason)
}
