// Whole frames: Ethernet II + IPv4 + UDP or ICMP, built into (and read from) caller memory.
// The router, the DHCP glue and the simulated hosts all make such frames (and the router bare
// IPv4 packets for point-to-point links, with no Ethernet header).

/// Emits and parses complete Ethernet/IPv4 frames.
public enum IPv4Frame {
    /// An Ethernet/IPv4 frame taken apart: both headers, and where the IP payload lies in the frame.
    public struct Parsed: Hashable, Sendable {
        public var ethernet: EthernetHeader
        public var ip: IPv4Header
        /// Offset of the IPv4 header in the frame.
        public var ipOffset: Int
        /// The IP payload's bytes in the frame (Ethernet padding excluded).
        public var payloadRange: Range<Int>

        @inlinable public init(ethernet: EthernetHeader, ip: IPv4Header, ipOffset: Int, payloadRange: Range<Int>) {
            self.ethernet = ethernet; self.ip = ip; self.ipOffset = ipOffset; self.payloadRange = payloadRange
        }
    }

    /// Parses Ethernet and IPv4 headers; throws `unsupported` if the frame is not IPv4.
    @inlinable public static func parse(_ frame: UnsafeRawBufferPointer) throws(WireError) -> Parsed {
        let ethernet = try EthernetHeader(parsing: frame)
        guard ethernet.etherType == .ipv4 else { throw WireError.unsupported("EtherType \(ethernet.etherType)") }
        let offset = ethernet.headerLength
        let ip = try IPv4Header(parsing: frame.slice(from: offset))
        return Parsed(ethernet: ethernet, ip: ip, ipOffset: offset,
                      payloadRange: offset + ip.headerLength..<offset + Int(ip.totalLength))
    }

    /// Writes Ethernet + IPv4 + UDP + `payload` (with `ethernet` nil, a bare IP packet for a
    /// point-to-point link). The EtherType, IP protocol and lengths are set here; the IP and UDP
    /// checksums are computed. Returns the frame length.
    @inlinable public static func emitUDP(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: IPv4Header,
        udp: UDPHeader, payload: UnsafeRawBufferPointer
    ) throws(WireError) -> Int {
        var ip = ip
        ip.protocol = .udp
        let l4 = UDPConstants.headerLength + payload.count
        let (offset, ipLength) = try emitHeaders(into: frame, ethernet: ethernet, ip: &ip, payloadLength: l4)
        let written = try udp.emit(into: frame.slice(from: offset + ipLength), payload: payload,
                                   source: ip.source, destination: ip.destination)
        return offset + ipLength + written
    }

    /// Writes Ethernet + IPv4 + ICMP header + `data` (with `ethernet` nil, a bare IP packet).
    /// Returns the frame length.
    @inlinable public static func emitICMP(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: IPv4Header,
        icmp: ICMPv4Message, data: UnsafeRawBufferPointer
    ) throws(WireError) -> Int {
        var ip = ip
        ip.protocol = .icmp
        let l4 = ICMPv4Constants.headerLength + data.count
        let (offset, ipLength) = try emitHeaders(into: frame, ethernet: ethernet, ip: &ip, payloadLength: l4)
        let written = try icmp.emit(into: frame.slice(from: offset + ipLength), data: data)
        return offset + ipLength + written
    }

    /// Writes Ethernet + IPv4 + TCP in front of `payloadLength` bytes of data the caller already
    /// put after where the headers end, checksums computed. Returns the frame length.
    @inlinable public static func emitTCP(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader, ip: IPv4Header,
        tcp: TCPHeader, payloadLength: Int
    ) throws(WireError) -> Int {
        var ip = ip
        ip.protocol = .tcp
        let (offset, ipLength) = try emitHeaders(into: frame, ethernet: ethernet, ip: &ip, payloadLength: tcp.headerLength + payloadLength)
        let written = try tcp.emit(into: frame.slice(from: offset + ipLength), payloadLength: payloadLength,
                                   source: ip.source, destination: ip.destination)
        return offset + ipLength + written
    }

    @inlinable static func emitHeaders(
        into frame: UnsafeMutableRawBufferPointer, ethernet: EthernetHeader?, ip: inout IPv4Header, payloadLength: Int
    ) throws(WireError) -> (ipOffset: Int, ipHeaderLength: Int) {
        let total = ip.headerLength + payloadLength
        guard total <= Int(UInt16.max) else { throw WireError.badLength }
        try frame.requireSpace((ethernet?.headerLength ?? 0) + total)
        ip.totalLength = UInt16(total)
        var offset = 0
        if var ethernet {
            ethernet.etherType = .ipv4
            offset = try ethernet.emit(into: frame)
        }
        let ipLength = try ip.emit(into: frame.slice(from: offset))
        return (offset, ipLength)
    }
}
