// Test-side decoding and building of frames with the Wire codecs, so tests can say what went
// out ("a unicast DHCPREQUEST with ciaddr set") and make what comes in.

import Basics
import Wire

/// A frame taken apart as far as the tests need.
struct DecodedFrame {
    var ethernet: EthernetHeader
    var arp: ARPPacket?
    var ip: IPv4Header?
    var icmp: ICMPv4Message?
    var icmpData: [UInt8] = []
    var udp: UDPHeader?
    var udpPayload: [UInt8] = []
    var dhcp: DHCPMessage?

    init?(_ bytes: [UInt8]) {
        guard let decoded = bytes.withUnsafeBytes({ Self.decode($0) }) else { return nil }
        self = decoded
    }

    private init(ethernet: EthernetHeader) { self.ethernet = ethernet }

    private static func decode(_ frame: UnsafeRawBufferPointer) -> DecodedFrame? {
        guard let ethernet = try? EthernetHeader(parsing: frame) else { return nil }
        var d = DecodedFrame(ethernet: ethernet)
        if ethernet.etherType == .arp {
            d.arp = try? ARPPacket(parsing: frame.slice(from: ethernet.headerLength))
            return d
        }
        guard let parsed = try? IPv4Frame.parse(frame) else { return d }
        d.ip = parsed.ip
        let payload = frame.slice(parsed.payloadRange)
        if parsed.ip.protocol == .icmp, let icmp = try? ICMPv4Message(parsing: payload) {
            d.icmp = icmp
            d.icmpData = Array(payload.slice(from: 8))
        } else if parsed.ip.protocol == .udp,
                  let udp = try? UDPHeader(parsing: payload, source: parsed.ip.source, destination: parsed.ip.destination) {
            d.udp = udp
            let data = payload.slice(udp.payloadRange)
            d.udpPayload = Array(data)
            if udp.destinationPort == 67 || udp.destinationPort == 68 { d.dhcp = try? DHCPMessage(parsing: data) }
        }
        return d
    }

    var isARPRequest: Bool { arp?.operation == .request }
    var dhcpType: DHCPMessageType? { dhcp?.messageType }
}

/// Frame builders for injected traffic.
enum Frames {
    static func build(_ length: Int, _ body: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        let n = bytes.withUnsafeMutableBytes { buffer -> Int in
            do throws(WireError) { return try body(buffer) } catch { fatalError("test frame: \(error)") }
        }
        return Array(bytes.prefix(n))
    }

    static func arp(_ packet: ARPPacket, from: MACAddress, to: MACAddress = .broadcast) -> [UInt8] {
        build(64) { b throws(WireError) in
            let o = try EthernetHeader(destination: to, source: from, etherType: .arp).emit(into: b)
            return o + (try packet.emit(into: b.slice(from: o)))
        }
    }

    static func udp(from: MACAddress, to: MACAddress, source: IPv4Address, destination: IPv4Address,
                    sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8], ttl: UInt8 = 64) -> [UInt8] {
        build(64 + payload.count) { b throws(WireError) in
            let result = payload.withUnsafeBytes { p in
                Result { () throws(WireError) -> Int in
                    try IPv4Frame.emitUDP(
                        into: b, ethernet: EthernetHeader(destination: to, source: from, etherType: .ipv4),
                        ip: IPv4Header(source: source, destination: destination, protocol: .udp, payloadLength: 0, timeToLive: ttl),
                        udp: UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort), payload: p)
                }
            }
            return try result.get()
        }
    }

    static func icmp(from: MACAddress, to: MACAddress, source: IPv4Address, destination: IPv4Address,
                     message: ICMPv4Message, data: [UInt8]) -> [UInt8] {
        build(64 + data.count) { b throws(WireError) in
            let result = data.withUnsafeBytes { p in
                Result { () throws(WireError) -> Int in
                    try IPv4Frame.emitICMP(
                        into: b, ethernet: EthernetHeader(destination: to, source: from, etherType: .ipv4),
                        ip: IPv4Header(source: source, destination: destination, protocol: .icmp, payloadLength: 0),
                        icmp: message, data: p)
                }
            }
            return try result.get()
        }
    }

    /// An ICMP error from `router` about the IPv4 datagram in `original`: its header and 8 bytes.
    static func icmpError(_ message: ICMPv4Message, about original: [UInt8], router: IPv4Address, routerMAC: MACAddress) -> [UInt8] {
        let d = DecodedFrame(original)!
        let ip = d.ip!
        let start = d.ethernet.headerLength
        let quote = Array(original[start..<start + ip.headerLength + 8])
        return icmp(from: routerMAC, to: d.ethernet.source, source: router, destination: ip.source, message: message, data: quote)
    }
}

extension Array where Element == UInt8 {
    /// The DHCP message in a UDP frame as bytes, for building server replies.
    static func dhcp(_ m: DHCPMessage) -> [UInt8] {
        Frames.build(m.encodedLength) { b throws(WireError) in try m.emit(into: b) }
    }
}
