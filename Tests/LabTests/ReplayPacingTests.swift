// Replays into a WAN (captured WireGuard datagrams meet WireGuard's receive path), at top speed
// (paced by the receiver's free buffers, not dropped), and of a capture spanning months (idle
// gaps cut so it plays in bounded time).
import Basics
import Capture
import Foundation
import Testing
import Wire
@testable import Lab

/// The WireGuard traffic of a short run of `natScenario` (a handshake and pings through the
/// tunnel), recorded on its internet link.
func recordWireGuardTraffic(_ dir: String) throws -> String {
    let text = natScenario.replacingOccurrences(of: "duration: 3s", with: "duration: 2s")
        + "\ntimeline:\n  - { at: 100ms, do: ping, node: vmA, to: srvB, count: 5, interval: 100ms }\n"
    let s = try Scenario.parse(text, file: dir + "/record.yml")
    let run = SimBackend.run(s, seed: 1, captureDirectory: dir + "/recorded")
    #expect(run.status == .completed)
    return dir + "/recorded/internet.pcap"
}

@Test func capturedWireGuardIntoAWANIsCountedByWireGuardsReasons() throws {
    let dir = temporaryDirectory()
    let recorded = try recordWireGuardTraffic(dir)
    var frames = try PcapReader(path: recorded).readAll()
    let datagrams = frames.count
    #expect(try count(recorded, "udp and udp[8] = 1") >= 1 && count(recorded, "udp and udp[8] = 4") >= 10)
    // Garbage a WAN meets too: a datagram too short for a type, a transport message too short,
    // and a frame that is no datagram at all.
    let last = frames.last!.time
    frames.append(CaptureRecord(time: last, originalLength: 0, bytes: TwoSided.udp(fromClient: true, sourcePort: 51820, destinationPort: 51820, payload: [1, 2, 3])))
    frames.append(CaptureRecord(time: last, originalLength: 0, bytes: TwoSided.udp(fromClient: true, sourcePort: 51820, destinationPort: 51820, payload: [4, 0, 0, 0] + [UInt8](repeating: 0, count: 12))))
    frames.append(CaptureRecord(time: last, originalLength: 0, bytes: Frames.arp(target: IPv4Address(10, 0, 0, 1))))
    for k in frames.indices { frames[k].originalLength = frames[k].bytes.count }
    try TwoSided.write(dir + "/wg.pcap", frames)

    // Played twice into B's WAN of a fresh run where nobody else sends.
    let base = try Scenario.parse(natScenario, file: dir + "/s.yml")
    var request = ReplayRequest(pcap: dir + "/wg.pcap", into: ["brB.wan"])
    request.loop = 2
    let (s, _) = try request.scenario(base, actions: try request.actions(for: base))
    let run = SimBackend.run(s, seed: 9, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    let outcomes = try #require(run.counters.first { $0.title == "replay outcomes" })
    func row(_ name: String) -> Int { outcomes.rows.first { $0.name == name }?.value ?? 0 }
    #expect(row("frames played") == 2 * frames.count)
    #expect(row("replay drop not-a-udp-datagram (into a wan)") == 2)
    #expect(row("brB wireguard drop unknown message type") == 2, "\(outcomes.rows)")
    #expect(row("brB wireguard drop bad size") == 2, "\(outcomes.rows)")
    // The second pass's initiation is no newer than the first's (WireGuard §5.1).
    #expect(row("brB wireguard drop stale handshake (replayed timestamp)") >= 1, "\(outcomes.rows)")
    let wan = try #require(run.counters.first { $0.title == "brB wan (wireguard)" })
    // Every replayed datagram reached B's WAN, besides what A sent it over the link (its keepalive).
    let fromA = try #require(run.counters.first { $0.title == "internet forward" }?.rows.first { $0.name == "delivered" }?.value)
    #expect(wan.rows.first { $0.name == "rx datagrams" }?.value == 2 * (datagrams + 2) + fromA)
}

@Test func topSpeedWaitsForReceiveBuffersInsteadOfDropping() throws {
    let dir = temporaryDirectory()
    let text = """
    name: flood
    seed: 3
    duration: 1s
    nodes:
      br0: { kind: bridge, config: {} }
      vm1: { kind: host, attach: br0, address: 10.0.0.2/24 }
    """
    let base = try Scenario.parse(text, file: dir + "/s.yml")
    let vm1 = try #require(base.node(named: "vm1")?.host?.mac)
    var frames: [CaptureRecord] = []
    for k in 0..<10_000 {
        var buffer = [UInt8](repeating: 0, count: 200)
        let n = buffer.withUnsafeMutableBytes { b in
            [UInt8](repeating: UInt8(truncatingIfNeeded: k), count: 100).withUnsafeBytes { p in
                try! IPv4Frame.emitUDP(into: b, ethernet: EthernetHeader(destination: vm1, source: MACAddress(2, 0, 0, 0, 0, 99), etherType: .ipv4),
                                       ip: IPv4Header(source: IPv4Address(10, 0, 0, 99), destination: IPv4Address(10, 0, 0, 2), protocol: .udp, payloadLength: 0),
                                       udp: UDPHeader(sourcePort: 5000, destinationPort: 9), payload: p)
            }
        }
        frames.append(Frames.record(Array(buffer[..<n]), ms: UInt64(k)))
    }
    try TwoSided.write(dir + "/flood.pcap", frames)
    var request = ReplayRequest(pcap: dir + "/flood.pcap", into: ["br0"])
    request.topspeed = true
    let (s, _) = try request.scenario(base, actions: try request.actions(for: base))
    let run = SimBackend.run(s, seed: 3, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    guard case .replay(let r)? = run.actions.first(where: { $0.name == "replay" })?.result else { Issue.record("no replay result"); return }
    #expect(r.frames == 10_000 && r.finishedAt != nil)
    let port = try #require(run.counters.first { $0.title.hasPrefix("br0 port vm1") })
    #expect(!port.rows.contains { $0.name == "drop no-rx-buffer" }, "\(port.rows)")
    #expect(port.rows.first { $0.name == "tx packets" }?.value == 10_000)
    let host = try #require(run.counters.first { $0.title == "host vm1" })
    #expect(host.rows.first { $0.name == "nic.received" }?.value == 10_000)
}

@Test func aCaptureSpanningMonthsPlaysInBoundedTime() throws {
    let dir = temporaryDirectory()
    let day: UInt64 = 86_400_000
    // Four frames over 90 days, two of them 1 ms apart.
    let frames = [0, 30 * day, 30 * day + 1, 90 * day].map { Frames.record(Frames.arp(target: IPv4Address(10, 0, 0, 9)), ms: $0) }
    try TwoSided.write(dir + "/months.pcap", frames)
    let timing = ReplayTiming(frames, maxGap: .seconds(1))
    #expect(timing.offsets == [.zero, .seconds(1), .seconds(1) + .milliseconds(1), .seconds(2) + .milliseconds(1)])
    #expect(timing.gapsCut == 2 && timing.timeCut == .seconds(90 * 86_400) - .milliseconds(2_001))
    #expect(ReplayTiming(frames).span == .seconds(90 * 86_400))
    let base = try Scenario.parse("name: m\nduration: 1s\nnodes:\n  br0: { kind: bridge, config: {} }\n", file: dir + "/s.yml")
    let request = ReplayRequest(pcap: dir + "/months.pcap", into: ["br0"])
    let (s, notes) = try request.scenario(base, actions: try request.actions(for: base))
    #expect(s.duration == .seconds(3) + .milliseconds(1), "\(s.duration)")
    #expect(notes == ["replay: 2 idle gaps longer than 1s cut to it (\(Format.duration(.seconds(90 * 86_400) - .milliseconds(2_001))) left out)"])
    let run = SimBackend.run(s, seed: 1, captureDirectory: dir + "/captures")
    guard case .replay(let r)? = run.actions.first(where: { $0.name == "replay" })?.result else { Issue.record("no replay result"); return }
    #expect(r.frames == 4 && r.finishedAt == Instant.zero + .seconds(2) + .milliseconds(1))
    // --keep-gaps plays them as captured: the run lasts the 90 days and a second.
    var keep = request
    keep.keepGaps = true
    #expect(try keep.scenario(base, actions: try keep.actions(for: base)).scenario.duration == .seconds(90 * 86_400 + 1))
}

/// A run whose receivers never have a buffer: the replay's steps on a clock of its own.
final class StuckReceiverRun: ReplayingRun {
    let scenario: Scenario
    var now = Instant.zero
    var replays: [Int: ReplayProgress] = [:]
    var notes: [String] = []
    var delivered: [Instant] = []
    var completed: Instant?
    var agenda: [(time: Instant, order: Int, body: () -> Void)] = []
    var order = 0

    init(_ scenario: Scenario) { self.scenario = scenario }
    func note(_ text: String) { notes.append(text) }
    func notStarted(_ i: Int, _ why: String) { Issue.record("not started: \(why)") }
    func complete(_ i: Int) { completed = now }
    func replayInput(_ target: ReplayTarget, entry name: String) throws(ReplayRefusal) -> (CaptureRecord) -> Void {
        { [unowned self] _ in self.delivered.append(self.now) }
    }
    func scheduleReplayFrame(of name: String, at time: Instant, _ body: @escaping () -> Void) {
        order += 1
        agenda.append((time, order, body))
    }
    func replayReceiversReady(_ target: ReplayTarget) -> Bool { false }

    func runAll() {
        while let next = agenda.indices.min(by: { (agenda[$0].time, agenda[$0].order) < (agenda[$1].time, agenda[$1].order) }) {
            let event = agenda.remove(at: next)
            now = event.time
            event.body()
        }
    }
}

@Test func topSpeedStopsWaitingForAReceiverThatNeverFreesABuffer() throws {
    let dir = temporaryDirectory()
    try writeReplayPcap(dir + "/arp.pcap")  // 3 frames
    var s = try Scenario.parse("name: stuck\nnodes:\n  br0: { kind: bridge, config: {} }\n", file: dir + "/s.yml")
    var action = ReplayAction(pcap: "arp.pcap", path: dir + "/arp.pcap", into: .bridge(BridgeSegment(bridge: "br0", segment: "lan")))
    action.speed = .topSpeed
    action.loop = 2
    s.timeline = [TimelineEntry(index: 0, name: "rep", trigger: .at(.zero), action: .replay(action),
                                location: ScenarioLocation(file: "t", line: 1, column: 1))]
    let run = StuckReceiverRun(s)
    run.startReplay(0, action)
    run.runAll()
    // The first frame waits out the patience; the other five follow at once.
    #expect(run.delivered == Array(repeating: Instant.zero + ReplayPacing.patience, count: 6))
    #expect(run.completed == Instant.zero + ReplayPacing.patience)
    #expect(run.replays[0]?.gaveUpWaiting == true && run.replays[0]?.played == 6)
    #expect(run.notes.contains { $0.contains("no free receive buffer for 10ms; playing the rest without waiting") }, "\(run.notes)")
}
