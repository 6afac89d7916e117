import Basics
import Foundation
import Testing
import Wire
@testable import Lab

// `do: tcp`: the parser's range checks, and flows run by the sim backend.

/// Line 6 is the entry under test (base is lines 1–4, "timeline:" line 5).
private func tcpEntry(_ fields: String) -> String {
    "duration: 30s\n" + base + "timeline:\n  - { at: 1s, do: tcp, node: vm1, to: vm2, \(fields) }\n"
}

@Test func tcpFlowParsesWithDefaultsAndUnits() throws {
    let s = try Scenario.parse(tcpEntry("bytes: 10MB, streams: 4, congestion: newreno, as: t1"), file: "s.yml")
    guard case .tcp(let t) = s.timeline[0].action else { Issue.record("not a tcp action"); return }
    #expect(t.amount == .bytes(10_000_000))
    #expect(t.streams == 4 && t.congestion == .newreno && !t.reverse)
    #expect(t.port == 5201)
    #expect(s.features.contains { $0.feature == .tcpFlow })
    let r = try Scenario.parse(tcpEntry("duration: 5s, reverse: true, port: 7000, congestion: reno"), file: "s.yml")
    guard case .tcp(let u) = r.timeline[0].action else { Issue.record("not a tcp action"); return }
    #expect(u.amount == .duration(.seconds(5)) && u.reverse && u.port == 7000 && u.congestion == .newreno)
    let k = try Scenario.parse(tcpEntry("bytes: 64KiB"), file: "s.yml")
    guard case .tcp(let v) = k.timeline[0].action else { Issue.record("not a tcp action"); return }
    #expect(v.amount == .bytes(65536))
}

@Test func tcpFlowBadNumbersAreLocated() {
    let line = 7
    expectError(tcpEntry("bytes: 20GB"), line: line, at: "20GB", message: "20GB is out of range", fix: "at most 10GB")
    expectError(tcpEntry("bytes: 0"), line: line, at: "0 }", message: "'0' is not a byte count")
    expectError(tcpEntry("bytes: lots"), line: line, at: "lots", message: "'lots' is not a byte count", fix: "10MB")
    expectError(tcpEntry("bytes: 1MB, streams: 17"), line: line, at: "17", message: "17")
    expectError(tcpEntry("bytes: 1MB, streams: 0"), line: line, at: "0 }", message: "0")
    expectError(tcpEntry("duration: 31s"), line: line, at: "31s", message: "not within the run", fix: "up to the scenario's")
    expectError(tcpEntry("duration: 0s"), line: line, at: "0s", message: "not within the run")
    expectError(tcpEntry("bytes: 1MB, port: 70000"), line: line, at: "70000", message: "70000")
    expectError(tcpEntry("bytes: 1MB, congestion: bbr"), line: line, at: "bbr", message: "unknown congestion control 'bbr'", fix: "cubic or newreno")
    expectError(tcpEntry("bytes: 1MB, duration: 2s"), line: line, at: "2s", message: "both bytes: and duration: given")
    expectError(tcpEntry("streams: 2"), line: line, at: "{ at: 1s", message: "needs bytes: or duration:")
    expectError(tcpEntry("bytes: 1MB, to: br0").replacingOccurrences(of: "to: vm2, ", with: ""), line: line, at: "br0",
                message: "'br0' is a bridge")
}

@Test func tcpFlowIsHonouredOnEveryBackend() {
    // The test guest carries iperf3 (ci/build-test-guest.sh), so qemu runs tcp flows as netns does.
    for b in LabBackend.allCases { #expect(BackendCapabilities.of(b).supports(.tcpFlow), "\(b)") }
    #expect(parseError("backends: [sim, netns, qemu]\n" + tcpEntry("bytes: 1MB")) == nil)
    #expect(IPerf3.client(TCPFlowAction(node: "a", to: .node("b", segment: nil), port: 5202), target: IPv4Address(10, 0, 0, 2))
            == ["iperf3", "--client", "10.0.0.2", "--port", "5202", "--parallel", "1", "--congestion", "cubic", "--json", "--interval", "0.1", "--time", "10"])
    var t = TCPFlowAction(node: "a", to: .node("b", segment: nil), port: 7000)
    t.amount = .duration(.milliseconds(1500)); t.reverse = true; t.congestion = .newreno; t.streams = 3
    #expect(IPerf3.client(t, target: IPv4Address(10, 0, 0, 2)).joined(separator: " ")
            == "iperf3 --client 10.0.0.2 --port 7000 --parallel 3 --congestion reno --json --interval 0.1 --time 2 --reverse")
}

let tcpScenario = """
name: tcp
seed: 5
duration: 10s
nodes:
  br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24 } } }
  a: { kind: host, attach: br0, address: 10.0.0.10/24 }
  b: { kind: host, attach: br0, address: 10.0.0.11/24 }
links:
  - { between: [a, br0], rate: 20mbit, delay: 5ms }
captures:
  lan: { at: br0, filter: "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0" }
timeline:
  - { at: 500ms, do: tcp, node: a, to: b, bytes: 1MB, streams: 2, as: up }
  - { after: up, do: tcp, node: a, to: b, duration: 2s, reverse: true, congestion: newreno, as: down }
  - { after: down + 1s, do: ping, node: a, to: b, count: 1, as: later }
expect:
  - { action: up, completed: true, throughput: { ge: 5mbit, le: 20mbit }, retransmissions: { eq: 0 }, rtt.min: { ge: 10ms } }
  - { action: down, completed: true, throughput: { ge: 10mbit, le: 20mbit } }
  - { action: later, received: 1 }
"""

@Test func tcpFlowsRunInTheSimulator() throws {
    let (run, _) = try runScenario(tcpScenario)
    #expect(run.status == .completed, "\(run.status)")
    for o in run.outcomes { #expect(o.passed, "\(o.name): \(o.message)") }
    guard case .tcp(let up)? = run.actions.first(where: { $0.name == "up" })?.result,
          case .tcp(let down)? = run.actions.first(where: { $0.name == "down" })?.result else {
        Issue.record("no tcp results"); return
    }
    // Byte flows deliver exactly their bytes, split over the streams; the time is the transfer's.
    #expect(up.streams.map(\.bytesReceived) == [500_000, 500_000])
    let took = try #require(up.finishedAt) - up.startedAt
    #expect(took > .milliseconds(400) && took < .seconds(2), "\(took)")
    // A timed flow stops after its duration and was sampled for the chart: goodput and cwnd.
    #expect(down.finishedAt == down.startedAt + .seconds(2))
    #expect(down.throughput.count >= 50 && down.congestionWindow.count == down.throughput.count)
    #expect(down.rttSamples.count > 10)
    #expect(try #require(down.rttAverage) >= .milliseconds(10))
    // SYN and FIN of each of the three connections, both ways.
    #expect(run.captures.first?.frames ?? 0 >= 12)
    #expect(run.log.contains { $0.contains("up: a opens 2 TCP stream(s) to") })
    // The report draws both: goodput over time, and the first sender's cwnd over time.
    let html = HTMLReport.render([run], title: "t")
    #expect(html.contains("down: TCP goodput") && html.contains("down: congestion window"))
}

@Test func tcpFlowReportsItsChart() {
    let result = TCPFlowResult(startedAt: .zero, finishedAt: .zero + .seconds(1), endedAt: .zero + .seconds(1),
                               streams: [.init(bytesReceived: 1_000_000, retransmissions: 3, finishedAt: nil,
                                               minimumRTT: .milliseconds(10), maximumRTT: .milliseconds(30))],
                               rttSamples: [.milliseconds(10), .milliseconds(20)],
                               throughput: [ThroughputSample(time: .zero + .milliseconds(100), bitsPerSecond: 8e6)],
                               congestionWindow: [(.zero + .milliseconds(100), 14480)])
    #expect(result.throughputBitsPerSecond == 8e6)
    #expect(result.rttAverage == .milliseconds(15))
    #expect(ActionResult.tcp(result).summary == "1000000 bytes in 1 stream(s), 8mbit, 3 retransmissions, rtt min/avg/max 10ms/15ms/30ms")
}
