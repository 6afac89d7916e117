// Whole frames: Ethernet II (EtherType 0x86DD, RFC 2464 §3) + IPv6 + UDP, TCP or ICMPv6, built
// into (and read from) caller memory; with `ethernet` nil, bare IPv6 packets for point-to-point
// links. Frames Sluice emits carry no extension headers.

/// Emits and parses complete Ethernet/IPv6 frames.
public enum IPv6Frame {
    /// An Ethernet/IPv6 frame taken apart to its upper layer.
    public struct Parsed: Hashable, Sendable {
        public var ethernet: EthernetHeader
        public var ip: IPv6Header
        public var extensions: IPv6ExtensionHeaders
        /// Offset of the IPv6 header in the frame.
        public var ipOffset: Int
        /// The upper-layer bytes in the frame (Ethernet padding excluded).
        public var upperLayerRange: Range<Int>

        @inlinable public init(ethernet: EthernetHeader, ip: IPv6Header, extensions: IPv6ExtensionHeaders,
                               ipOffset: Int, upperLayerRange: Range<Int>) {
            self.ethernet = ethernet; self.ip = ip; self.extensions = extensions
            self.ipOffset = ipOffset; self.upperLayerRange = upperLayerRange
        }
    }

    /// Parses Ethernet and IPv6 headers and walks the extension headers; throws `unsupported` if
    /// the frame is not IPv6.
    @inlinable public static func parse(
        _ frame: UnsafeRawBufferPointer, limits: IPv6ExtensionHeaderLimits = .default
    ) throws(WireError) -> Parsed {
        let ethernet = try EthernetHeader(parsing: frame)
        guard ethernet.etherType == .ipv6 else { throw WireError.unsupported("EtherType \(ethernet.etherType)") }
        let offset = ethernet.headerLength
        let packet = try IPv6Packet.parse(frame.slice(from: offset), limits: limits)
        return Parsed(ethernet: ethernet, ip: packet.header, extensions: packet.extensions, ipOffset: offset,
                      upperLayerRange: offset + packet.upperLayerRange.lowerBound..<offset + packet.upperLayerRange.upperBound)
    }

    /// Writes Ethernet + IPv6 + UDP + `payload`. The EtherType, Next Header and lengths are set
    /// here; the UDP checksum is computed. Returns the frame length.
    @inlinable public static func emitUDP(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: IPv6Header,
        udp: UDPHeader, payload: UnsafeRawBufferPointer
    ) throws(WireError) -> Int {
        var ip = ip
        ip.nextHeader = .udp
        let offset = try emitHeaders(into: frame, ethernet: ethernet, ip: &ip, payloadLength: UDPConstants.headerLength + payload.count)
        let written = try udp.emit(into: frame.slice(from: offset), payload: payload, source: ip.source, destination: ip.destination)
        return offset + written
    }

    /// Writes Ethernet + IPv6 + ICMPv6 header + `data`. Returns the frame length.
    @inlinable public static func emitICMPv6(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: IPv6Header,
        icmp: ICMPv6Message, data: UnsafeRawBufferPointer
    ) throws(WireError) -> Int {
        var ip = ip
        ip.nextHeader = .icmpv6
        let offset = try emitHeaders(into: frame, ethernet: ethernet, ip: &ip, payloadLength: ICMPv6Constants.headerLength + data.count)
        let written = try icmp.emit(into: frame.slice(from: offset), data: data, source: ip.source, destination: ip.destination)
        return offset + written
    }

    /// Writes Ethernet + IPv6 + an ICMPv6 error about `invoking` (the offending packet from its
    /// IPv6 header on), quoting as much of it as fits in the minimum MTU (RFC 4443 §2.4 (c)).
    /// `invoking` must not overlap `frame` (copy it first). Returns the frame length.
    @inlinable public static func emitICMPv6Error(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: IPv6Header,
        icmp: ICMPv6Message, invoking: UnsafeRawBufferPointer
    ) throws(WireError) -> Int {
        guard icmp.isError else { throw WireError.malformed("ICMPv6 type \(icmp.type.rawValue) is not an error") }
        let quote = invoking.slice(0..<ICMPv6Message.quoteLength(invokingLength: invoking.count))
        return try emitICMPv6(into: frame, ethernet: ethernet, ip: ip, icmp: icmp, data: quote)
    }

    /// Writes Ethernet + IPv6 + TCP in front of `payloadLength` octets the caller already put after
    /// where the headers end, checksum computed. Returns the frame length.
    @inlinable public static func emitTCP(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: IPv6Header,
        tcp: TCPHeader, payloadLength: Int
    ) throws(WireError) -> Int {
        var ip = ip
        ip.nextHeader = .tcp
        let offset = try emitHeaders(into: frame, ethernet: ethernet, ip: &ip, payloadLength: tcp.headerLength + payloadLength)
        let written = try tcp.emit(into: frame.slice(from: offset), payloadLength: payloadLength,
                                   source: ip.source, destination: ip.destination)
        return offset + written
    }

    /// Writes the Ethernet header (when given) and the IPv6 header with its payload length set;
    /// returns where the upper layer starts.
    @inlinable static func emitHeaders(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: inout IPv6Header, payloadLength: Int
    ) throws(WireError) -> Int {
        guard payloadLength >= 0, payloadLength <= Int(UInt16.max) else { throw WireError.badLength }
        try frame.requireSpace((ethernet?.headerLength ?? 0) + IPv6Constants.headerLength + payloadLength)
        ip.payloadLength = UInt16(payloadLength)
        var offset = 0
        if var ethernet {
            ethernet.etherType = .ipv6
            offset = try ethernet.emit(into: frame)
        }
        return offset + (try ip.emit(into: frame.slice(from: offset)))
    }
}
