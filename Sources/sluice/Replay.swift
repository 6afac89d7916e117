import ArgumentParser
import Basics
import Capture
import Foundation
import Lab

/// `sluice replay capture.pcap --scenario S --into NODE [--split … --into client=… --into server=…]
/// [--rewrite-mac] [--map FROM=TO] [--speed X | --topspeed] [--loop N] [--max-gap D | --keep-gaps]`.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a pcap's frames into a scenario's topology (simulator backend).",
        discussion: """
        The scenario's topology and timeline run as written, its expectations are left out, and a \
        replay of the capture starts at --at (0s) into NODE: a bridge (its first segment), \
        bridge.segment, a host, or bridge.wan (each frame's UDP payload into the WAN's WireGuard/UDP \
        receive path, from the WAN's peer). A two-sided capture can be split (--split auto, \
        cidr:NET,… or mac:MAC,…) with each side played into its own node (--into client=NODE \
        --into server=NODE); --rewrite-mac points each side's unicast frames at the router of the \
        segment (or the host) they enter, and --map moves addresses between networks (checksums \
        patched), so the frames are routed, NATed and encrypted. Idle gaps longer than --max-gap \
        (1s) are cut to it unless --keep-gaps. At the end: what became of the frames, by reason. \
        The output captures and counters go to the report directory.
        """)

    @Argument(help: "An Ethernet pcap file.") var capture: String
    @Option(help: "The scenario whose topology receives the frames.") var scenario: String
    @Option(help: "Where the frames enter: a bridge (its first segment), bridge.segment, bridge.wan or a host; with --split, client=NODE and server=NODE.")
    var into: [String]
    @Option(help: "Split the capture into client and server sides: auto, cidr:10.0.0.0/8[,…] (client networks) or mac:02:00:00:00:00:01[,…] (client MACs).")
    var split: String?
    @Flag(help: "Rewrite unicast frames' destination MAC to their receiver: the router of the segment they enter, or the host.")
    var rewriteMAC = false
    @Option(help: "Map addresses FROM=TO (equal prefixes), e.g. 192.168.1.0/24=10.1.0.0/24; prefix client: or server: for one side only. Repeatable.")
    var map: [String] = []
    @Option(help: "Play at the recorded pacing divided by this factor (2 = twice as fast).") var speed: Double?
    @Flag(help: "Play back to back, as fast as the receivers' free buffers allow.") var topspeed = false
    @Option(help: "Play the capture this many times.") var loop = 1
    @Option(help: "Play idle gaps longer than this as this long (default 1s).") var maxGap: String?
    @Flag(help: "Keep every idle gap as captured.") var keepGaps = false
    @Option(help: "Start the replay this long into the run (default 0s), e.g. once tunnels are up and leases bound.") var at: String?
    @Option(help: "Seed (default: the scenario's).") var seed: UInt64?
    @Option(help: "Report directory (default: reports/replay-<UTC time>).") var report: String?

    /// The options alone, before any file is read (errors show this command's usage).
    func validate() throws {
        do { _ = try request.checkedOptions() } catch { throw ValidationError(error.description) }
    }

    var request: ReplayRequest {
        var r = ReplayRequest(pcap: capture, into: into)
        r.split = split; r.rewriteMAC = rewriteMAC; r.maps = map
        r.speed = speed; r.topspeed = topspeed; r.loop = loop
        r.maxGap = maxGap; r.keepGaps = keepGaps; r.at = at
        return r
    }

    func run() throws {
        // The capture first: a wrong link type or a missing file is the likeliest mistake.
        let records: [CaptureRecord]
        do { records = try PcapReader(path: capture).readAll() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let base: Scenario
        do { base = try Scenario.load(path: scenario) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        let request = self.request
        let actions: [(name: String, action: ReplayAction)]
        let s: Scenario
        do {
            actions = try request.actions(for: base)
            let prepared = try request.scenario(base, actions: actions)
            s = prepared.scenario
            for note in prepared.notes { print("note: \(capture): \(note)") }
        } catch let error as ReplayOptionError {
            throw ValidationError(error.description)
        }

        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let directory = report ?? "reports/replay-\(formatter.string(from: Date()))"
        let places = actions.map { "\($0.action.into)\($0.action.rewrite.split == nil ? "" : " (\($0.action.rewrite.side))")" }
        print("replaying \(records.count) frames × \(loop) from \(capture) into \(places.joined(separator: ", ")) of \(s.name)")
        let run = SimBackend.run(s, seed: seed ?? s.seed, captureDirectory: "\(directory)/captures/replay")
        if case .error(let why) = run.status {
            FileHandle.standardError.write(Data("error: \(why)\n".utf8))
            throw ExitCode(2)
        }
        for a in run.actions where actions.contains(where: { $0.name == a.name }) {
            guard case .replay(let r)? = a.result else { continue }
            let end = r.finishedAt.map { " until \($0)" } ?? " (still playing when the run ended)"
            print("  \(a.name): played \(r.frames) frames, \(r.bytes) bytes, from \(r.startedAt)\(end)")
        }
        for line in run.log where actions.contains(where: { line.contains(" \($0.name): ") }) { print("  \(line)") }
        for c in run.captures { print("  capture \(c.name) (\(c.at)): \(c.frames) frames → \(c.path)") }
        var outcomes: CounterTable?
        for table in run.counters {
            if table.title == "replay outcomes" { outcomes = table; continue }
            let nonzero = table.rows.filter { $0.value != 0 }
            guard !nonzero.isEmpty else { continue }
            print("  \(table.title): " + nonzero.map { "\($0.name) \($0.value)" }.joined(separator: ", "))
        }
        if let outcomes {
            print("outcomes:")
            for row in outcomes.rows { print("  \(row.name): \(row.value)") }
        }
        let files = try ReportWriter.write([run], to: directory, title: "Sluice replay of \((capture as NSString).lastPathComponent)")
        print("report: \(files.html)")
    }
}
