// WAN links in scenarios: two bridges' WANs joined by a simulated internet, captured on the
// wire. WireGuard hides the guests' traffic; a plain UDP WAN and a bridge-to-bridge LAN link
// show it (so the "absent" checks can fail); a TAP WAN carries ARP and Ethernet frames.
import Basics
import Capture
import Foundation
import Testing
import Wire
import YAMLSchema
@testable import Lab

/// Two bridges with WANs of `wanA`/`wanB` (inline YAML mappings), a client behind A and a server
/// behind B, the WANs linked as `internet`, captured there and on B's LAN.
func wanScenario(_ wanA: String, _ wanB: String, natA: Bool = true, link: String = "delay: 10ms",
                 expect: String = "") -> String {
    """
    name: wan-test
    seed: 3
    duration: 10s
    nodes:
      brA: { kind: bridge, config: { router: { ipv4: 10.1.0.1/24, nat: \(natA) }, wan: \(wanA) } }
      brB: { kind: bridge, config: { router: { ipv4: 10.2.0.1/24, nat: false }, wan: \(wanB) } }
      vmA: { kind: host, attach: brA, address: 10.1.0.10/24, gateway: 10.1.0.1 }
      srvB: { kind: host, attach: brB, address: 10.2.0.10/24, gateway: 10.2.0.1 }
    links:
      - { between: [brA.wan, brB.wan], name: internet, \(link) }
    captures:
      internet: { at: internet }
      lanB: { at: brB }
    timeline:
      - { at: 1s, do: ping, node: vmA, to: srvB, count: 5, interval: 200ms, as: p }
    expect:
      - { action: p, received: 5 }
    \(expect)
    """
}

let keyA = "yNL8g98mk84LtmNtrd52aHkJhmMC0VnEi6f7hwDWsW0=", publicA = "p9jnZ7h+0RxFfMLF5y0uKNOft9iuJfsmBAsTeIiRmCM="
let keyB = "UNkx5+g/3o6kJD1dJskQA+rT5VfZ+WRjHDUYK3Tu7EY=", publicB = "XoYx+wkc0qhuO9ZXV8oX75Q7ygLxWeU8DBDhcupn7gU="
let wireGuardA = "{ type: wireguard, key: \"\(keyA)\", peer: \"\(publicB)\", endpoint: 192.0.2.2:51820, listen-port: 51820, ipv4: 10.200.0.1/24 }"
let wireGuardB = "{ type: wireguard, key: \"\(keyB)\", peer: \"\(publicA)\", endpoint: 192.0.2.1:51820, listen-port: 51820, ipv4: 10.200.0.2/24 }"

/// The frames of capture `name` in a finished run.
func frames(_ run: LabRun, _ name: String) throws -> [CaptureRecord] {
    let file = try #require(run.captures.first { $0.name == name })
    return try PcapReader(path: file.path).readAll()
}

func passes(_ run: LabRun, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(run.status == .completed, "\(run.status)", sourceLocation: sourceLocation)
    for o in run.outcomes { #expect(o.passed, "\(o.name): \(o.message)", sourceLocation: sourceLocation) }
}

@Test func wanLinksAndLinkCapturesParse() throws {
    let s = try Scenario.parse(wanScenario(wireGuardA, wireGuardB), file: "s.yml")
    #expect(s.links.count == 1 && s.links[0].a == .wan("brA") && s.links[0].b == .wan("brB"))
    #expect(s.links[0].forward.delay == .milliseconds(10))
    #expect(s.captures[0].link?.index == 0 && s.captures[0].link?.name == "internet" && s.captures[0].placeDescription == "link internet")
    #expect(s.captures[1].link == nil && s.captures[1].at == BridgeSegment(bridge: "brB", segment: "lan"))
    #expect(s.features.contains { $0.feature == .wanLink } && s.features.contains { $0.feature == .linkCapture })
    // The netns backend cannot cable bridges together: said at load time, where it is written.
    let netns = wanScenario(wireGuardA, wireGuardB).replacingOccurrences(of: "duration: 10s", with: "duration: 10s\nbackends: [sim, netns]")
    #expect(parseError(netns)?.message.contains("the netns backend cannot honour") == true)
}

@Test func wireGuardWANScenarioHidesTheGuestsTraffic() throws {
    let (run, _) = try runScenario(wanScenario(wireGuardA, wireGuardB, expect: """
      - { capture: internet, filter: "icmp", absent: true }
      - { capture: internet, filter: "udp and udp[8] = 4", count: { ge: 10 } }
      - { capture: lanB, filter: "icmp and src host 10.200.0.1", count: { ge: 5 } }
    """))
    passes(run)
    let wire = try frames(run, "internet")
    #expect(wire.count >= 12)
    for f in wire {
        // Ethernet, IPv4 between the underlay addresses, UDP 51820 both ends, WireGuard inside.
        try f.bytes.withUnsafeBytes { b in
            let p = try IPv4Frame.parse(b)
            #expect(p.ip.protocol == .udp && [IPv4Address(192, 0, 2, 1), IPv4Address(192, 0, 2, 2)].contains(p.ip.source))
            let udp = try UDPHeader(parsing: b.slice(p.payloadRange), source: p.ip.source, destination: p.ip.destination)
            #expect(udp.sourcePort == 51820 && udp.destinationPort == 51820)
            #expect([1, 2, 4].contains(b[p.payloadRange.lowerBound + 8]))
        }
    }
    #expect(run.counters.contains { $0.title == "brA wan (wireguard)" })
}

@Test func plainUDPWANShowsTheGuestsTrafficOnTheWire() throws {
    // The same filters that find nothing under WireGuard find the guests' packets here.
    let udpA = "{ type: udp, endpoint: 192.0.2.2:9000, listen-port: 9000, ipv4: 10.201.0.1/24 }"
    let udpB = "{ type: udp, endpoint: 192.0.2.1:9000, listen-port: 9000, ipv4: 10.201.0.2/24 }"
    let (run, _) = try runScenario(wanScenario(udpA, udpB, expect: """
      - { name: cleartext, capture: internet, filter: "udp and udp[8] = 0x45 and udp[17] = 1", count: 10 }
      - { name: wireguard absent, capture: internet, filter: "udp and udp[8] = 4", absent: true }
    """))
    passes(run)
}

@Test func absentICMPFailsOnALinkThatCarriesIt() throws {
    // A bridge-to-bridge LAN link, captured on its wire: ICMP crosses in the clear, so the
    // expectation that held for the WireGuard WAN fails here, naming the frames.
    let text = """
    name: lan-link
    seed: 3
    duration: 5s
    nodes:
      brA: { kind: bridge }
      brB: { kind: bridge }
      vmA: { kind: host, attach: brA, address: 10.9.0.1/24 }
      vmB: { kind: host, attach: brB, address: 10.9.0.2/24 }
    links:
      - { between: [brA, brB], name: cable, delay: 1ms }
    captures:
      cable: { at: cable }
    timeline:
      - { at: 1s, do: ping, node: vmA, to: vmB, count: 3, interval: 100ms, as: p }
    expect:
      - { action: p, received: 3 }
      - { name: no icmp, capture: cable, filter: "icmp", absent: true }
    """
    let (run, _) = try runScenario(text)
    let failed = run.outcomes.filter { !$0.passed }
    #expect(failed.map(\.name) == ["no icmp"])
    #expect(failed.first?.message.contains("6 'icmp' present in 'cable'") == true, "\(failed.first?.message ?? "")")
    #expect(try frames(run, "cable").count >= 6)
}

@Test func tapWANScenarioCarriesARPAndFrames() throws {
    let tapA = "{ type: tap, device: wa, ipv4: 192.0.2.1/24, gateway: 192.0.2.2 }"
    let tapB = "{ type: tap, device: wb, ipv4: 192.0.2.2/24, gateway: 192.0.2.1 }"
    let (run, _) = try runScenario(wanScenario(tapA, tapB, expect: """
      - { capture: internet, sequence: ["arp and arp[6:2] = 1 and arp dst host 192.0.2.2", "arp and arp[6:2] = 2", "icmp"] }
      - { capture: internet, filter: "icmp[icmptype] = icmp-echo and src host 192.0.2.1", count: 5 }
    """))
    passes(run)
}

@Test func wanScenarioUnderLossIsReproducibleAndSeedDependent() throws {
    let text = wanScenario(wireGuardA, wireGuardB, link: "delay: 10ms, jitter: 3ms, loss: 20%")
        .replacingOccurrences(of: "  - { action: p, received: 5 }\n", with: "")
    func capture(_ seed: UInt64) throws -> [[UInt8]] {
        let (run, _) = try runScenario(text, seed: seed, name: "loss\(seed)")
        return try frames(run, "internet").map { Array($0.bytes) }
    }
    let a = try capture(5), b = try capture(5), c = try capture(6)
    #expect(!a.isEmpty && a == b)
    #expect(a != c)
}

@Test(arguments: [
    (wanScenario(wireGuardA, wireGuardB).replacingOccurrences(of: "between: [brA.wan, brB.wan]", with: "between: [brA.wan, brB]"),
     10, "brA.wan is a WAN uplink; its link goes to another bridge's WAN"),
    (wanScenario(wireGuardA, "{ type: udp, endpoint: 192.0.2.1:51820, ipv4: 10.201.0.2/24 }"),
     10, "brA.wan is wireguard but brB.wan is udp"),
    (wanScenario(wireGuardA, wireGuardB.replacingOccurrences(of: "listen-port: 51820", with: "listen-port: 51821")),
     10, "brA.wan sends to port 51820 but brB.wan listens on 51821"),
    (wanScenario(wireGuardA, wireGuardB).replacingOccurrences(of: "links:\n  - { between: [brA.wan, brB.wan], name: internet, delay: 10ms }\n", with: "")
        .replacingOccurrences(of: "  internet: { at: internet }\n", with: ""),
     5, "brA has a WAN but nothing links it"),
    (wanScenario(wireGuardA.replacingOccurrences(of: "192.0.2.2:51820", with: "peer.example:51820"), wireGuardB),
     5, "is a name; the simulated internet has no DNS"),
    (wanScenario(wireGuardA, wireGuardB).replacingOccurrences(of: "lanB: { at: brB }", with: "lanB: { at: cable }")
        .replacingOccurrences(of: "links:\n", with: "links:\n  - { between: [vmA, brA], name: cable }\n"),
     14, "link 'cable' is a host's cable"),
])
func badWANScenariosAreLocated(text: String, line: Int, message: String) {
    guard let e = parseError(text) else { Issue.record("parsed: \(text)"); return }
    #expect(e.line == line, "\(e)")
    #expect(e.message.contains(message), "\(e)")
    #expect(e.fix != nil, "\(e)")
}

@Test func theWireGuardScenarioFilePasses() throws {
    let scenario = try Scenario.load(path: repositoryRoot + "/scenarios/wan-wireguard.yml")
    let dir = temporaryDirectory()
    let run = SimBackend.run(scenario, seed: scenario.seed, captureDirectory: dir + "/captures")
    passes(run)
    #expect(run.outcomes.count == 12)
}

/// No system randomness or wall clock on the WAN's path: the WireGuard scenario run twice with its
/// seed writes the same bytes into every capture (the internet's encrypted datagrams included),
/// and another seed (other keys, indices, jitter and loss) does not.
@Test func theWireGuardScenarioIsByteForByteReproducibleFromItsSeed() throws {
    let scenario = try Scenario.load(path: repositoryRoot + "/scenarios/wan-wireguard.yml")
    func captures(_ seed: UInt64, _ tag: String) throws -> [String: [UInt8]] {
        let dir = temporaryDirectory("wanReproducible\(tag)")
        let run = SimBackend.run(scenario, seed: seed, captureDirectory: dir + "/captures")
        #expect(run.status == .completed, "\(run.status)")
        var files: [String: [UInt8]] = [:]
        for c in run.captures { files[c.name] = Array(try #require(FileManager.default.contents(atPath: c.path))) }
        return files
    }
    let first = try captures(scenario.seed, "first"), second = try captures(scenario.seed, "second")
    #expect(first.keys.sorted() == ["internet", "lanA", "lanB"])
    for (name, bytes) in first {
        #expect(bytes.count > 1000, "\(name): \(bytes.count) bytes")
        #expect(second[name] == bytes, "capture \(name) differs between two runs with seed \(scenario.seed)")
    }
    let other = try captures(scenario.seed &+ 1, "other")
    #expect(other["internet"] != first["internet"], "another seed gave the same internet capture")
}

@Test func keepaliveWANHandshakesAtTheStartOfTheRun() throws {
    let a = wireGuardA.replacingOccurrences(of: "ipv4: 10.200.0.1/24 }", with: "ipv4: 10.200.0.1/24, keepalive: 2s }")
    let text = wanScenario(a, wireGuardB, expect: """
      - { capture: internet, filter: "udp and udp[8] = 1", until: 100ms, count: 1 }
      - { capture: internet, filter: "udp and udp[8] = 4 and len = 74 and src host 192.0.2.1", count: { ge: 3 } }
    """)
    let (run, _) = try runScenario(text)
    passes(run)
    // Without keepalive nothing crosses before the first ping at 1s.
    let (quiet, _) = try runScenario(wanScenario(wireGuardA, wireGuardB), name: "quiet")
    #expect(try frames(quiet, "internet").allSatisfy { $0.time >= .zero + .seconds(1) })
}
