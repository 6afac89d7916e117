// Fields BPF cannot reach, decoded from captured frames with Wire's parsers: ICMP echo
// identifier/sequence and whole DHCP messages (docs/scenarios.md).
import Capture
import Wire

enum FrameDecoding {
    /// For an ICMP echo request or reply: identifier, sequence and the two addresses in a fixed
    /// order (so a request and its reply give the same key).
    static func icmpEchoKey(_ record: CaptureRecord) -> UInt64? {
        record.bytes.withUnsafeBytes { frame -> UInt64? in
            guard let parsed = try? IPv4Frame.parse(frame), parsed.ip.protocol == .icmp, !parsed.ip.isFragment,
                  parsed.payloadRange.upperBound <= frame.count,
                  let icmp = try? ICMPv4Message(parsing: frame.slice(parsed.payloadRange)),
                  icmp.type == .echoRequest || icmp.type == .echoReply else { return nil }
            let a = parsed.ip.source.rawValue, b = parsed.ip.destination.rawValue
            let pair = UInt64(min(a, b) ^ (max(a, b) &* 0x9E37_79B9))
            return (pair << 32) | UInt64(icmp.identifier) << 16 | UInt64(icmp.sequenceNumber)
        }
    }

    /// The ICMP echo identifier and sequence, for messages.
    static func icmpEcho(_ record: CaptureRecord) -> (type: ICMPv4Type, identifier: UInt16, sequence: UInt16)? {
        record.bytes.withUnsafeBytes { frame -> (ICMPv4Type, UInt16, UInt16)? in
            guard let parsed = try? IPv4Frame.parse(frame), parsed.ip.protocol == .icmp,
                  parsed.payloadRange.upperBound <= frame.count,
                  let icmp = try? ICMPv4Message(parsing: frame.slice(parsed.payloadRange)) else { return nil }
            return (icmp.type, icmp.identifier, icmp.sequenceNumber)
        }
    }

    /// The DHCP message carried in a UDP datagram to or from port 67 or 68.
    static func dhcpMessage(_ record: CaptureRecord) -> DHCPMessage? {
        record.bytes.withUnsafeBytes { frame -> DHCPMessage? in
            guard let parsed = try? IPv4Frame.parse(frame), parsed.ip.protocol == .udp, !parsed.ip.isFragment,
                  parsed.payloadRange.upperBound <= frame.count else { return nil }
            let datagram = frame.slice(parsed.payloadRange)
            guard let udp = try? UDPHeader(parsing: datagram, source: parsed.ip.source, destination: parsed.ip.destination) else { return nil }
            let ports: [UInt16] = [UDPConstants.bootpServerPort, UDPConstants.bootpClientPort]
            guard ports.contains(udp.sourcePort) || ports.contains(udp.destinationPort) else { return nil }
            return try? DHCPMessage(parsing: datagram.slice(udp.payloadRange))
        }
    }

    /// The DHCP transaction id, as a pairing key.
    static func dhcpTransactionKey(_ record: CaptureRecord) -> UInt64? {
        dhcpMessage(record).map { UInt64($0.xid) }
    }
}
