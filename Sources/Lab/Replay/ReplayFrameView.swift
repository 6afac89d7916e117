// Lab room, replay: the fields of a captured frame that splitting and rewriting look at, read
// with bounds checks from the capture's bytes (a capture is outside input: a frame cut short or
// lying about its lengths gives fewer fields, never a trap). One VLAN tag is looked through.
import Wire

/// Where the Ethernet, IPv4, transport and ARP fields of a captured frame lie.
struct ReplayFrameView {
    struct IPv4 {
        /// Offset of the IPv4 header in the frame, and its length.
        var offset: Int, headerLength: Int
        var source: IPv4Address, destination: IPv4Address
        var `protocol`: UInt8
        /// Offset of the transport header (nil in a fragment after the first), and how many of its
        /// bytes the frame holds (cut to the IPv4 total length).
        var transport: Int?, transportLength: Int
        /// TCP/UDP ports (0 for other protocols or when cut off).
        var sourcePort: UInt16 = 0, destinationPort: UInt16 = 0
        var tcpFlags: UInt8 = 0
        var icmpType: UInt8 = 0xFF
    }

    var destination: MACAddress
    var source: MACAddress
    var ipv4: IPv4?
    /// Offset of an Ethernet/IPv4 ARP packet.
    var arp: Int?

    var arpSender: IPv4Address? { arpAddress(14) }

    private var arpBytes: [UInt8]

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 14 else { return nil }
        arpBytes = bytes
        destination = MACAddress(rawValue: Self.u48(bytes, 0))
        source = MACAddress(rawValue: Self.u48(bytes, 6))
        var offset = 12
        var etherType = Self.u16(bytes, offset)
        if etherType == 0x8100 || etherType == 0x88A8 {
            guard bytes.count >= 18 else { return }
            offset += 4
            etherType = Self.u16(bytes, offset)
        }
        offset += 2
        switch etherType {
        case 0x0800: ipv4 = Self.parseIPv4(bytes, at: offset)
        case 0x0806:
            // Ethernet (1) / IPv4 (0x0800), 6- and 4-byte addresses.
            if bytes.count >= offset + 28, Self.u16(bytes, offset) == 1, Self.u16(bytes, offset + 2) == 0x0800,
               bytes[offset + 4] == 6, bytes[offset + 5] == 4 { arp = offset }
        default: break
        }
    }

    /// ARP's sender (14) or target (24) protocol address.
    func arpAddress(_ field: Int) -> IPv4Address? {
        guard let arp else { return nil }
        return IPv4Address(rawValue: Self.u32(arpBytes, arp + field))
    }

    private static func parseIPv4(_ b: [UInt8], at o: Int) -> IPv4? {
        guard b.count >= o + 20, b[o] >> 4 == 4 else { return nil }
        let ihl = Int(b[o] & 0x0F) * 4
        let total = Int(u16(b, o + 2))
        guard ihl >= 20, b.count >= o + ihl, total >= ihl else { return nil }
        let end = min(b.count, o + total)
        let fragmentOffset = u16(b, o + 6) & 0x1FFF
        var ip = IPv4(offset: o, headerLength: ihl, source: IPv4Address(rawValue: u32(b, o + 12)),
                      destination: IPv4Address(rawValue: u32(b, o + 16)), protocol: b[o + 9],
                      transport: fragmentOffset == 0 ? o + ihl : nil, transportLength: max(0, end - (o + ihl)))
        guard let t = ip.transport else { return ip }
        switch ip.protocol {
        case IPProtocol.tcp.rawValue, IPProtocol.udp.rawValue:
            if ip.transportLength >= 4 { ip.sourcePort = u16(b, t); ip.destinationPort = u16(b, t + 2) }
            if ip.protocol == IPProtocol.tcp.rawValue, ip.transportLength >= 14 { ip.tcpFlags = b[t + 13] }
        case IPProtocol.icmp.rawValue:
            if ip.transportLength >= 1 { ip.icmpType = b[t] }
        default: break
        }
        return ip
    }

    static func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) << 8 | UInt16(b[o + 1]) }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(u16(b, o)) << 16 | UInt32(u16(b, o + 2)) }
    static func u48(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(u16(b, o)) << 32 | UInt64(u32(b, o + 2)) }
    static func set16(_ b: inout [UInt8], _ o: Int, _ v: UInt16) { b[o] = UInt8(v >> 8); b[o + 1] = UInt8(truncatingIfNeeded: v) }
    static func set32(_ b: inout [UInt8], _ o: Int, _ v: UInt32) {
        set16(&b, o, UInt16(v >> 16)); set16(&b, o + 2, UInt16(truncatingIfNeeded: v))
    }
}
