// Packets for NAT tests: bare IPv4 datagrams built with Wire's emitters and taken apart with
// Wire's parsers, which verify every checksum.
import Basics
import Testing
import Wire
@testable import Datapath

enum NATLab {
    static let external = IPv4Address(203, 0, 113, 7)
    static let hostA = IPv4Address(10, 0, 0, 2)
    static let hostB = IPv4Address(10, 0, 0, 3)
    static let server = IPv4Address(198, 51, 100, 10)
    static let server2 = IPv4Address(198, 51, 100, 20)
    /// A router somewhere on the path, which sends ICMP errors.
    static let pathRouter = IPv4Address(192, 0, 2, 1)
    static let t0 = Instant(nanoseconds: 1_000_000_000_000)

    static func nat(random: SeededRandom? = nil, _ configure: (inout NATConfiguration) -> Void = { _ in }) throws -> NAT {
        var c = NATConfiguration(externalAddress: external)
        configure(&c)
        return try NAT(c, random: random)
    }

    /// IPv4 + UDP + payload. `checksum: false` sends the zero "no checksum" of RFC 768.
    static func udp(_ source: IPv4Address, _ sourcePort: UInt16, _ destination: IPv4Address, _ destinationPort: UInt16,
                    payload: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55], checksum: Bool = true,
                    tweak: (inout IPv4Header) -> Void = { _ in }) -> [UInt8] {
        var ip = IPv4Header(source: source, destination: destination, protocol: .udp,
                            payloadLength: UDPConstants.headerLength + payload.count, identification: 0x1234)
        tweak(&ip)
        var bytes = [UInt8](repeating: 0, count: 20 + 8 + payload.count)
        bytes.withUnsafeMutableBytes { b in
            let h = try! ip.emit(into: b)
            _ = payload.withUnsafeBytes { p in
                try! UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort)
                    .emit(into: b.slice(from: h), payload: p, source: source, destination: destination)
            }
        }
        if !checksum { bytes[26] = 0; bytes[27] = 0 }
        return bytes
    }

    /// IPv4 + TCP (no options) + payload.
    static func tcp(_ source: IPv4Address, _ sourcePort: UInt16, _ destination: IPv4Address, _ destinationPort: UInt16,
                    flags: TCPFlags, sequence: UInt32 = 1000, acknowledgment: UInt32 = 0,
                    payload: [UInt8] = []) -> [UInt8] {
        let ip = IPv4Header(source: source, destination: destination, protocol: .tcp,
                            payloadLength: TCPConstants.minimumHeaderLength + payload.count, identification: 0x4321)
        var bytes = [UInt8](repeating: 0, count: 20 + 20 + payload.count)
        bytes.withUnsafeMutableBytes { b in
            let h = try! ip.emit(into: b)
            _ = payload.withUnsafeBytes { p in
                try! TCPHeader(sourcePort: sourcePort, destinationPort: destinationPort, sequenceNumber: sequence,
                               acknowledgmentNumber: acknowledgment, flags: flags, window: 65535)
                    .emit(into: b.slice(from: h), payload: p, source: source, destination: destination)
            }
        }
        return bytes
    }

    /// IPv4 + ICMP message + data.
    static func icmp(_ source: IPv4Address, _ destination: IPv4Address, _ message: ICMPv4Message,
                     data: [UInt8] = Array(0..<24)) -> [UInt8] {
        let ip = IPv4Header(source: source, destination: destination, protocol: .icmp,
                            payloadLength: ICMPv4Constants.headerLength + data.count)
        var bytes = [UInt8](repeating: 0, count: 20 + 8 + data.count)
        bytes.withUnsafeMutableBytes { b in
            let h = try! ip.emit(into: b)
            _ = data.withUnsafeBytes { d in try! message.emit(into: b.slice(from: h), data: d) }
        }
        return bytes
    }

    /// An ICMP error from `source` to `destination` quoting the first `quoteLength` bytes of `packet` (all by default).
    static func icmpError(_ source: IPv4Address, _ destination: IPv4Address, _ message: ICMPv4Message,
                          quoting packet: [UInt8], quoteLength: Int? = nil) -> [UInt8] {
        icmp(source, destination, message, data: Array(packet.prefix(quoteLength ?? packet.count)))
    }
}

extension NAT {
    /// `translateOutbound` on an array.
    func outbound(_ packet: inout [UInt8], at now: Instant = NATLab.t0) -> NATVerdict {
        packet.withUnsafeMutableBytes { translateOutbound($0, now: now) }
    }
    /// `translateInbound` on an array.
    func inbound(_ packet: inout [UInt8], at now: Instant = NATLab.t0) -> NATVerdict {
        packet.withUnsafeMutableBytes { translateInbound($0, now: now) }
    }
}

/// A datagram taken apart with Wire's parsers; throws on any bad checksum.
struct NATPacket {
    var ip: IPv4Header
    var payload: [UInt8]

    init(_ bytes: [UInt8]) throws {
        ip = try bytes.withUnsafeBytes { (b) throws in try IPv4Header(parsing: b) }
        payload = Array(bytes[ip.payloadRange])
    }

    func udp() throws -> (header: UDPHeader, data: [UInt8]) {
        let (s, d) = (ip.source, ip.destination)
        let header = try payload.withUnsafeBytes { (b) throws in try UDPHeader(parsing: b, source: s, destination: d) }
        return (header, Array(payload[header.payloadRange]))
    }

    func tcp() throws -> TCPHeader {
        let (s, d) = (ip.source, ip.destination)
        return try payload.withUnsafeBytes { (b) throws in try TCPHeader(parsing: b, source: s, destination: d) }
    }

    func icmp() throws -> (message: ICMPv4Message, data: [UInt8]) {
        let message = try payload.withUnsafeBytes { (b) throws in try ICMPv4Message(parsing: b) }
        return (message, Array(payload[8...]))
    }
}
