// `sluice replay` beyond one port: a two-sided capture split into its client and server sides,
// MACs and networks rewritten, played through a router, its NAT and a WireGuard WAN; captured
// WireGuard datagrams into a WAN; top speed paced by the receivers' buffers; long idle gaps cut.
// The captures are built here with Wire's encoders (or recorded from a simulator run).
import Basics
import Capture
import Foundation
import Testing
import Wire
@testable import Lab

/// A client 192.168.1.10 talking to a server 203.0.113.5, as captured at the client's LAN.
enum TwoSided {
    static let clientMAC = MACAddress(2, 0, 0, 0, 1, 10)
    static let serverMAC = MACAddress(2, 0, 0, 0, 2, 5)
    static let client = IPv4Address(192, 168, 1, 10)
    static let server = IPv4Address(203, 0, 113, 5)

    static func udp(fromClient: Bool, sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1600)
        let n = buffer.withUnsafeMutableBytes { b in
            payload.withUnsafeBytes { p in
                try! IPv4Frame.emitUDP(into: b, ethernet: EthernetHeader(destination: fromClient ? serverMAC : clientMAC,
                                                                          source: fromClient ? clientMAC : serverMAC, etherType: .ipv4),
                                       ip: IPv4Header(source: fromClient ? client : server, destination: fromClient ? server : client,
                                                      protocol: .udp, payloadLength: 0),
                                       udp: UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort), payload: p)
            }
        }
        return Array(buffer[..<n])
    }

    static func tcp(fromClient: Bool, flags: TCPFlags, sequence: UInt32, ack: UInt32 = 0) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 200)
        let n = buffer.withUnsafeMutableBytes { b in
            try! IPv4Frame.emitTCP(into: b, ethernet: EthernetHeader(destination: fromClient ? serverMAC : clientMAC,
                                                                     source: fromClient ? clientMAC : serverMAC, etherType: .ipv4),
                                   ip: IPv4Header(source: fromClient ? client : server, destination: fromClient ? server : client,
                                                  protocol: .tcp, payloadLength: 0),
                                   tcp: TCPHeader(sourcePort: fromClient ? 40001 : 80, destinationPort: fromClient ? 80 : 40001,
                                                  sequenceNumber: sequence, acknowledgmentNumber: ack, flags: flags, window: 65535),
                                   payloadLength: 0)
        }
        return Array(buffer[..<n])
    }

    /// A TCP handshake over a 30 ms path (without its SYN, the SYN+ACK comes first: the
    /// server's), then five UDP queries from port 40000 to port 7, each answered 10 ms later,
    /// 100 ms apart. (The server's first frame comes after the client's has had time to bring a
    /// WireGuard tunnel up: when both ends initiate at once, each drops the other's response
    /// and nothing flows until the rekey timeout retries the handshake, 5 s later.)
    static func frames(withSYN: Bool = true) -> [CaptureRecord] {
        var out: [CaptureRecord] = withSYN ? [Frames.record(tcp(fromClient: true, flags: [.syn], sequence: 100), ms: 0)] : []
        out += [
            Frames.record(tcp(fromClient: false, flags: [.syn, .ack], sequence: 900, ack: 101), ms: 30),
            Frames.record(tcp(fromClient: true, flags: [.ack], sequence: 101, ack: 901), ms: 31),
        ]
        for k in 0..<5 {
            let query = [UInt8]("query \(k)".utf8)
            out.append(Frames.record(udp(fromClient: true, sourcePort: 40000, destinationPort: 7, payload: query), ms: UInt64(100 + 100 * k)))
            out.append(Frames.record(udp(fromClient: false, sourcePort: 7, destinationPort: 40000, payload: query), ms: UInt64(110 + 100 * k)))
        }
        return out
    }

    static func write(_ path: String, _ records: [CaptureRecord]) throws {
        let writer = try PcapWriter(path: path)
        for r in records { try r.bytes.withUnsafeBytes { try writer.write(frame: $0, at: r.time) } }
        try writer.close()
    }
}

/// Frames in `path` that `filter` matches (libpcap's BPF, as the expectations use).
func count(_ path: String, _ filter: String) throws -> Int {
    let bpf = try BPFFilter(filter)
    return try PcapReader(path: path).readAll().filter { bpf.matches($0) }.count
}

/// True when the IPv4 header checksum and the TCP/UDP checksum of `frame` verify.
func checksumsVerify(_ frame: [UInt8]) -> Bool {
    frame.withUnsafeBytes { b in
        guard let parsed = try? IPv4Frame.parse(b) else { return false }
        let segment = b.slice(parsed.payloadRange)
        switch parsed.ip.protocol {
        case .udp: return (try? UDPHeader(parsing: segment, source: parsed.ip.source, destination: parsed.ip.destination)) != nil
        case .tcp: return (try? TCPHeader(parsing: segment, source: parsed.ip.source, destination: parsed.ip.destination)) != nil
        default: return true
        }
    }
}

@Test func autoSplitFindsTheOpenerOfEachConversation() {
    let frames = TwoSided.frames(withSYN: false) + [Frames.record(Frames.dhcp(.offer, xid: 1, yiaddr: IPv4Address(10, 0, 0, 101)), ms: 700),
                                      Frames.record(Frames.dhcp(.request, xid: 1), ms: 701)]
    let sides = ReplaySplit.auto.sides(of: frames)
    // SYN+ACK is the server's though it came first; each query the client's, each answer the
    // server's; a DHCP offer (port 67) the server's, a request (port 68) the client's.
    var expected: [ReplaySide?] = [.server, .client]
    for _ in 0..<5 { expected += [.client, .server] }
    expected += [.server, .client]
    #expect(sides == expected)
    let byCIDR = ReplaySplit.cidr([IPv4Network("192.168.0.0/16")!]).sides(of: TwoSided.frames(withSYN: false))
    #expect(byCIDR == sides.prefix(12).map { $0 })
    let byMAC = ReplaySplit.mac([TwoSided.serverMAC]).sides(of: TwoSided.frames(withSYN: false))
    #expect(byMAC == sides.prefix(12).map { $0 == .client ? .server : .client })
}

@Test func mapMovesAddressesAndKeepsChecksumsRight() throws {
    var rewrite = ReplayRewrite()
    rewrite.maps = [try ReplayAddressMap(parsing: "server:192.168.1.10/32=10.200.0.1/32"),
                    try ReplayAddressMap(parsing: "192.168.1.0/24=10.1.0.0/24"),
                    try ReplayAddressMap(parsing: "203.0.113.0/24=10.2.0.0/24")]
    rewrite.destinationMAC = MACAddress(2, 0x5e, 10, 1, 0, 1)
    rewrite.split = .auto
    rewrite.side = .server
    let (frames, kept, tally) = rewrite.apply(to: TwoSided.frames())
    #expect(kept == [1, 4, 6, 8, 10, 12])
    #expect(tally == ReplayRewrite.Tally(kept: 6, otherSide: 7, macRewritten: 6, mapped: 6))
    for f in frames {
        let parsed = try f.bytes.withUnsafeBytes { try IPv4Frame.parse($0) }
        #expect(parsed.ip.source == IPv4Address(10, 2, 0, 5) && parsed.ip.destination == IPv4Address(10, 200, 0, 1))
        #expect(parsed.ethernet.destination == MACAddress(2, 0x5e, 10, 1, 0, 1))
        #expect(checksumsVerify(f.bytes))
    }
    // A checksum that was wrong stays wrong (the map does not hide a broken frame).
    var broken = TwoSided.frames()[3]
    broken.bytes[broken.bytes.count - 1] ^= 0xFF
    rewrite.split = nil
    #expect(!checksumsVerify(rewrite.apply(to: [broken]).frames[0].bytes))
}

@Test func replayOptionsAreCheckedWithAFix() throws {
    let s = try Scenario.parse(natScenario, file: temporaryDirectory() + "/s.yml")
    func error(_ r: ReplayRequest) -> String? {
        do { _ = try r.actions(for: s); return nil } catch { return error.description }
    }
    var r = ReplayRequest(pcap: "x.pcap", into: ["brA"])
    r.split = "bogus"
    #expect(error(r)?.contains("unknown split") == true)
    r.split = "cidr:10.0.0.0/33"
    #expect(error(r)?.contains("is not an IPv4 network") == true)
    r.split = "auto"
    #expect(error(r)?.contains("say which side goes there") == true)
    r.into = ["client=brA", "client=brB"]
    #expect(error(r)?.contains("given twice") == true)
    r.into = ["client=brA", "server=nowhere"]
    #expect(error(r)?.contains("no node 'nowhere'") == true)
    r.into = ["client=brA", "server=srvB.wan"]
    #expect(error(r)?.contains("is a host") == true)
    r.into = ["client=brA", "server=brB"]
    r.maps = ["10.0.0.0/8=10.1.0.0/16"]
    #expect(error(r)?.contains("differ") == true)
    r.maps = []
    r.maxGap = "forever"
    #expect(error(r)?.contains("is not a duration") == true)
    r.maxGap = "2s"; r.keepGaps = true
    #expect(error(r)?.contains("both given") == true)
    r.keepGaps = false; r.maxGap = "2s"; r.at = "soon"
    #expect(error(r)?.contains("--at soon is not a duration") == true)
    r.at = nil; r.loop = 0
    #expect(error(r)?.contains("--loop 0 is out of range") == true)
    r.loop = 1; r.speed = 1e-9
    #expect(error(r)?.contains("out of range") == true)
    r.speed = nil
    let actions = try r.actions(for: s)
    #expect(actions.map(\.name) == ["replay-client", "replay-server"])
    #expect(actions[1].action.into == .bridge(BridgeSegment(bridge: "brB", segment: "lan")) && actions[1].action.maxGap == .seconds(2))
    var wan = ReplayRequest(pcap: "x.pcap", into: ["brB.wan"])
    wan.rewriteMAC = true
    #expect(try wan.actions(for: s)[0].action.into == .wan("brB"))
}

/// fixtures/replay/nat-wireguard.yml: bridge A masquerades (NAT) behind its WireGuard tunnel
/// address 10.200.0.1; B routes to its server at 10.2.0.5. Hosts at the replayed addresses
/// answer ARP so the routers can deliver.
var natScenario: String { try! String(contentsOfFile: repositoryRoot + "/fixtures/replay/nat-wireguard.yml", encoding: .utf8) }

/// The two-sided capture in a temporary directory, natScenario, and the request that splits it
/// (auto), rewrites MACs and maps both sides' networks onto the topology's.
func natSplitRequest(_ test: String = #function) throws -> (dir: String, base: Scenario, request: ReplayRequest) {
    let dir = temporaryDirectory(test)
    try TwoSided.write(dir + "/two-sided.pcap", TwoSided.frames())
    let base = try Scenario.parse(natScenario, file: dir + "/s.yml")
    var request = ReplayRequest(pcap: dir + "/two-sided.pcap", into: ["client=brA", "server=brB"])
    request.split = "auto"
    request.rewriteMAC = true
    request.maps = ["server:192.168.1.10/32=10.200.0.1/32", "192.168.1.0/24=10.1.0.0/24", "203.0.113.0/24=10.2.0.0/24"]
    return (dir, base, request)
}

@Test func splitCaptureIsRoutedNATedAndEncrypted() throws {
    let (dir, base, request) = try natSplitRequest()
    let (s, _) = try request.scenario(base, actions: try request.actions(for: base))
    let run = SimBackend.run(s, seed: s.seed, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    let lanA = dir + "/captures/lanA.pcap", lanB = dir + "/captures/lanB.pcap", internet = dir + "/captures/internet.pcap"
    // The far side sees the client's queries masqueraded behind A's tunnel address, port kept.
    #expect(try count(lanB, "udp and src host 10.200.0.1 and src port 40000 and dst host 10.2.0.5 and dst port 7") == 5)
    #expect(try count(lanB, "tcp[tcpflags] & tcp-rst = 0 and src host 10.200.0.1 and src port 40001 and dst host 10.2.0.5") == 2)
    #expect(try count(lanB, "net 10.1.0.0/24 or net 192.168.1.0/24 or net 203.0.113.0/24") == 0)
    // The server's answers, played into B's LAN to the masquerading address, come back through
    // the tunnel and A's NAT to the client's (mapped) address and port.
    #expect(try count(lanA, "udp and src host 10.2.0.5 and src port 7 and dst host 10.1.0.10 and dst port 40000") == 5)
    // The internet carries only WireGuard.
    #expect(try count(internet, "not (udp port 51820)") == 0)
    let outcomes = try #require(run.counters.first { $0.title == "replay outcomes" })
    #expect(try count(internet, "udp and udp[8] = 4") >= 13)
    func row(_ name: String) -> Int { outcomes.rows.first { $0.name == name }?.value ?? 0 }
    #expect(row("frames played") == 13)
    #expect(row("brA nat outbound") >= 7 && row("brA nat inbound") >= 6, "\(outcomes.rows)")
    #expect(row("brA wireguard encrypted") >= 6 && row("brB wireguard encrypted") >= 6, "\(outcomes.rows)")
    #expect(row("brA router forwarded") >= 6, "\(outcomes.rows)")
    // vmA got the answers (and the real srvB's RSTs); srvB the queries (and the replayed ACK).
    #expect(row("brA delivered to guests") >= 5 && row("brB delivered to guests") >= 7, "\(outcomes.rows)")
    let log = run.log.joined(separator: "\n")
    #expect(log.contains("replay-client: split auto: 7 client frames kept, 6 of the other side left out"), "\(log)")
}

@Test func cutAndCorruptedFramesAreSplitAndRewrittenWithoutTrapping() throws {
    // Every frame of the two-sided capture (and a VLAN-tagged and an ARP one) cut at every
    // length, and with random bytes changed: split three ways, rewritten, played into a WAN.
    var originals = TwoSided.frames().map(\.bytes) + [Frames.arp(target: IPv4Address(192, 168, 1, 20))]
    var tagged = originals[3]
    tagged.insert(contentsOf: [0x81, 0x00, 0x00, 0x07], at: 12)
    originals.append(tagged)
    var random = SeededRandom(seed: 77)
    var hostile: [CaptureRecord] = []
    for bytes in originals {
        for n in 0...bytes.count { hostile.append(CaptureRecord(time: .zero, originalLength: bytes.count, bytes: Array(bytes[..<n]))) }
        for _ in 0..<50 {
            var b = bytes
            for _ in 0..<3 { b[Int(random.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: random.next()) }
            hostile.append(CaptureRecord(time: .zero, originalLength: b.count, bytes: b))
        }
    }
    var rewrite = ReplayRewrite()
    rewrite.maps = [try ReplayAddressMap(parsing: "192.0.0.0/8=10.0.0.0/8"), try ReplayAddressMap(parsing: "server:203.0.0.0/8=11.0.0.0/8")]
    rewrite.destinationMAC = MACAddress(2, 0, 0, 0, 0, 1)
    for split in [ReplaySplit.auto, .cidr([IPv4Network("192.168.1.0/24")!]), .mac([TwoSided.clientMAC])] {
        rewrite.split = split
        for side in ReplaySide.allCases {
            rewrite.side = side
            let (frames, kept, tally) = rewrite.apply(to: hostile)
            #expect(tally.kept + tally.otherSide == hostile.count && tally.mapped > 0)
            // Rewriting changes bytes in place, never a frame's length.
            #expect(frames.indices.allSatisfy { frames[$0].bytes.count == hostile[kept[$0]].bytes.count })
        }
    }
    let dir = temporaryDirectory()
    try TwoSided.write(dir + "/hostile.pcap", hostile)
    let base = try Scenario.parse(natScenario, file: dir + "/s.yml")
    var request = ReplayRequest(pcap: dir + "/hostile.pcap", into: ["brB.wan"])
    request.topspeed = true
    let (s, _) = try request.scenario(base, actions: try request.actions(for: base))
    let run = SimBackend.run(s, seed: 2, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    let outcomes = try #require(run.counters.first { $0.title == "replay outcomes" })
    #expect(outcomes.rows.first?.value == hostile.count)
    #expect((outcomes.rows.first { $0.name.hasPrefix("replay drop not-a-udp-datagram") }?.value ?? 0) > 0)
}

@Test func aSplitReplayIsReproducibleFromItsSeed() throws {
    func captures(_ tag: String) throws -> [Data] {
        let dir = temporaryDirectory("seeded\(tag)")
        try TwoSided.write(dir + "/two-sided.pcap", TwoSided.frames())
        let base = try Scenario.parse(natScenario, file: dir + "/s.yml")
        var request = ReplayRequest(pcap: dir + "/two-sided.pcap", into: ["client=brA", "server=brB"])
        request.split = "auto"
        request.rewriteMAC = true
        request.maps = ["server:192.168.1.10/32=10.200.0.1/32", "192.168.1.0/24=10.1.0.0/24", "203.0.113.0/24=10.2.0.0/24"]
        let (s, _) = try request.scenario(base, actions: try request.actions(for: base))
        _ = SimBackend.run(s, seed: 42, captureDirectory: dir + "/captures")
        return try ["internet", "lanA", "lanB"].map { try Data(contentsOf: URL(fileURLWithPath: dir + "/captures/\($0).pcap")) }
    }
    let a = try captures("A"), b = try captures("B")
    #expect(a == b)
    #expect(a.allSatisfy { $0.count > 24 })  // more than a pcap header each
}

/// The same split, maps and MAC rewrite written as a scenario's timeline entries: the entries the
/// file describes are the ones `sluice replay` builds from its options, and mistakes are located.
@Test func aScenarioFileStatesTheSplitReplayAsTheCommandDoes() throws {
    let (dir, base, request) = try natSplitRequest()
    let fromCommand = try request.actions(for: base).map(\.action)

    let maps = "[\"server:192.168.1.10/32=10.200.0.1/32\", 192.168.1.0/24=10.1.0.0/24, 203.0.113.0/24=10.2.0.0/24]"
    let entries = """
        timeline:
          - { at: 0s, do: replay, pcap: two-sided.pcap, into: brA, split: auto, side: client, rewrite-mac: true, max-gap: 1s, map: \(maps) }
          - { at: 0s, do: replay, pcap: two-sided.pcap, into: brB, split: auto, side: server, rewrite-mac: true, max-gap: 1s, map: \(maps) }

        """
    let s = try Scenario.parse(natScenario + entries, file: dir + "/s.yml")
    let fromFile = s.timeline.compactMap { e -> ReplayAction? in if case .replay(let r) = e.action { r } else { nil } }
    #expect(fromFile.map { var r = $0; r.pcap = r.path; return r } == fromCommand)

    // Into a WAN, from the file; and the mistakes, each at its place with a fix.
    let wan = try Scenario.parse(natScenario + "timeline:\n  - { at: 0s, do: replay, pcap: two-sided.pcap, into: brB.wan }\n", file: dir + "/s.yml")
    #expect(wan.timeline.map(\.action).contains { if case .replay(let r) = $0 { r.into == .wan("brB") } else { false } })
    func error(_ entry: String) -> String {
        do { _ = try Scenario.parse(natScenario + "timeline:\n  - { at: 0s, do: replay, pcap: two-sided.pcap, \(entry) }\n", file: dir + "/s.yml") }
        catch { return error.description }
        return "no error"
    }
    #expect(error("into: brA, split: auto").contains("split: a split capture needs side:"))
    #expect(error("into: brA, side: client").contains("side: only a split capture has sides"))
    #expect(error("into: brA, split: sideways, side: client").contains("s.yml:41:67: error: timeline[0].split: sideways"))
    #expect(error("into: brA, split: auto, side: middle").contains("not a side"))
    #expect(error("into: brA, map: 10.0.0.0/8=10.1.0.0/16").contains("timeline[0].map: 10.0.0.0/8=10.1.0.0/16: /8 and /16 differ"))
    #expect(error("into: brA, max-gap: 1e12s").contains("max-gap"))
}
