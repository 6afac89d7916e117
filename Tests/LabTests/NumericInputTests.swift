// Outside numbers never trap (issue 10, item 2): each class of number a user, a file or a
// packet supplies is range-checked with a located error, or handled (out-of-order pcap times are
// clamped and counted). Each test here crashed the test process (exit 132, a Swift trap) before
// the checks existed.
import Basics
import Wire
import Capture
import Foundation
import Testing
import YAMLSchema
@testable import Lab

@Test func hugeScenarioDurationIsALocatedError() {
    let text = "duration: 1e10s\n" + base
    expectError(text, line: 1, at: "1e10s", message: "out of range", fix: "at most")
}

@Test func hugeLinkDelayIsALocatedError() {
    let text = base + "links:\n  - { between: [vm1, br0], delay: 1e12s }\n"
    expectError(text, line: 6, at: "1e12s", message: "out of range", fix: "at most")
}

@Test func hugeTimelineTimesAreLocatedErrors() {
    expectError(base + "timeline:\n  - { at: 1e300s, do: dhcp, node: vm1 }\n", line: 6, at: "1e300s", message: "out of range")
    expectError(base + "timeline:\n  - { at: 1s, do: dhcp, node: vm1, as: d }\n  - { after: d + 1e11s, do: dhcp, node: vm2 }\n",
                line: 7, at: "d + 1e11s", message: "out of range")
}

@Test func replaySpeedOutsideItsRangeIsALocatedError() throws {
    try writeReplayPcap((NSTemporaryDirectory() as NSString).appendingPathComponent("x.pcap"))  // the pcap is checked first
    let tiny = base + "timeline:\n  - { at: 1s, do: replay, pcap: x.pcap, into: br0, speed: 1e-12 }\n"
    expectError(tiny, line: 6, at: "1e-12", message: "out of range", fix: "0.001")
    let huge = base + "timeline:\n  - { at: 1s, do: replay, pcap: x.pcap, into: br0, speed: 1e300 }\n"
    expectError(huge, line: 6, at: "1e300", message: "out of range", fix: "1000000")
}

/// A pcap whose third frame is stamped before the second (real captures have these).
func writeBackwardsPcap(_ path: String) throws {
    let writer = try PcapWriter(path: path)
    for (i, ms) in [0, 5_000, 2_000, 6_000].enumerated() {
        let frame = Frames.arp(target: IPv4Address(10, 0, 1, UInt8(20 + i)))
        try frame.withUnsafeBytes { try writer.write(frame: $0, at: Instant(nanoseconds: 1_000_000_000_000 + UInt64(ms) * 1_000_000)) }
    }
    try writer.close()
}

@Test func outOfOrderPcapReplaysInTheSimulator() throws {
    let dir = temporaryDirectory()
    try writeBackwardsPcap(dir + "/back.pcap")
    let text = "name: back\nduration: 20s\n" + base + "timeline:\n  - { at: 1s, do: replay, pcap: back.pcap, into: br0, as: rep }\n"
        + "expect:\n  - { action: rep, frames: 4 }\n"
    let scenario = try Scenario.parse(text, file: dir + "/back.yml")
    let run = SimBackend.run(scenario, seed: 1, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    #expect(run.outcomes.allSatisfy { $0.passed }, "\(run.outcomes.map(\.message))")
    #expect(run.log.contains { $0.contains("1 frame stamped earlier than the one before") }, "\(run.log)")
}

@Test func outOfOrderPcapTimesAreClampedAndCounted() throws {
    let dir = temporaryDirectory()
    try writeBackwardsPcap(dir + "/back.pcap")
    var action = ReplayAction(pcap: "back.pcap", path: dir + "/back.pcap", into: .host("vm1"))
    action.speed = .multiplier(1)
    let plan = try ReplaySchedule(action)
    #expect(plan.outOfOrder == 1)
    #expect(plan.deliveries.map(\.offset) == [.zero, .seconds(5), .seconds(5), .seconds(6)])
    let timing = ReplayTiming(plan.frames)
    #expect(timing.span == .seconds(6) && timing.outOfOrder == 1)
}

@Test func replayPassLengthNeverTraps() {
    // The CLI sizes the run from the capture's span and the speed; extreme ones saturate.
    #expect(ReplayTiming.passLength(span: .seconds(6), speed: 2) == .seconds(3))
    #expect(ReplayTiming.passLength(span: .seconds(4_000_000_000), speed: 0.001) == ReplayTiming.longestPass)
    #expect(ReplayTiming.passLength(span: .seconds(1), speed: 1e-300) == ReplayTiming.longestPass)
}

@Test func hugeRatesAreLocatedErrors() {
    expectError(base + "links:\n  - { between: [vm1, br0], rate: 1e300tbit }\n", line: 6, at: "1e300tbit", message: "out of range", fix: "100tbit")
    expectError(base + "timeline:\n  - { at: 1s, do: udp, node: vm1, to: vm2, rate: 1e300pps }\n", line: 6, at: "1e300pps", message: "out of range")
    expectError(base + "timeline:\n  - { at: 1s, do: udp, node: vm1, to: vm2, rate: 1e20mbit }\n", line: 6, at: "1e20mbit", message: "out of range")
}

/// Numbers from tools' output (iperf3 JSON, ping lines) and bounds saturate instead of trapping.
@Test func outsideNumbersSaturate() {
    #expect(Saturating.int(.nan) == 0 && Saturating.int(1e300) == .max && Saturating.int(-1e300) == .min && Saturating.int(41.9) == 41)
    #expect(Saturating.uint64(.infinity) == .max && Saturating.uint64(-5) == 0 && Saturating.uint64(2.6) == 3)
    #expect(Saturating.duration(seconds: 1e300) == .nanoseconds(Int64.max) && Saturating.duration(seconds: -1) == .zero)
    #expect(Saturating.duration(seconds: 1.5) == .milliseconds(1500))
    #expect(Format.number(1e20) == "1e+20" && Format.number(1.5) == "1.5")
    #expect(IPerf3Report.int(1e300 as Double) == .max)
}
