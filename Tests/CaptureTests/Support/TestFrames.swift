// Frames built byte by byte, independently of the Wire module, for filter and capture tests.

/// A MAC address written as six bytes; the last byte varies, the first is locally administered.
func mac(_ last: UInt8) -> [UInt8] { [0x02, 0x00, 0x00, 0x00, 0x00, last] }
let broadcastMAC: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]

func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

/// Ethernet II: destination, source, EtherType, payload.
func ethernet(dst: [UInt8], src: [UInt8], type: Int, _ payload: [UInt8]) -> [UInt8] {
    dst + src + be16(type) + payload
}

/// The RFC 1071 one's-complement sum, folded and inverted.
func checksum(_ bytes: [UInt8]) -> Int {
    var sum = 0
    var i = 0
    while i + 1 < bytes.count { sum += Int(bytes[i]) << 8 | Int(bytes[i + 1]); i += 2 }
    if i < bytes.count { sum += Int(bytes[i]) << 8 }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~sum & 0xFFFF
}

/// An IPv4 header (20 bytes, no options) with a correct checksum, followed by `payload`.
func ipv4(src: [UInt8], dst: [UInt8], protocol proto: UInt8, fragmentOffset: Int = 0, _ payload: [UInt8]) -> [UInt8] {
    var header: [UInt8] = [0x45, 0x00] + be16(20 + payload.count) + be16(0x1234)
        + be16(fragmentOffset) + [64, proto, 0, 0] + src + dst
    let sum = checksum(header)
    header[10] = UInt8(sum >> 8); header[11] = UInt8(sum & 0xFF)
    return header + payload
}

/// A UDP header (checksum 0: none, as IPv4 allows) and payload.
func udp(src: Int, dst: Int, _ payload: [UInt8]) -> [UInt8] {
    be16(src) + be16(dst) + be16(8 + payload.count) + [0, 0] + payload
}

/// An ICMP echo (type 8) or echo reply (type 0) with identifier, sequence and data.
func icmpEcho(type: UInt8, id: Int, seq: Int, _ data: [UInt8]) -> [UInt8] {
    var message: [UInt8] = [type, 0, 0, 0] + be16(id) + be16(seq) + data
    let sum = checksum(message)
    message[2] = UInt8(sum >> 8); message[3] = UInt8(sum & 0xFF)
    return message
}

enum TestFrames {
    /// ARP request (RFC 826): who has 10.0.0.1? tell 10.0.0.10, from 02:..:0a, broadcast.
    static let arpRequest = ethernet(dst: broadcastMAC, src: mac(0x0A), type: 0x0806,
        be16(1) + be16(0x0800) + [6, 4] + be16(1) + mac(0x0A) + [10, 0, 0, 10]
            + [0, 0, 0, 0, 0, 0] + [10, 0, 0, 1])

    /// DHCPDISCOVER's envelope: 0.0.0.0:68 → 255.255.255.255:67 (BOOTP op 1, htype 1, hlen 6).
    static let dhcpDiscover = ethernet(dst: broadcastMAC, src: mac(0x0B), type: 0x0800,
        ipv4(src: [0, 0, 0, 0], dst: [255, 255, 255, 255], protocol: 17,
             udp(src: 68, dst: 67, [1, 1, 6, 0, 0xDE, 0xAD, 0xBE, 0xEF])))

    /// DHCPOFFER's envelope: 10.0.0.1:67 → 10.0.0.101:68 (BOOTP op 2).
    static let dhcpOffer = ethernet(dst: mac(0x0B), src: mac(0x02), type: 0x0800,
        ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 101], protocol: 17,
             udp(src: 67, dst: 68, [2, 1, 6, 0, 0xDE, 0xAD, 0xBE, 0xEF])))

    /// A DNS query 10.0.0.101:40000 → 10.0.0.1:53, from 02:..:03.
    static let dnsQuery = ethernet(dst: mac(0x02), src: mac(0x03), type: 0x0800,
        ipv4(src: [10, 0, 0, 101], dst: [10, 0, 0, 1], protocol: 17,
             udp(src: 40000, dst: 53, [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])))

    /// ICMP echo request 10.0.0.101 → 10.0.0.1, from 02:..:02 to 02:..:01.
    static let echoRequest = ethernet(dst: mac(0x01), src: mac(0x02), type: 0x0800,
        ipv4(src: [10, 0, 0, 101], dst: [10, 0, 0, 1], protocol: 1,
             icmpEcho(type: 8, id: 0x77, seq: 1, Array("ping".utf8))))

    /// ICMP echo reply 10.0.0.1 → 10.0.0.101, from 02:..:01 to 02:..:02.
    static let echoReply = ethernet(dst: mac(0x02), src: mac(0x01), type: 0x0800,
        ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 101], protocol: 1,
             icmpEcho(type: 0, id: 0x77, seq: 1, Array("ping".utf8))))

    /// The second fragment of an echo reply: bytes at offset 8×185 — no ICMP header in it.
    static let echoReplyLaterFragment = ethernet(dst: mac(0x02), src: mac(0x04), type: 0x0800,
        ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 101], protocol: 1, fragmentOffset: 185,
             [0, 0, 0, 0, 0, 0, 0, 0]))

    static let all: [(name: String, bytes: [UInt8])] = [
        ("arpRequest", arpRequest), ("dhcpDiscover", dhcpDiscover), ("dhcpOffer", dhcpOffer),
        ("dnsQuery", dnsQuery), ("echoRequest", echoRequest), ("echoReply", echoReply),
        ("echoReplyLaterFragment", echoReplyLaterFragment),
    ]
}
