// Fuzz target `nat-rewrite` (layer 2, Datapath), differential: the NAT rewrites addresses, ports,
// ICMP identifiers and the datagrams quoted in ICMP errors with RFC 1624 incremental checksum
// updates. Wire's parsers recompute every checksum in full: a packet whose IPv4 header and
// ICMP/UDP/TCP checksum verified before translation must verify after it, and a UDP checksum that
// was present must not turn into 0 ("no checksum"). NAT state carries across the packets of one input.
//
// Input: records (16-bit little-endian length + bytes). A record's first byte: bit 0 inbound
// (from the uplink) instead of outbound, bit 1 fix the checksums first (as wire-frame does),
// bits 2–3 advance virtual time 0 s, 1 s, 60 s or 10 min; the rest is a bare IPv4 packet.
import Basics
import Datapath
import Wire

enum NATTarget {
    static let external = IPv4Address(203, 0, 113, 7)
    static let start = Instant(nanoseconds: 1_000_000_000_000)

    /// Whether `packet`'s checksums verify, by full recomputation: the IPv4 header, and unless it is a
    /// fragment, the whole ICMP message or the UDP/TCP segment with its pseudo-header.
    struct Checks: Equatable {
        var header = false
        var transport: Bool?
        var udpChecksumPresent = false
    }

    static func checks(_ packet: UnsafeRawBufferPointer) -> Checks {
        var c = Checks()
        guard let ip = try? IPv4Header(parsing: packet) else { return c }
        c.header = true
        guard !ip.isFragment else { return c }
        let l4 = packet.slice(ip.headerLength..<Int(ip.totalLength))
        switch ip.protocol {
        case .icmp: c.transport = (try? ICMPv4Message(parsing: l4)) != nil
        case .tcp: c.transport = (try? TCPHeader(parsing: l4, source: ip.source, destination: ip.destination)) != nil
        case .udp:
            c.transport = (try? UDPHeader(parsing: l4, source: ip.source, destination: ip.destination)) != nil
            c.udpChecksumPresent = l4.count >= 8 && l4.u16(6) != 0
        default: break
        }
        return c
    }

    /// External 203.0.113.7, internal 10.0.0.0/8, a small table (so exhaustion is reachable), seeded ports.
    static func makeNAT() -> NAT {
        var configuration = NATConfiguration(externalAddress: external)
        configuration.internalNetworks = [IPv4Network("10.0.0.0/8")!]
        configuration.capacity = 64
        guard let nat = try? NAT(configuration, random: SeededRandom(seed: 19, component: "fuzz-nat")) else {
            fatalError("the fuzz NAT configuration is refused")
        }
        return nat
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        let nat = makeNAT()
        var input = FuzzInput(data)
        var now = start
        var count = 0
        while !input.isEmpty, count < 32 {
            count += 1
            var record = FuzzInput(input.record())
            let control = record.u8()
            now = now + [Duration.zero, .seconds(1), .seconds(60), .seconds(600)][Int(control >> 2) & 3]
            var packet = exactCopy(record.rest())
            packet.withUnsafeMutableBytes { p in
                if control & 2 != 0 { fixIPv4Checksums(p) }
                let before = checks(UnsafeRawBufferPointer(p))
                let verdict = control & 1 != 0 ? nat.translateInbound(p, now: now) : nat.translateOutbound(p, now: now)
                guard verdict == .translated || verdict == .hairpinned else { return }
                let after = checks(UnsafeRawBufferPointer(p))
                precondition(before.header && after.header, "a translated packet's IPv4 header checksum does not verify")
                if before.transport == true {
                    precondition(after.transport == true, "translation broke the transport checksum (\(verdict))")
                }
                if before.udpChecksumPresent {
                    precondition(after.udpChecksumPresent, "translation turned a UDP checksum into 0 (none)")
                }
            }
        }
        // Longer than every idle timeout (TCP established: 2 h 4 min, RFC 5382 REQ-5).
        _ = nat.expire(now: now + .seconds(3 * 3600))
        precondition(nat.sessionCount == 0 && nat.mappingCount == 0, "sessions or mappings outlive three hours idle")
    }

    /// The checksum fixing of `wire-frame`, for a bare IPv4 packet.
    static func fixIPv4Checksums(_ packet: UnsafeMutableRawBufferPointer) {
        var frame = [UInt8](repeating: 0, count: 14) + Array(packet)
        frame[12] = 0x08; frame[13] = 0x00
        frame.withUnsafeMutableBytes { WireFrameTarget.fixChecksums($0) }
        packet.copyBytes(from: frame[14...])
    }

    static func seeds() -> [[UInt8]] {
        let host = IPv4Address(10, 0, 0, 2), server = IPv4Address(198, 51, 100, 10)
        func udp(_ s: IPv4Address, _ sp: UInt16, _ d: IPv4Address, _ dp: UInt16) -> [UInt8] {
            let payload: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55]
            var bytes = [UInt8](repeating: 0, count: 20 + 8 + payload.count)
            bytes.withUnsafeMutableBytes { b in
                _ = payload.withUnsafeBytes { p in
                    try? IPv4Frame.emitUDP(into: b, ethernet: nil,
                                           ip: IPv4Header(source: s, destination: d, protocol: .udp, payloadLength: 0),
                                           udp: UDPHeader(sourcePort: sp, destinationPort: dp), payload: p)
                }
            }
            return bytes
        }
        func icmp(_ s: IPv4Address, _ d: IPv4Address, _ message: ICMPv4Message, _ data: [UInt8]) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: 28 + data.count)
            bytes.withUnsafeMutableBytes { b in
                _ = data.withUnsafeBytes { p in
                    try? IPv4Frame.emitICMP(into: b, ethernet: nil, ip: IPv4Header(source: s, destination: d, protocol: .icmp, payloadLength: 0),
                                            icmp: message, data: p)
                }
            }
            return bytes
        }
        let out = udp(host, 5000, server, 53)
        // The reply goes to the port this NAT (same configuration and seed) maps the first datagram to.
        let nat = makeNAT()
        var translated = out
        _ = translated.withUnsafeMutableBytes { nat.translateOutbound($0, now: start) }
        let mappedPort = UInt16(translated[20]) << 8 | UInt16(translated[21])
        let reply = udp(server, 53, external, mappedPort)
        let ping = icmp(host, server, ICMPv4Message(type: .echoRequest, code: 0, restOfHeader: 0x0042_0001), Array("ping".utf8))
        var translatedPing = ping
        _ = translatedPing.withUnsafeMutableBytes { nat.translateOutbound($0, now: start) }
        let mappedIdentifier = UInt32(translatedPing[24]) << 8 | UInt32(translatedPing[25])
        let pong = icmp(server, external, ICMPv4Message(type: .echoReply, code: 0, restOfHeader: mappedIdentifier << 16 | 1), Array("ping".utf8))
        // A port unreachable from a router on the path, quoting the datagram as it left the NAT.
        let unreachable = icmp(IPv4Address(192, 0, 2, 1), external,
                               ICMPv4Message(type: .destinationUnreachable, code: ICMPv4UnreachableCode.port), Array(translated.prefix(28)))
        return [
            records([[0] + out]),
            records([[0] + out, [1] + reply]),
            records([[0] + out, [0] + ping, [1] + pong]),
            records([[0] + out, [1] + unreachable]),
            records([[0] + out, [4] + out, [9] + reply, [12] + out]),
            records([[0] + out, [0] + udp(IPv4Address(10, 0, 0, 3), 6000, external, mappedPort)]),  // hairpin
        ]
    }
}
