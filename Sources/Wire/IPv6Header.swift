// The Internet Protocol version 6 header (RFC 8200 §3), with DSCP/ECN in the traffic class
// (RFC 2474, RFC 3168) and the flow label (RFC 6437).
//
//    0                   1                   2                   3
//   |Version| Traffic Class |           Flow Label                  |
//   |         Payload Length        |  Next Header  |   Hop Limit   |
//   |                  Source Address (16 octets)                   |
//   |               Destination Address (16 octets)                 |

/// IPv6 constants (RFC 8200).
public enum IPv6Constants {
    /// "Version: 4-bit Internet Protocol version number = 6."
    public static let version: UInt8 = 6
    /// The fixed header: 40 octets.
    public static let headerLength = 40
    /// RFC 8200 §5: "IPv6 requires that every link in the Internet have an MTU of 1280 octets or greater."
    public static let minimumMTU = 1280
    /// Hop limit hosts use by default (IANA; the value Linux and RFC 4861's routers advertise as common).
    public static let defaultHopLimit: UInt8 = 64
}

extension IPProtocol {
    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    public static let hopByHopOptions = IPProtocol(rawValue: 0)
    /// Routing header for IPv6 (RFC 8200 §4.4).
    public static let ipv6Routing = IPProtocol(rawValue: 43)
    /// Fragment header for IPv6 (RFC 8200 §4.5).
    public static let ipv6Fragment = IPProtocol(rawValue: 44)
    /// Encapsulating Security Payload (RFC 4303): its contents are opaque, so it ends a walk.
    public static let esp = IPProtocol(rawValue: 50)
    /// Authentication Header (RFC 4302); its length is in 4-octet units (§2.2).
    public static let authenticationHeader = IPProtocol(rawValue: 51)
    /// ICMP for IPv6 (RFC 4443).
    public static let icmpv6 = IPProtocol(rawValue: 58)
    /// No Next Header for IPv6 (RFC 8200 §4.7).
    public static let noNextHeader = IPProtocol(rawValue: 59)
    /// Destination Options for IPv6 (RFC 8200 §4.6).
    public static let ipv6DestinationOptions = IPProtocol(rawValue: 60)
    /// Mobility header (RFC 6275 §6.1); an extension header in IANA's list, with the generic layout.
    public static let mobility = IPProtocol(rawValue: 135)
    /// Host Identity Protocol (RFC 7401), generic layout.
    public static let hip = IPProtocol(rawValue: 139)
    /// Shim6 (RFC 5533), generic layout.
    public static let shim6 = IPProtocol(rawValue: 140)
}

/// An IPv6 fixed header. Extension headers are walked separately (`IPv6ExtensionHeaders`).
public struct IPv6Header: Hashable, Sendable {
    /// Differentiated Services Code Point (RFC 2474), the high 6 bits of the traffic class.
    public var dscp: UInt8
    /// Explicit Congestion Notification (RFC 3168), the low 2 bits of the traffic class.
    public var ecn: UInt8
    /// 20-bit flow label (RFC 6437).
    public var flowLabel: UInt32
    /// "Length of the IPv6 payload, i.e., the rest of the packet following this IPv6 header, in
    /// octets" — extension headers included.
    public var payloadLength: UInt16
    /// The type of the header that follows: an extension header or the upper layer.
    public var nextHeader: IPProtocol
    public var hopLimit: UInt8
    public var source: IPv6Address
    public var destination: IPv6Address

    /// A header for a new packet carrying `payloadLength` bytes (extension headers included).
    @inlinable public init(
        source: IPv6Address, destination: IPv6Address, nextHeader: IPProtocol, payloadLength: Int,
        hopLimit: UInt8 = IPv6Constants.defaultHopLimit, dscp: UInt8 = 0, ecn: UInt8 = 0, flowLabel: UInt32 = 0
    ) {
        self.dscp = dscp & 0x3F; self.ecn = ecn & 0x3; self.flowLabel = flowLabel & 0xF_FFFF
        self.payloadLength = UInt16(truncatingIfNeeded: payloadLength)
        self.nextHeader = nextHeader; self.hopLimit = hopLimit
        self.source = source; self.destination = destination
    }

    /// The traffic class octet.
    @inlinable public var trafficClass: UInt8 { (dscp & 0x3F) << 2 | (ecn & 0x3) }
    /// Where the payload (extension headers and upper layer) lies in the buffer the header was parsed from.
    @inlinable public var payloadRange: Range<Int> { IPv6Constants.headerLength..<IPv6Constants.headerLength + Int(payloadLength) }
    /// Header plus payload, in bytes.
    @inlinable public var totalLength: Int { IPv6Constants.headerLength + Int(payloadLength) }

    /// Parses the header at the start of `packet`: version 6 and a payload length within the
    /// buffer. Bytes beyond the payload (Ethernet padding) are ignored. A payload length of zero
    /// with a Hop-by-Hop header would be a jumbogram (RFC 2675); those exceed every link Sluice
    /// runs on and are parsed as an empty payload, which the extension header walk then rejects.
    @inlinable public init(parsing packet: UnsafeRawBufferPointer) throws(WireError) {
        try self.init(parsing: packet, quoted: false)
    }

    /// Parses the original header quoted inside an ICMPv6 error: the 40 octets must be whole, but
    /// the packet it describes is cut short (RFC 4443 §2.4 (c)), so its payload length is not checked.
    @inlinable public init(parsingQuoted packet: UnsafeRawBufferPointer) throws(WireError) {
        try self.init(parsing: packet, quoted: true)
    }

    @inlinable init(parsing packet: UnsafeRawBufferPointer, quoted: Bool) throws(WireError) {
        try packet.require(IPv6Constants.headerLength)
        let first = packet.u32(0)
        guard UInt8(truncatingIfNeeded: first >> 28) == IPv6Constants.version else { throw WireError.unsupported("IP version") }
        let length = packet.u16(4)
        if !quoted {
            let total = IPv6Constants.headerLength + Int(length)
            guard total <= packet.count else { throw WireError.truncated(needed: total, have: packet.count) }
        }
        let tc = UInt8(truncatingIfNeeded: first >> 20)
        dscp = tc >> 2; ecn = tc & 0x3
        flowLabel = first & 0xF_FFFF
        payloadLength = length
        nextHeader = IPProtocol(rawValue: packet.u8(6))
        hopLimit = packet.u8(7)
        source = IPv6Address(packet, at: 8)
        destination = IPv6Address(packet, at: 24)
    }

    /// Writes the 40-octet header; returns 40. The payload is the caller's to place after it.
    @inlinable public func emit(into packet: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        try packet.requireSpace(IPv6Constants.headerLength)
        packet.setU32(0, UInt32(IPv6Constants.version) << 28 | UInt32(trafficClass) << 20 | (flowLabel & 0xF_FFFF))
        packet.setU16(4, payloadLength)
        packet.setU8(6, nextHeader.rawValue)
        packet.setU8(7, hopLimit)
        source.write(to: packet, at: 8)
        destination.write(to: packet, at: 24)
        return IPv6Constants.headerLength
    }

    /// Hot path: decrements the hop limit of the valid header at the start of `packet` in place
    /// (IPv6 has no header checksum). The hop limit must be nonzero. Returns the new hop limit.
    @inlinable @discardableResult
    public static func decrementHopLimit(in packet: UnsafeMutableRawBufferPointer) -> UInt8 {
        let new = packet.u8(7) &- 1
        packet.setU8(7, new)
        return new
    }
}
