import Basics
import Capture
import Foundation
import Testing
@testable import Lab

let pingScenario = """
name: dhcp-and-ping
seed: 7
duration: 20s
nodes:
  br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.120 } } } }
  vm1: { kind: host, attach: br0 }
  vm2: { kind: host, attach: br0 }
links:
  - { between: [vm1, br0], delay: 5ms }
captures:
  lan: { at: br0 }
timeline:
  - { at: 0s, do: dhcp, node: vm1, as: d1 }
  - { at: 0s, do: dhcp, node: vm2, as: d2 }
  - { after: d2 + 1s, do: ping, node: vm1, to: vm2, count: 5, interval: 200ms, as: p1 }
  - { after: p1, do: ping, node: vm2, to: br0, count: 3, as: gw }
expect:
  - { action: d1, bound: true, lease: { in: 10.0.0.100-10.0.0.120 } }
  - { action: p1, received: 5, rtt.max: { le: 30ms } }
  - { action: gw, received: 3 }
  - { capture: lan, filter: "udp port 67", count: { ge: 8 } }
  - { capture: lan, sequence: ["udp dst port 67", "udp src port 67", "icmp"] }
  - capture: lan
    latency: { request: "icmp[icmptype] = icmp-echo", response: "icmp[icmptype] = icmp-echoreply", pair-by: icmp-seq, le: 25ms, pairs: 8 }
  - dhcp: { capture: lan, message: ack, client: vm1, field: yiaddr, in: 10.0.0.100-10.0.0.120 }
"""

func runScenario(_ text: String, seed: UInt64? = nil, name: String = #function) throws -> (LabRun, String) {
    let dir = temporaryDirectory(name)
    let scenario = try Scenario.parse(text, file: dir + "/s.yml")
    let run = SimBackend.run(scenario, seed: seed ?? scenario.seed, captureDirectory: dir + "/captures")
    return (run, dir)
}

@Test func dhcpAndPingScenarioPasses() throws {
    let (run, _) = try runScenario(pingScenario)
    #expect(run.status == .completed, "\(run.status)")
    for o in run.outcomes { #expect(o.passed, "\(o.name): \(o.message)") }
    #expect(run.outcomes.count == 7)
    #expect(run.simulatedDuration == .seconds(20))
    #expect(run.captures.first?.frames ?? 0 > 10)
    #expect(run.log.contains { $0.contains("p1: vm1 pings 10.0.0.") })
}

@Test func labRunnerWritesTheReportDirectory() throws {
    let dir = temporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir + "/scenarios", withIntermediateDirectories: true)
    try pingScenario.write(toFile: dir + "/scenarios/ping.yml", atomically: true, encoding: .utf8)
    let failing = pingScenario.replacingOccurrences(of: "name: dhcp-and-ping", with: "name: too-strict")
        .replacingOccurrences(of: "rtt.max: { le: 30ms }", with: "rtt.max: { le: 1ms }")
    try failing.write(toFile: dir + "/scenarios/strict.yml", atomically: true, encoding: .utf8)
    var lines: [String] = []
    let summary = LabRunner.run(files: [dir + "/scenarios"], seed: nil, filter: nil, backend: "sim",
                                reportDirectory: dir + "/reports/run-1") { lines.append($0) }
    #expect(summary.runs.map(\.scenarioName) == ["dhcp-and-ping", "too-strict"])
    #expect(summary.passed == 1 && summary.failed == 1 && summary.exitCode == 1)
    #expect(summary.line == "1 passed, 1 failed, 0 skipped, 0 errors")
    let report = try #require(summary.report)
    #expect(report.captures == [dir + "/reports/run-1/captures/dhcp-and-ping/lan.pcap", dir + "/reports/run-1/captures/too-strict/lan.pcap"])
    let junit = try String(contentsOfFile: report.junit, encoding: .utf8)
    #expect(junit.contains("<property name=\"seed\" value=\"7\"/>") && junit.contains("<property name=\"backend\" value=\"sim\"/>"))
    #expect(junit.contains("rtt.max") && junit.contains("<failure "))
    let html = try String(contentsOfFile: report.html, encoding: .utf8)
    #expect(html.contains("<svg ") && html.contains("href=\"captures/too-strict/lan.pcap\""))
    #expect(lines.contains { $0.hasPrefix("[2/2] too-strict: failed (1 of 7)") })
    #expect(lines.contains { $0.contains("✘ \(dir)/scenarios/strict.yml:") })
}

let everythingScenario = """
name: everything
seed: 3
duration: 30s
nodes:
  br0:
    kind: bridge
    config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.120 }, interfaces: [{ name: lab, ipv4: 10.0.1.1/24 }] } }
  sw1: { kind: bridge }
  vm1: { kind: host, attach: br0 }
  srv: { kind: host, attach: br0.lab, address: 10.0.1.10/24, gateway: 10.0.1.1 }
  far: { kind: host, attach: sw1, address: 10.0.0.50/24, gateway: 10.0.0.1 }
links:
  - { between: [vm1, br0], name: uplink, delay: 2ms, rate: 20mbit }
  - { between: [br0.lan, sw1], name: trunk, delay: 1ms }
captures:
  lan: { at: br0 }
  lab: { at: br0.lab }
timeline:
  - { at: 2s, do: ping, node: vm1, to: srv, count: 5, interval: 100ms, as: routed }
  - { at: 2s, do: ping, node: far, to: vm1, count: 3, interval: 100ms, as: bridged }
  - { at: 3s, do: udp, node: vm1, to: srv, rate: 10mbit, size: 1000, duration: 1s, as: flow }
  - { after: flow + 500ms, do: link-down, link: uplink, as: cut }
  - { after: cut + 1s, do: ping, node: vm1, to: srv, count: 3, interval: 100ms, timeout: 200ms, as: dead }
  - { at: 10s, do: link-up, link: uplink }
  - { at: 10s, do: impair, link: uplink, direction: forward, loss: 100% }
  - { at: 11s, do: ping, node: vm1, to: srv, count: 2, interval: 100ms, as: lossy }
  - { at: 12s, do: replay, pcap: arp.pcap, into: br0.lab, speed: 2, loop: 2, as: rep }
  - { at: 13s, do: replay, pcap: arp.pcap, into: srv, topspeed: true, as: rep2 }
  - { at: 25s, do: ping, node: far, to: srv, count: 100, as: long }
  - { after: long, do: ping, node: far, to: srv, as: never }
expect:
  - { action: routed, received: 5 }
  - { action: bridged, received: 3 }
  - { action: flow, sent: 1250, loss: { le: 1% }, throughput: { ge: 9mbit, le: 11mbit } }
  - { action: dead, received: 0, sent: 3 }
  - { action: lossy, received: 0 }
  - { action: rep, frames: 6 }
  - { action: rep2, frames: 3 }
  - { capture: lab, filter: "arp dst host 10.0.1.20", count: 2 }
  - { capture: lan, filter: "icmp", from: 6s, until: 10s, absent: true }
  - { action: never, received: 1 }
"""

@Test func everyActionKindRunsInTheSimulator() throws {
    let dir = temporaryDirectory()
    try writeReplayPcap(dir + "/arp.pcap")
    let scenario = try Scenario.parse(everythingScenario, file: dir + "/everything.yml")
    let run = SimBackend.run(scenario, seed: scenario.seed, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    for o in run.outcomes.dropLast() { #expect(o.passed, "\(o.name): \(o.message)") }
    let never = try #require(run.outcomes.last)
    #expect(!never.passed)
    #expect(never.message == "'never' has no result: it never started (waiting for 'long', which did not finish before the run ended)")
    // The flow's throughput was sampled for the chart, around its 10 Mbit/s.
    guard case .udp(let flow)? = run.actions.first(where: { $0.name == "flow" })?.result else { Issue.record("no flow result"); return }
    #expect(flow.throughput.count > 50)
    let middle = flow.throughput[flow.throughput.count / 4]
    #expect(middle.bitsPerSecond > 8e6 && middle.bitsPerSecond < 12e6, "\(middle)")
    #expect(run.log.contains { $0.hasPrefix("10.000000s cut") == false && $0.contains("uplink now forward: delay 2ms loss 100% rate 20mbit") })
}

let lossyScenario = """
name: lossy
seed: 11
duration: 30s
nodes:
  br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.120 } } } }
  vm1: { kind: host, attach: br0 }
  vm2: { kind: host, attach: br0, address: 10.0.0.9/24 }
links:
  - { between: [vm1, br0], delay: 3ms, jitter: 2ms, loss: 20%, duplicate: 5%, reorder: 5%, corrupt: 2% }
captures:
  lan: { at: br0 }
timeline:
  - { at: 0s, do: dhcp, node: vm1, as: d }
  - { after: d, do: ping, node: vm1, to: vm2, count: 60, interval: 100ms, as: p }
expect:
  - { action: p, received: { ge: 20 } }
"""

@Test func sameSeedWritesByteIdenticalCaptures() throws {
    let (a, dirA) = try runScenario(lossyScenario, name: "determinismA")
    let (b, dirB) = try runScenario(lossyScenario, name: "determinismB")
    #expect(a.status == .completed && b.status == .completed)
    let pcapA = try #require(FileManager.default.contents(atPath: dirA + "/captures/lan.pcap"))
    let pcapB = try #require(FileManager.default.contents(atPath: dirB + "/captures/lan.pcap"))
    #expect(pcapA.count > 1000)
    #expect(pcapA == pcapB)
    #expect(a.log == b.log)
    #expect(a.outcomes.map(\.message) == b.outcomes.map(\.message))
}

@Test func anotherSeedChangesTheImpairedRun() throws {
    let (a, dirA) = try runScenario(lossyScenario, seed: 11, name: "seedA")
    let (b, dirB) = try runScenario(lossyScenario, seed: 12, name: "seedB")
    #expect(a.status == .completed && b.status == .completed)
    let pcapA = try #require(FileManager.default.contents(atPath: dirA + "/captures/lan.pcap"))
    let pcapB = try #require(FileManager.default.contents(atPath: dirB + "/captures/lan.pcap"))
    #expect(pcapA != pcapB)
    guard case .ping(let pa)? = a.actions.last?.result, case .ping(let pb)? = b.actions.last?.result else {
        Issue.record("no ping results"); return
    }
    // Both lose probes to the 20% loss each way, but not the same ones.
    #expect(pa.result.received < 60 && pb.result.received < 60)
    #expect(pa.result.probes.map(\.outcome) != pb.result.probes.map(\.outcome))
}

@Test func aTopologyThatCannotBeBuiltIsAnErrorRun() throws {
    let scenario = try Scenario.parse(pingScenario, file: "/nonexistent/s.yml")
    let run = SimBackend.run(scenario, seed: 1, captureDirectory: "/proc/sluice-cannot-write-here")
    guard case .error(let why) = run.status else { Issue.record("expected an error run, got \(run.status)"); return }
    #expect(why.hasPrefix("could not build the topology: cannot create /proc/sluice-cannot-write-here"), "\(why)")
}

@Test func badFilesStopTheRunBeforeAnythingStarts() throws {
    let dir = temporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir + "/s", withIntermediateDirectories: true)
    try pingScenario.write(toFile: dir + "/s/a.yml", atomically: true, encoding: .utf8)
    try "nodes:\n  br0: { kind: bridge }\n  vm1: { kind: host, attach: br9 }\n".write(toFile: dir + "/s/b.yml", atomically: true, encoding: .utf8)
    var lines: [String] = []
    let summary = LabRunner.run(files: [dir + "/s"], seed: 5, filter: nil, backend: "sim", reportDirectory: dir + "/r") { lines.append($0) }
    #expect(summary.loadErrors.count == 1 && summary.exitCode == 2)
    #expect(summary.loadErrors.first?.line == 3)
    #expect(summary.runs.count == 1)  // only the broken file, as an error; a.yml did not run
    #expect(lines.contains { $0.hasPrefix("\(dir)/s/b.yml:3:") })
    #expect(lines.contains("1 error(s) in 1 scenario file(s); nothing was run"))
    #expect(FileManager.default.fileExists(atPath: dir + "/r/junit.xml"))
}

@Test func filterSeedAndBackendSelection() throws {
    let dir = temporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir + "/s", withIntermediateDirectories: true)
    try pingScenario.write(toFile: dir + "/s/a.yml", atomically: true, encoding: .utf8)
    try pingScenario.replacingOccurrences(of: "name: dhcp-and-ping", with: "name: other\nbackends: [netns]")
        .write(toFile: dir + "/s/b.yml", atomically: true, encoding: .utf8)
    let filtered = LabRunner.run(files: [dir + "/s"], seed: 99, filter: "DHCP", backend: "sim", reportDirectory: dir + "/r1") { _ in }
    #expect(filtered.runs.map(\.scenarioName) == ["dhcp-and-ping"] && filtered.runs[0].seed == 99)
    let all = LabRunner.run(files: [dir + "/s"], seed: nil, filter: nil, backend: "sim", reportDirectory: dir + "/r2") { _ in }
    #expect(all.runs.count == 2 && all.skipped == 1 && all.passed == 1 && all.exitCode == 0)
    let netns = LabRunner.run(files: [dir + "/s/a.yml"], seed: nil, filter: nil, backend: "netns", reportDirectory: dir + "/r3") { _ in }
    #expect(netns.skipped == 1)  // a.yml is for sim only
    let unknown = LabRunner.run(files: [dir + "/s"], seed: nil, filter: nil, backend: "vmware", reportDirectory: dir + "/r4") { _ in }
    #expect(unknown.exitCode == 2 && unknown.reportError?.contains("unknown backend 'vmware'") == true)
}
