// The router's side effects: frames (Ethernet interfaces) and bare IP packets (point-to-point
// interfaces) to transmit, and UDP datagrams for local services. The caller passes its own
// conforming type, used generically (no existential on the hot path).
import Wire

/// An IP packet on a point-to-point interface, in a buffer with room around it: `buffer[range]`
/// is the packet; the bytes before it (headroom) and after it (tailroom) belong to whoever holds
/// the packet during the call, so a tunnel can write its header and trailer there and encrypt the
/// packet where it lies. Packets the router builds or copies have at least
/// `Router.packetHeadroom` and `Router.packetTailroom` bytes of room.
@frozen public struct PointToPointPacket {
    public let buffer: UnsafeMutableRawBufferPointer
    /// Where the packet lies in `buffer` (clamped to it).
    public let range: Range<Int>

    @inlinable public init(buffer: UnsafeMutableRawBufferPointer, range: Range<Int>) {
        self.buffer = buffer
        self.range = range.clamped(to: 0..<buffer.count)
    }

    /// A packet that fills `bytes`: no room around it.
    @inlinable public init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.init(buffer: bytes, range: 0..<bytes.count)
    }

    /// The packet's bytes.
    @inlinable public var bytes: UnsafeMutableRawBufferPointer { buffer.slice(range) }
    @inlinable public var count: Int { range.count }
    /// Free bytes before the packet.
    @inlinable public var headroom: Int { range.lowerBound }
    /// Free bytes after the packet.
    @inlinable public var tailroom: Int { buffer.count - range.upperBound }
}

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
    /// Transmit the Ethernet frame `frame` on Ethernet interface `interface`.
    mutating func send(_ frame: UnsafeRawBufferPointer, on interface: Int)
    /// Transmit the IP packet `packet.bytes` on point-to-point interface `interface`. The callee
    /// may rewrite the packet and its room in place (the router is done with them).
    mutating func send(packet: PointToPointPacket, on interface: Int)
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
