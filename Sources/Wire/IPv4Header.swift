// The Internet Protocol version 4 header (RFC 791 §3.1), with DSCP/ECN (RFC 2474, RFC 3168).
//
//    0                   1                   2                   3
//   |Version|  IHL  |  DSCP     |ECN|          Total Length         |
//   |         Identification        |Flags|      Fragment Offset    |
//   |  Time to Live |    Protocol   |         Header Checksum       |
//   |                       Source Address                          |
//   |                    Destination Address                        |
//   |                    Options (0–40 bytes)                       |

/// IPv4 constants (RFC 791 §3.1, RFC 1700/IANA protocol numbers, RFC 1122 §3.2.1.7).
public enum IPv4Constants {
    /// "Version: 4 bits ... this document describes version 4."
    public static let version: UInt8 = 4
    /// "the minimum value for a correct header is 5" (words), i.e. 20 bytes.
    public static let minimumHeaderLength = 20
    /// IHL is 4 bits: at most 15 words.
    public static let maximumHeaderLength = 60
    /// Default TTL recommended for hosts (IANA; RFC 1700).
    public static let defaultTimeToLive: UInt8 = 64
    /// "Every internet module must be able to forward a datagram of 68 octets without further
    /// fragmentation" (RFC 791 §3.2).
    public static let minimumMTU = 68
}

/// The Protocol field (IANA "Assigned Internet Protocol Numbers").
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let icmp = IPProtocol(rawValue: 1)
    public static let igmp = IPProtocol(rawValue: 2)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
}

/// An IPv4 header. Options are kept as raw bytes.
public struct IPv4Header: Hashable, Sendable {
    /// Differentiated Services Code Point (RFC 2474), 6 bits.
    public var dscp: UInt8
    /// Explicit Congestion Notification (RFC 3168), 2 bits.
    public var ecn: UInt8
    /// Header plus payload, in bytes.
    public var totalLength: UInt16
    public var identification: UInt16
    /// Flags bit 1, DF: "0 = May Fragment, 1 = Don't Fragment."
    public var dontFragment: Bool
    /// Flags bit 2, MF: "0 = Last Fragment, 1 = More Fragments."
    public var moreFragments: Bool
    /// Fragment offset in units of 8 octets, 13 bits.
    public var fragmentOffset: UInt16
    public var timeToLive: UInt8
    public var `protocol`: IPProtocol
    /// The header checksum as parsed. `emit` ignores it and writes the correct one.
    public var checksum: UInt16
    public var source: IPv4Address
    public var destination: IPv4Address
    /// Option bytes, a multiple of 4 (pad with End-of-Option-List zeros).
    public var options: HeaderOptions

    /// A header for a new datagram carrying `payloadLength` bytes.
    @inlinable public init(
        source: IPv4Address, destination: IPv4Address, protocol: IPProtocol, payloadLength: Int,
        timeToLive: UInt8 = IPv4Constants.defaultTimeToLive, identification: UInt16 = 0,
        dontFragment: Bool = false, dscp: UInt8 = 0, ecn: UInt8 = 0, options: HeaderOptions = HeaderOptions()
    ) {
        self.dscp = dscp & 0x3F; self.ecn = ecn & 0x3
        self.totalLength = UInt16(truncatingIfNeeded: IPv4Constants.minimumHeaderLength + options.count + payloadLength)
        self.identification = identification
        self.dontFragment = dontFragment; self.moreFragments = false; self.fragmentOffset = 0
        self.timeToLive = timeToLive; self.protocol = `protocol`; self.checksum = 0
        self.source = source; self.destination = destination; self.options = options
    }

    /// Header length in bytes (IHL × 4).
    @inlinable public var headerLength: Int { IPv4Constants.minimumHeaderLength + options.count }
    /// Payload bytes: total length minus header length.
    @inlinable public var payloadLength: Int { Int(totalLength) - headerLength }
    /// Where the payload lies in the buffer the header was parsed from.
    @inlinable public var payloadRange: Range<Int> { headerLength..<Int(totalLength) }
    /// True for any fragment of a fragmented datagram (MF set or a nonzero offset).
    @inlinable public var isFragment: Bool { moreFragments || fragmentOffset != 0 }

    /// Parses and validates the header at the start of `packet`: version 4, IHL ≥ 5, header
    /// checksum, and total length within the buffer. Bytes beyond the total length (Ethernet
    /// padding) are ignored.
    @inlinable public init(parsing packet: UnsafeRawBufferPointer) throws(WireError) {
        try self.init(parsing: packet, quoted: false)
    }

    /// Parses the original header quoted inside an ICMP error: the header must be whole, but the
    /// datagram it describes is cut short, so the total length and checksum are not checked.
    @inlinable public init(parsingQuoted packet: UnsafeRawBufferPointer) throws(WireError) {
        try self.init(parsing: packet, quoted: true)
    }

    @inlinable init(parsing packet: UnsafeRawBufferPointer, quoted: Bool) throws(WireError) {
        try packet.require(IPv4Constants.minimumHeaderLength)
        let versionIHL = packet.u8(0)
        guard versionIHL >> 4 == IPv4Constants.version else { throw WireError.unsupported("IP version") }
        // RFC 791: "the minimum value for a correct header is 5."
        let headerLength = Int(versionIHL & 0xF) * 4
        guard headerLength >= IPv4Constants.minimumHeaderLength else { throw WireError.badLength }
        try packet.require(headerLength)
        let total = packet.u16(2)
        if !quoted {
            // RFC 1812 §5.2.2: "The router MUST verify the IP header checksum".
            guard InternetChecksum.of(packet.slice(0..<headerLength)) == 0 else { throw WireError.badChecksum }
            // RFC 1812 §5.2.2: "(3) The IP total length field is large enough to hold the IP datagram header".
            guard Int(total) >= headerLength else { throw WireError.badLength }
            // "(2) The link layer reported length ... is large enough to hold the IP total length".
            guard Int(total) <= packet.count else { throw WireError.truncated(needed: Int(total), have: packet.count) }
        }
        let tos = packet.u8(1)
        dscp = tos >> 2; ecn = tos & 0x3
        totalLength = total
        identification = packet.u16(4)
        let flagsOffset = packet.u16(6)
        dontFragment = flagsOffset & 0x4000 != 0
        moreFragments = flagsOffset & 0x2000 != 0
        fragmentOffset = flagsOffset & 0x1FFF
        timeToLive = packet.u8(8)
        `protocol` = IPProtocol(rawValue: packet.u8(9))
        checksum = packet.u16(10)
        source = IPv4Address(packet, at: 12)
        destination = IPv4Address(packet, at: 16)
        options = HeaderOptions(copying: packet.slice(IPv4Constants.minimumHeaderLength..<headerLength))
    }

    /// Writes the header (with a freshly computed checksum); returns its length. The payload,
    /// `totalLength − headerLength` bytes, is the caller's to place after it.
    @inlinable public func emit(into packet: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let length = headerLength
        guard options.count % 4 == 0 else { throw WireError.malformed("IPv4 options not a multiple of 4 bytes") }
        guard Int(totalLength) >= length else { throw WireError.badLength }
        try packet.requireSpace(length)
        packet.setU8(0, IPv4Constants.version << 4 | UInt8(length / 4))
        packet.setU8(1, (dscp & 0x3F) << 2 | (ecn & 0x3))
        packet.setU16(2, totalLength)
        packet.setU16(4, identification)
        packet.setU16(6, (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | (fragmentOffset & 0x1FFF))
        packet.setU8(8, timeToLive)
        packet.setU8(9, `protocol`.rawValue)
        packet.setU16(10, 0)
        source.write(to: packet, at: 12)
        destination.write(to: packet, at: 16)
        options.write(to: packet, at: IPv4Constants.minimumHeaderLength)
        packet.setU16(10, InternetChecksum.of(UnsafeRawBufferPointer(packet.slice(0..<length))))
        return length
    }

    /// Hot path: decrements the TTL of the valid header at the start of `packet` in place and
    /// patches the checksum incrementally (RFC 1624 eqn. 3; RFC 1812 §5.3.1 allows this).
    /// The TTL must be nonzero. Returns the new TTL.
    @inlinable @discardableResult
    public static func decrementTimeToLive(in packet: UnsafeMutableRawBufferPointer) -> UInt8 {
        let old = packet.u16(8)                     // TTL (high byte) and protocol
        let new = old &- 0x0100
        packet.setU16(8, new)
        packet.setU16(10, InternetChecksum.update(packet.u16(10), old: old, new: new))
        return UInt8(truncatingIfNeeded: new >> 8)
    }
}
