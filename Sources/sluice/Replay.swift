import ArgumentParser
import Basics
import Capture
import Foundation
import Lab

/// `sluice replay capture.pcap --scenario S --into NODE [--speed X | --topspeed] [--loop N]`.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a pcap's frames into a node of a scenario's topology (simulator backend).",
        discussion: """
        The scenario's topology and timeline run as written, its expectations are left out, and a
        replay of the capture starts at time 0 into NODE (a bridge, bridge.segment, or host). The
        output captures and counters go to the report directory.
        """)

    @Argument(help: "An Ethernet pcap file.") var capture: String
    @Option(help: "The scenario whose topology receives the frames.") var scenario: String
    @Option(help: "Where the frames enter: a bridge (its first segment), bridge.segment, or a host.") var into: String
    @Option(help: "Play at the recorded pacing divided by this factor (2 = twice as fast).") var speed: Double?
    @Flag(help: "Play back to back, as fast as the target takes them.") var topspeed = false
    @Option(help: "Play the capture this many times.") var loop = 1
    @Option(help: "Seed (default: the scenario's).") var seed: UInt64?
    @Option(help: "Report directory (default: reports/replay-<UTC time>).") var report: String?

    func validate() throws {
        if speed != nil && topspeed { throw ValidationError("give --speed or --topspeed, not both") }
        if let speed, !ReplayAction.speedRange.contains(speed) { throw ValidationError("--speed must be a factor in \(ReplayAction.speedRangeText)") }
        guard (1...1_000_000).contains(loop) else { throw ValidationError("--loop must be 1...1000000") }
    }

    func run() throws {
        // The capture first: a wrong link type or a missing file is the likeliest mistake.
        let records: [CaptureRecord]
        do { records = try PcapReader(path: capture).readAll() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var s: Scenario
        do { s = try Scenario.load(path: scenario) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        let target: ReplayTarget
        let parts = into.split(separator: ".", maxSplits: 1).map(String.init)
        switch s.node(named: parts[0]) {
        case let node? where node.host != nil && parts.count == 1:
            target = .host(node.name)
        case let node? where node.bridge != nil:
            let segments = node.bridge!.segmentNames
            let segment = parts.count == 2 ? parts[1] : segments[0]
            guard segments.contains(segment) else {
                throw ValidationError("\(node.name) has no segment '\(segment)'; it has: \(segments.joined(separator: ", "))")
            }
            target = .bridge(BridgeSegment(bridge: node.name, segment: segment))
        default:
            throw ValidationError("no node '\(into)' in \(scenario); nodes: \(s.nodes.map(\.name).joined(separator: ", "))")
        }
        var action = ReplayAction(pcap: capture, path: capture, into: target)
        action.loop = loop
        if topspeed { action.speed = .topSpeed } else if let speed { action.speed = .multiplier(speed) }
        // Long enough for every pass at the chosen pace, plus a second for answers to arrive.
        // Stamps that go back are clamped (played at the previous frame's time) and counted.
        let timing = ReplayTiming(records)
        if let clamped = timing.outOfOrderNote { print("note: \(capture): \(clamped)") }
        let pass = topspeed ? Duration.milliseconds(1) : ReplayTiming.passLength(span: timing.span, speed: speed ?? 1)
        s.duration = max(s.duration, min(pass * loop + .seconds(1), ReplayTiming.longestPass))
        s.expectations = []
        s.timeline.append(TimelineEntry(index: s.timeline.count, name: "replay", trigger: .at(.zero), action: .replay(action),
                                        location: ScenarioLocation(file: "(command line)", line: 0, column: 0)))

        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let directory = report ?? "reports/replay-\(formatter.string(from: Date()))"
        print("replaying \(records.count) frames × \(loop) from \(capture) into \(target) of \(s.name)")
        let run = SimBackend.run(s, seed: seed ?? s.seed, captureDirectory: "\(directory)/captures/replay")
        if case .error(let why) = run.status {
            FileHandle.standardError.write(Data("error: \(why)\n".utf8))
            throw ExitCode(2)
        }
        for a in run.actions where a.name == "replay" {
            guard case .replay(let r)? = a.result else { continue }
            let end = r.finishedAt.map { " until \($0)" } ?? " (still playing when the run ended)"
            print("  played \(r.frames) frames, \(r.bytes) bytes, from \(r.startedAt)\(end)")
        }
        for c in run.captures { print("  capture \(c.name) (\(c.at)): \(c.frames) frames → \(c.path)") }
        for table in run.counters {
            let nonzero = table.rows.filter { $0.value != 0 }
            guard !nonzero.isEmpty else { continue }
            print("  \(table.title): " + nonzero.map { "\($0.name) \($0.value)" }.joined(separator: ", "))
        }
        let files = try ReportWriter.write([run], to: directory, title: "Sluice replay of \((capture as NSString).lastPathComponent)")
        print("report: \(files.html)")
    }
}
