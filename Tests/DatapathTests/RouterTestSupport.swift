// A two-subnet lab for router tests: frames in, frames out captured and parsed back with Wire.
import Basics
import Testing
import Wire
@testable import Datapath

/// Records everything the router sends and delivers.
struct CapturedOutput: RouterOutput {
    var sent: [(interface: Int, frame: [UInt8])] = []
    /// Bare IP packets sent on point-to-point interfaces, with the room the router left around them.
    var packets: [(interface: Int, packet: [UInt8], headroom: Int, tailroom: Int)] = []
    var delivered: [(datagram: LocalUDPDatagram, payload: [UInt8])] = []
    mutating func send(_ frame: UnsafeRawBufferPointer, on interface: Int) { sent.append((interface, Array(frame))) }
    mutating func send(packet: PointToPointPacket, on interface: Int) {
        packets.append((interface, Array(packet.bytes), packet.headroom, packet.tailroom))
    }
    mutating func deliver(_ datagram: LocalUDPDatagram, payload: UnsafeRawBufferPointer) {
        delivered.append((datagram, Array(payload)))
    }
    /// Returns and forgets what was sent.
    mutating func take() -> [(interface: Int, frame: [UInt8])] { defer { sent = [] }; return sent }
}

enum Lab {
    static let routerMAC0 = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let routerMAC1 = MACAddress(0x02, 0, 0, 0, 1, 0x01)
    static let routerIP0 = IPv4Address(10, 0, 0, 1)
    static let routerIP1 = IPv4Address(10, 1, 0, 1)
    static let macA = MACAddress(0x02, 0xAA, 0, 0, 0, 0x02)
    static let ipA = IPv4Address(10, 0, 0, 2)
    static let macB = MACAddress(0x02, 0xBB, 0, 0, 0, 0x02)
    static let ipB = IPv4Address(10, 1, 0, 2)
    static let t0 = Instant(nanoseconds: 1_000_000_000_000)

    static func configuration(mtu1: Int = 1500) -> RouterConfiguration {
        RouterConfiguration(interfaces: [
            RouterInterface(mac: routerMAC0, network: IPv4Network("10.0.0.1/24")!, mtu: 1500),
            RouterInterface(mac: routerMAC1, network: IPv4Network("10.1.0.1/24")!, mtu: mtu1),
        ])
    }

    static func router(_ configure: (inout RouterConfiguration) -> Void = { _ in }) throws -> Router {
        var c = configuration()
        configure(&c)
        return try Router(c)
    }

    /// An Ethernet frame carrying an ARP packet.
    static func arpFrame(_ packet: ARPPacket, to destination: MACAddress = .broadcast) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 42)
        bytes.withUnsafeMutableBytes { b in
            let h = try! EthernetHeader(destination: destination, source: packet.senderHardwareAddress, etherType: .arp).emit(into: b)
            _ = try! packet.emit(into: b.slice(from: h))
        }
        return bytes
    }

    /// An Ethernet/IPv4/UDP frame; payload bytes are `marker, marker+1, ...`.
    static func udpFrame(
        from mac: MACAddress = macA, to destinationMAC: MACAddress = routerMAC0, source: IPv4Address = ipA,
        destination: IPv4Address = ipB, ttl: UInt8 = 64, dontFragment: Bool = false, payloadLength: Int = 32,
        marker: UInt8 = 0, sourcePort: UInt16 = 5000, destinationPort: UInt16 = 6000, tweak: (inout IPv4Header) -> Void = { _ in }
    ) -> [UInt8] {
        let payload = (0..<payloadLength).map { UInt8(truncatingIfNeeded: Int(marker) + $0) }
        var ip = IPv4Header(source: source, destination: destination, protocol: .udp, payloadLength: 0, timeToLive: ttl,
                            identification: 77, dontFragment: dontFragment)
        tweak(&ip)
        var bytes = [UInt8](repeating: 0, count: 14 + 28 + payloadLength)
        bytes.withUnsafeMutableBytes { b in
            payload.withUnsafeBytes { p in
                _ = try! IPv4Frame.emitUDP(into: b, ethernet: EthernetHeader(destination: destinationMAC, source: mac, etherType: .ipv4),
                                           ip: ip, udp: UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort), payload: p)
            }
        }
        return bytes
    }

    /// An Ethernet/IPv4/ICMP frame.
    static func icmpFrame(
        _ message: ICMPv4Message, data: [UInt8] = Array(0..<16), from mac: MACAddress = macA, to destinationMAC: MACAddress = routerMAC0,
        source: IPv4Address = ipA, destination: IPv4Address = routerIP0, ttl: UInt8 = 64
    ) -> [UInt8] {
        let ip = IPv4Header(source: source, destination: destination, protocol: .icmp, payloadLength: 0, timeToLive: ttl)
        var bytes = [UInt8](repeating: 0, count: 14 + 28 + data.count)
        bytes.withUnsafeMutableBytes { b in
            data.withUnsafeBytes { d in
                _ = try! IPv4Frame.emitICMP(into: b, ethernet: EthernetHeader(destination: destinationMAC, source: mac, etherType: .ipv4),
                                            ip: ip, icmp: message, data: d)
            }
        }
        return bytes
    }
}

extension Router {
    @discardableResult
    func receive(_ frame: [UInt8], on interface: Int, now: Instant, output: inout CapturedOutput) -> RouterDisposition {
        frame.withUnsafeBytes { receive($0, on: interface, now: now, output: &output) }
    }
}

/// A sent frame taken apart with Wire's parsers (which verify every checksum).
struct SentIPv4 {
    var ethernet: EthernetHeader
    var ip: IPv4Header
    var payload: [UInt8]

    init(_ frame: [UInt8]) throws {
        let parsed = try frame.withUnsafeBytes { (b) throws in try IPv4Frame.parse(b) }
        ethernet = parsed.ethernet; ip = parsed.ip; payload = Array(frame[parsed.payloadRange])
    }

    func icmp() throws -> (message: ICMPv4Message, data: [UInt8]) {
        let message = try payload.withUnsafeBytes { (b) throws in try ICMPv4Message(parsing: b) }
        return (message, Array(payload[8...]))
    }

    func udp() throws -> (header: UDPHeader, data: [UInt8]) {
        let (s, d) = (ip.source, ip.destination)
        let header = try payload.withUnsafeBytes { (b) throws in try UDPHeader(parsing: b, source: s, destination: d) }
        return (header, Array(payload[header.payloadRange]))
    }

    /// The IPv4 header quoted in an ICMP error.
    func quotedHeader() throws -> IPv4Header {
        let data = try icmp().data
        return try data.withUnsafeBytes { (b) throws in try ICMPv4Message.quotedDatagram(in: b).header }
    }
}

func parseARP(_ frame: [UInt8]) throws -> (EthernetHeader, ARPPacket) {
    try frame.withUnsafeBytes { (b) throws in
        let e = try EthernetHeader(parsing: b)
        guard e.etherType == .arp else { throw WireError.unsupported("not ARP") }
        return (e, try ARPPacket(parsing: b.slice(from: e.headerLength)))
    }
}

/// Teaches the router that B is at macB (an ARP reply addressed to the router).
func learnB(_ router: Router, now: Instant, output: inout CapturedOutput) {
    let reply = ARPPacket(operation: .reply, senderHardwareAddress: Lab.macB, senderProtocolAddress: Lab.ipB,
                          targetHardwareAddress: Lab.routerMAC1, targetProtocolAddress: Lab.routerIP1)
    router.receive(Lab.arpFrame(reply, to: Lab.routerMAC1), on: 1, now: now, output: &output)
}
