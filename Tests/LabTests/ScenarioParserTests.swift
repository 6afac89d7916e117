import Basics
import Capture
import Engine
import Foundation
import Testing
import Wire
import YAMLSchema
@testable import Lab

/// A fresh directory for files a test writes.
func temporaryDirectory(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let dir = NSTemporaryDirectory() + "sluice-lab-\(safe)-\(getpid())"
    try? FileManager.default.removeItem(atPath: dir)
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A pcap with a few ARP frames, for replay actions.
func writeReplayPcap(_ path: String) throws {
    let writer = try PcapWriter(path: path)
    for i in 0..<3 {
        let frame = Frames.arp(target: IPv4Address(10, 0, 1, UInt8(20 + i)))
        try frame.withUnsafeBytes { try writer.write(frame: $0, at: Instant(nanoseconds: UInt64(i) * 1_000_000)) }
    }
    try writer.close()
}

let fullExample = """
name: routed-ping-under-loss
description: Two VMs get addresses by DHCP and reach a server on another segment across a lossy link.
seed: 7
duration: 60s
backends: [sim]
nodes:
  br0:
    kind: bridge
    config:
      router:
        ipv4: 10.0.0.1/24
        dns: [192.0.2.53]
        dhcp: { start: 10.0.0.100, end: 10.0.0.120, lease: 1h }
        interfaces:
          - { name: lab, ipv4: 10.0.1.1/24 }
  vm1: { kind: host, attach: br0, address: dhcp }
  vm2: { kind: host, address: dhcp }
  srv: { kind: host, attach: br0.lab, address: 10.0.1.10/24, gateway: 10.0.1.1, mac: "52:54:00:aa:bb:cc" }
links:
  - between: [vm1, br0]
    name: uplink
    delay: 5ms
    jitter: 1ms
    loss: 2%
    rate: 100mbit
    reverse: { loss: { p: 1%, r: 30% } }
  - { between: [vm2, br0], up: false, rate: 1gbit, queue: 50, mtu: 1400 }
captures:
  lan: { at: br0 }
  lab: { at: br0.lab, filter: "not arp" }
timeline:
  - { at: 0s, do: dhcp, node: vm1, as: lease1 }
  - { at: 1s, do: link-up, link: 1 }
  - { after: lease1, do: dhcp, node: vm2 }
  - { at: 5s, do: ping, node: vm1, to: srv, count: 20, interval: 200ms, timeout: 500ms, ttl: 9, as: p1 }
  - { after: p1 + 1.5s, do: impair, link: uplink, direction: forward, loss: 20%, delay: 20ms }
  - { at: 10s, do: udp, node: vm1, to: srv, port: 5001, rate: 10mbit, size: 1200, duration: 5s, as: flow }
  - { at: 12s, do: ping, node: vm2, to: br0, as: gw }
  - { at: 30s, do: link-down, link: uplink }
  - { at: 31s, do: replay, pcap: arp.pcap, into: br0.lab, topspeed: true, loop: 2, as: rep }
expect:
  - { action: p1, received: { ge: 15 }, loss: { le: 25% }, rtt.avg: { le: 30ms } }
  - { action: lease1, bound: true, lease: { in: 10.0.0.100-10.0.0.120 }, time: { le: 2s } }
  - { action: flow, throughput: { ge: 8mbit }, loss: { le: 5% } }
  - { action: rep, frames: 6 }
  - { capture: lan, filter: "udp port 67", count: { ge: 4 } }
  - { capture: lan, filter: "icmp", from: 31s, absent: true, name: silence after link-down }
  - { capture: lan, sequence: ["udp dst port 67", "udp src port 67", "icmp"] }
  - capture: lab
    latency: { request: "icmp[icmptype] = icmp-echo", response: "icmp[icmptype] = icmp-echoreply", pair-by: icmp-seq, le: 50ms, pairs: { ge: 10 } }
  - dhcp: { capture: lan, message: ack, client: vm1, field: yiaddr, in: 10.0.0.100-10.0.0.120 }
  - dhcp: { capture: lan, message: ack, field: lease-time, equals: 1h }
  - { name: dns offered, dhcp: { capture: lan, message: offer, field: dns, contains: 192.0.2.53 } }
"""

@Test func parsesTheFullExample() throws {
    let dir = temporaryDirectory()
    try writeReplayPcap(dir + "/arp.pcap")
    let s = try Scenario.parse(fullExample, file: dir + "/example.yml")
    #expect(s.name == "routed-ping-under-loss")
    #expect(s.description?.hasPrefix("Two VMs") == true)
    #expect(s.seed == 7 && s.duration == .seconds(60) && s.backends == [.sim])

    // Nodes keep file order; hosts settle their attachment from attach: or their link.
    #expect(s.nodes.map(\.name) == ["br0", "vm1", "vm2", "srv"])
    let br0 = try #require(s.node(named: "br0")?.bridge)
    #expect(br0.name == "br0" && br0.segmentNames == ["lan", "lab"])
    let vm1 = try #require(s.node(named: "vm1")?.host)
    #expect(vm1.attachment == BridgeSegment(bridge: "br0", segment: "lan"))
    #expect(vm1.mac == HostNode.derivedMAC(for: "vm1") && !vm1.macIsExplicit && vm1.address == .dhcp)
    let vm2 = try #require(s.node(named: "vm2")?.host)
    #expect(vm2.attachment == BridgeSegment(bridge: "br0", segment: "lan"))
    let srv = try #require(s.node(named: "srv")?.host)
    #expect(srv.attachment == BridgeSegment(bridge: "br0", segment: "lab"))
    #expect(srv.mac == MACAddress(0x52, 0x54, 0, 0xaa, 0xbb, 0xcc) && srv.macIsExplicit)
    #expect(srv.address == .static(IPv4Network("10.0.1.10/24")!, gateway: IPv4Address(10, 0, 1, 1)))

    // Links: symmetric fields in both directions, reverse: overrides.
    #expect(s.links.count == 2)
    let uplink = s.links[0]
    #expect(uplink.name == "uplink" && uplink.a == .host("vm1") && uplink.b == .bridge(BridgeSegment(bridge: "br0", segment: "lan")))
    #expect(uplink.forward.delay == .milliseconds(5) && uplink.forward.jitter == .milliseconds(1))
    #expect(uplink.forward.loss == .random(0.02) && uplink.forward.rate == 100e6)
    #expect(uplink.reverse.delay == .milliseconds(5) && uplink.reverse.rate == 100e6)
    #expect(uplink.reverse.loss == .gilbertElliott(GilbertElliott(p: 0.01, r: 0.3)))
    #expect(uplink.forward.summary == "delay 5ms jitter 1ms loss 2% rate 100mbit")
    #expect(!s.links[1].initiallyUp && s.links[1].forward.queue == 50 && s.links[1].reverse.mtu == 1400)

    #expect(s.captures.map(\.name) == ["lan", "lab"])
    #expect(s.captures[1].at == BridgeSegment(bridge: "br0", segment: "lab") && s.captures[1].filter == "not arp")

    // Timeline.
    #expect(s.timeline.count == 9)
    #expect(s.timeline[2].trigger == .after(entry: "lease1", delay: .zero))
    guard case .ping(let p1) = s.timeline[3].action else { Issue.record("timeline[3] is not a ping"); return }
    #expect(p1.node == "vm1" && p1.to == .node("srv", segment: nil) && p1.count == 20)
    #expect(p1.interval == .milliseconds(200) && p1.timeout == .milliseconds(500) && p1.ttl == 9 && p1.size == 56)
    #expect(s.timeline[4].trigger == .after(entry: "p1", delay: .milliseconds(1500)))
    guard case .impair(let impair) = s.timeline[4].action else { Issue.record("timeline[4] is not impair"); return }
    #expect(impair.link == 0 && impair.direction == .forward)
    #expect(impair.patch.applied(to: uplink.forward).loss == .random(0.2))
    #expect(impair.patch.applied(to: uplink.forward).delay == .milliseconds(20))
    #expect(impair.patch.applied(to: uplink.forward).rate == 100e6)
    guard case .udp(let flow) = s.timeline[5].action else { Issue.record("timeline[5] is not udp"); return }
    #expect(flow.rate == .bitsPerSecond(10e6) && flow.size == 1200 && flow.duration == .seconds(5) && flow.port == 5001)
    guard case .ping(let gw) = s.timeline[6].action else { Issue.record("timeline[6] is not a ping"); return }
    #expect(gw.to == .node("br0", segment: nil) && gw.count == 4)
    guard case .linkDown(let down) = s.timeline[7].action else { Issue.record("timeline[7] is not link-down"); return }
    #expect(down == 0)
    guard case .replay(let replay) = s.timeline[8].action else { Issue.record("timeline[8] is not replay"); return }
    #expect(replay.into == .bridge(BridgeSegment(bridge: "br0", segment: "lab")) && replay.speed == .topSpeed && replay.loop == 2)
    #expect(replay.path == dir + "/arp.pcap")

    // Expectations, with generated names where none was written.
    #expect(s.expectations.count == 11)
    #expect(s.expectations[0].name == "p1: received ≥ 15, loss ≤ 25%, rtt.avg ≤ 30ms")
    #expect(s.expectations[4].name == "lan: count of 'udp port 67' ≥ 4")
    #expect(s.expectations[5].name == "silence after link-down")
    #expect(s.expectations[10].name == "dns offered")
    guard case .action(let a) = s.expectations[1].kind else { Issue.record("not an action expectation"); return }
    #expect(a.actionKind == .dhcp && a.checks.map(\.metric) == [.bound, .lease, .time])
    #expect(a.checks[2].condition == .compare([Comparison(.le, 2e9)]))
    guard case .capture(let latency) = s.expectations[7].kind, case .latency(let l) = latency.check else {
        Issue.record("not a latency expectation"); return
    }
    #expect(l.pairBy == .icmpSequence && l.bounds == [Comparison(.le, 50e6)] && l.pairs == [Comparison(.ge, 10)])
    #expect(s.expectations[7].location.line == 49 && s.expectations[7].location.column == 5)
    guard case .dhcp(let d) = s.expectations[8].kind else { Issue.record("not a dhcp expectation"); return }
    #expect(d.message == .ack && d.field?.field == .yiaddr && d.clientMAC == vm1.mac && d.count == nil)
    #expect(d.field?.condition == .within(AddressSet(ranges: [IPv4Address(10, 0, 0, 100).rawValue...IPv4Address(10, 0, 0, 120).rawValue], text: "10.0.0.100-10.0.0.120")))
    guard case .dhcp(let leaseTime) = s.expectations[9].kind else { Issue.record("not a dhcp expectation"); return }
    #expect(leaseTime.field?.condition == .compare([Comparison(.eq, 3600e9)]))

    // Features used are recorded where they were written (for the backend check).
    let gilbert = s.features.first { $0.feature == .linkGilbertElliottLoss }
    #expect(gilbert?.location.line == 26)
    #expect(gilbert?.field == "links[0].reverse.loss")
    #expect(s.unsupportedFeatures(on: .sim).isEmpty)
    #expect(s.unsupportedFeatures(on: .netns).isEmpty)
}

@Test func derivedMACsAreStableUnicastAndDistinct() {
    let names = (0..<200).map { "vm\($0)" }
    let macs = names.map(HostNode.derivedMAC(for:))
    #expect(Set(macs).count == names.count)
    #expect(macs.allSatisfy { !$0.isMulticast && $0.rawValue >> 24 == 0x525400 })
    #expect(HostNode.derivedMAC(for: "vm1") == HostNode.derivedMAC(for: "vm1"))
}

@Test func defaultsFillWhatIsNotWritten() throws {
    let s = try Scenario.parse("""
    nodes:
      sw: { kind: bridge }
      a: { kind: host, attach: sw }
      b: { kind: host, attach: sw, address: none }
    timeline:
      - { at: 1s, do: ping, node: a, to: 10.0.0.9 }
      - { at: 1s, do: udp, node: a, to: b, rate: 2000pps }
    """, file: "/tmp/minimal.yml")
    #expect(s.name == "minimal" && s.seed == 1 && s.duration == .seconds(60) && s.backends == [.sim])
    #expect(s.node(named: "sw")?.bridge?.router == nil)
    #expect(s.node(named: "a")?.host?.attachment == BridgeSegment(bridge: "sw", segment: "lan"))
    guard case .ping(let p) = s.timeline[0].action, case .udp(let u) = s.timeline[1].action else { Issue.record("wrong actions"); return }
    #expect(p.to == .address(IPv4Address(10, 0, 0, 9)) && p.count == 4 && p.interval == .seconds(1) && p.timeout == .seconds(1))
    #expect(u.rate == .packetsPerSecond(2000) && u.size == 1472 && u.duration == .seconds(10) && u.port == 5001)
}

@Test func bridgeConfigFromAFileBesideTheScenario() throws {
    let dir = temporaryDirectory()
    try "router: { ipv4: 10.9.0.1/24 }\n".write(toFile: dir + "/br.yml", atomically: true, encoding: .utf8)
    let s = try Scenario.parse("nodes:\n  br0: { kind: bridge, config: br.yml }\n  h: { kind: host, attach: br0 }\n", file: dir + "/s.yml")
    #expect(s.node(named: "br0")?.bridge?.router?.interfaces.first?.ipv4 == IPv4Network("10.9.0.1/24"))
}

@Test func discoversScenarioFilesSorted() throws {
    let dir = temporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
    for f in ["b.yml", "a.yaml", "sub/c.yml", "notes.txt"] { try "x".write(toFile: "\(dir)/\(f)", atomically: true, encoding: .utf8) }
    #expect(Scenario.discover([dir]) == ["\(dir)/a.yaml", "\(dir)/b.yml", "\(dir)/sub/c.yml"])
}

/// The package root, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Test func theDocumentedExampleParses() throws {
    let doc = try String(contentsOfFile: packageRoot + "/docs/scenarios.md", encoding: .utf8)
    let start = try #require(doc.range(of: "```yaml\n"))
    let end = try #require(doc.range(of: "\n```", range: start.upperBound..<doc.endIndex))
    let s = try Scenario.parse(String(doc[start.upperBound..<end.lowerBound]), file: "docs/scenarios.md")
    #expect(s.name == "routed-ping-under-loss" && s.nodes.count == 4 && s.links.count == 2)
    #expect(s.timeline.count == 7 && s.expectations.count == 8)
    #expect(s.node(named: "vm2")?.host?.attachment == BridgeSegment(bridge: "br0", segment: "lan"))
}
