// A `do: replay` entry's frames and when each is due, and how far the replay got. The pcap is
// read the same way on every backend, rewritten as the entry says (one side of a split capture,
// MACs, mapped networks: ReplayRewrite), and its frames keep the file's spacing (idle gaps
// longer than `maxGap` cut to it; divided by the speed multiplier; loops follow one another).
// Where the frames enter and on which clock they are scheduled is the backend's. Runs that drive
// their own timeline (sim, netns) start a replay entry with the same steps
// (`ReplayingRun.startReplay`); at top speed those play the frames one after another at one
// instant, each once the receiving guests have a free receive buffer (`replayReceiversReady`).
import Basics
import Capture
import Datapath
import Engine
import YAMLSchema

/// The frames of a replay, in the order they are played, with when each is due.
struct ReplaySchedule {
    let action: ReplayAction
    /// The pcap's frames this entry plays (its side, rewritten), once.
    let frames: [CaptureRecord]
    /// What the rewrite did.
    let tally: ReplayRewrite.Tally
    /// When each frame plays, from the first (stamps that go back are clamped, long gaps cut).
    let timing: ReplayTiming

    /// Reads `action`'s pcap and rewrites its frames.
    init(_ action: ReplayAction) throws(CaptureError) {
        self.action = action
        let all = try PcapReader(path: action.path).readAll()
        let kept: [Int]
        (frames, kept, tally) = action.rewrite.apply(to: all)
        // One side of a split capture keeps the capture's clock, so the sides play in step.
        let full = ReplayTiming(all, maxGap: action.maxGap)
        timing = action.rewrite.split == nil ? full : full.picking(kept)
    }

    /// Frames played in all (the file once per loop).
    var total: Int { frames.count * action.loop }

    /// Frames stamped earlier than the frame before them (played at that frame's time).
    var outOfOrder: Int { timing.outOfOrder }

    /// Every frame to play, loop after loop, with its offset from the replay's start.
    var deliveries: [(offset: Duration, record: CaptureRecord)] {
        guard !frames.isEmpty else { return [] }
        let span = timing.span
        var out: [(offset: Duration, record: CaptureRecord)] = []
        out.reserveCapacity(total)
        for loop in 0..<action.loop {
            for (k, record) in frames.enumerated() {
                let offset: Duration
                switch action.speed {
                case .topSpeed: offset = .zero
                case .multiplier(let x): offset = ReplayTiming.passLength(span: timing.offsets[k] + span * loop, speed: x)
                }
                out.append((offset, record))
            }
        }
        return out
    }
}

/// A capture's frames on a clock that never goes back: real captures have stamps that do (clock
/// steps, multi-queue NICs), and those frames play at the time of the frame before them, counted.
public struct ReplayTiming: Sendable {
    /// Each frame's time from the first, clamped to never go back.
    public let offsets: [Duration]
    /// Frames stamped earlier than the frame before them.
    public let outOfOrder: Int
    /// Idle gaps longer than `maxGap`, each played as `maxGap`, and the time they left out.
    public let gapsCut: Int
    public let timeCut: Duration

    /// With `maxGap`, a gap between two frames longer than it plays as `maxGap` (nil: as captured).
    public init(_ records: [CaptureRecord], maxGap: Duration? = nil) {
        var offsets: [Duration] = []
        offsets.reserveCapacity(records.count)
        var outOfOrder = 0, gapsCut = 0
        var timeCut = Duration.zero
        if let first = records.first?.time {
            var latest = first
            var offset = Duration.zero
            for r in records {
                if r.time < latest {
                    outOfOrder += 1
                } else {
                    var gap = r.time - latest
                    if let maxGap, gap > maxGap {
                        gapsCut += 1
                        timeCut += gap - maxGap
                        gap = maxGap
                    }
                    offset += gap
                    latest = r.time
                }
                offsets.append(offset)
            }
        }
        self.span = offsets.last ?? .zero
        self.offsets = offsets
        self.outOfOrder = outOfOrder
        self.gapsCut = gapsCut
        self.timeCut = timeCut
    }

    /// From the first frame to the last (of the whole capture, for one side of a split one).
    public let span: Duration

    /// The times of the frames at `indices` only, on the same clock (and span).
    func picking(_ indices: [Int]) -> ReplayTiming {
        ReplayTiming(offsets: indices.map { offsets[$0] }, outOfOrder: outOfOrder, gapsCut: gapsCut, timeCut: timeCut, span: span)
    }

    private init(offsets: [Duration], outOfOrder: Int, gapsCut: Int, timeCut: Duration, span: Duration) {
        self.offsets = offsets; self.outOfOrder = outOfOrder; self.gapsCut = gapsCut; self.timeCut = timeCut; self.span = span
    }

    /// The longest a replay pass is stretched to: a run's longest duration.
    public static let longestPass = YAMLValue.maximumDuration

    /// `span` played at `speed` (the recorded pacing divided by it), saturating at `longestPass`
    /// rather than overflowing (`Duration / Double` traps on a huge quotient).
    public static func passLength(span: Duration, speed: Double) -> Duration {
        let ns = Double(span.nanosecondsClamped) / speed
        guard ns.isFinite, ns < Double(longestPass.nanosecondsClamped) else { return longestPass }
        return .nanoseconds(Int64(max(0, ns).rounded()))
    }

    /// "1 frame stamped earlier than the one before (played at that one's time)", or nil if none.
    public var outOfOrderNote: String? {
        guard outOfOrder > 0 else { return nil }
        return "\(outOfOrder) frame\(outOfOrder == 1 ? "" : "s") stamped earlier than the one before (played at that one's time)"
    }

    /// "3 idle gaps longer than 1s cut to it (2d 4h left out)", or nil if none.
    public func gapNote(maxGap: Duration?) -> String? {
        guard gapsCut > 0, let maxGap else { return nil }
        return "\(gapsCut) idle gap\(gapsCut == 1 ? "" : "s") longer than \(Format.duration(maxGap)) cut to it (\(Format.duration(timeCut)) left out)"
    }
}

/// How far a replay got: frames to play, and frames and bytes played so far.
struct ReplayProgress {
    var frames: Int
    var bytes = 0
    var played = 0
    /// Top speed: set when a receiver had no buffer for `ReplayPacing.patience`; the rest of the
    /// frames then play without waiting (a stuck guest must not stretch the run frame by frame).
    var gaveUpWaiting = false

    init(frames: Int) { self.frames = frames }

    /// Counts `record` as played; true if it was the last.
    mutating func play(_ record: CaptureRecord) -> Bool {
        bytes += record.bytes.count
        played += 1
        return played == frames
    }

    func result(startedAt: Instant, finishedAt: Instant?) -> ReplayResult {
        ReplayResult(startedAt: startedAt, finishedAt: finishedAt, frames: played, bytes: bytes)
    }
}

/// Why a replay's frames cannot enter where the entry says.
struct ReplayRefusal: Error {
    var why: String
}

extension Bridge {
    /// A port on `segment` for entry `name`'s replayed frames (it sends nothing on).
    func attachReplayPort(entry name: String, segment: BridgeSegment) throws(ReplayRefusal) -> PortID {
        guard let port = try? attachExternal(name: "replay:\(name)", kind: .tap, segment: segment.segment, transmit: { _ in }) else {
            throw ReplayRefusal(why: "no port free on \(segment.bridge)")
        }
        return port
    }
}

/// A run that drives its own timeline and plays `replay` entries on its clock (sim, netns).
protocol ReplayingRun: AnyObject {
    var scenario: Scenario { get }
    /// The run's clock.
    var now: Instant { get }
    func note(_ text: String)
    func notStarted(_ i: Int, _ why: String)
    /// Marks entry `i` finished now (starting what waits on it).
    func complete(_ i: Int)
    /// The progress of each replay entry that started, by index.
    var replays: [Int: ReplayProgress] { get set }
    /// What hands entry `name`'s replayed frames to `target`.
    func replayInput(_ target: ReplayTarget, entry name: String) throws(ReplayRefusal) -> (CaptureRecord) -> Void
    /// Runs `body` at `time` on the run's clock.
    func scheduleReplayFrame(of name: String, at time: Instant, _ body: @escaping () -> Void)
    /// True when every guest that frames entering at `target` can reach has a free receive
    /// buffer (top speed waits for it).
    func replayReceiversReady(_ target: ReplayTarget) -> Bool
}

/// How a top-speed replay waits for receive buffers: it looks again every `step`, and after
/// `patience` plays on without waiting any more (the drops are counted, as no-rx-buffer).
enum ReplayPacing {
    static let step: Duration = .microseconds(10)
    static let patience: Duration = .milliseconds(10)
}

extension ReplayingRun {
    /// Starts replay entry `i`: reads the pcap (not started if it cannot be read; an empty one is
    /// done at once), then schedules every frame at its offset from now into `replayInput`'s
    /// target (not started if there is none); the entry finishes with its last frame.
    func startReplay(_ i: Int, _ r: ReplayAction) {
        let name = scenario.timeline[i].displayName
        let plan: ReplaySchedule
        do { plan = try ReplaySchedule(r) } catch {
            return notStarted(i, "\(error)")
        }
        guard !plan.frames.isEmpty else {
            note("\(name): \(r.pcap) holds no frames")
            replays[i] = ReplayProgress(frames: 0)
            return complete(i)
        }
        let deliver: (CaptureRecord) -> Void
        do { deliver = try replayInput(r.into, entry: name) } catch {
            return notStarted(i, error.why)
        }
        note("\(name): replaying \(r.pcap) (\(plan.frames.count) frames × \(r.loop)) into \(r.into)")
        if let split = r.rewrite.split {
            note("\(name): split \(split): \(plan.tally.kept) \(r.rewrite.side) frames kept, \(plan.tally.otherSide) of the other side left out")
        }
        if plan.tally.macRewritten + plan.tally.mapped > 0 {
            note("\(name): \(plan.tally.macRewritten) destination MACs rewritten, \(plan.tally.mapped) frames' addresses mapped")
        }
        if let clamped = plan.timing.outOfOrderNote { note("\(name): \(r.pcap): \(clamped)") }
        if let cut = plan.timing.gapNote(maxGap: r.maxGap) { note("\(name): \(r.pcap): \(cut)") }
        replays[i] = ReplayProgress(frames: plan.total)
        if case .topSpeed = r.speed {
            return playBackToBack(i, name, plan.deliveries.map(\.record), from: 0, into: r.into, deliver, waitedSince: nil)
        }
        let start = now
        for (offset, record) in plan.deliveries {
            scheduleReplayFrame(of: name, at: start + offset) { [unowned self] in
                deliver(record)
                if self.replays[i]?.play(record) == true { self.complete(i) }
            }
        }
    }

    /// Top speed: frame `k` now if the receivers have room (or, once, waited
    /// `ReplayPacing.patience` for it: from then on without waiting), then frame `k + 1` as the
    /// next event at the same instant, so that the guests' reaping of their rings (events of
    /// this instant too) comes first.
    func playBackToBack(_ i: Int, _ name: String, _ frames: [CaptureRecord], from k: Int, into target: ReplayTarget,
                        _ deliver: @escaping (CaptureRecord) -> Void, waitedSince: Instant?) {
        scheduleReplayFrame(of: name, at: waitedSince == nil ? now : now + ReplayPacing.step) { [unowned self] in
            let since = waitedSince ?? self.now
            if self.replays[i]?.gaveUpWaiting == false, !self.replayReceiversReady(target) {
                if self.now - since < ReplayPacing.patience {
                    return self.playBackToBack(i, name, frames, from: k, into: target, deliver, waitedSince: since)
                }
                self.replays[i]?.gaveUpWaiting = true
                self.note("\(name): a receiver had no free receive buffer for \(Format.duration(ReplayPacing.patience)); playing the rest without waiting (its drops count as no-rx-buffer)")
            }
            deliver(frames[k])
            if self.replays[i]?.play(frames[k]) == true { return self.complete(i) }
            self.playBackToBack(i, name, frames, from: k + 1, into: target, deliver, waitedSince: nil)
        }
    }
}

extension ReplayingRun {
    /// Backends that cannot see guests' receive rings do not wait.
    func replayReceiversReady(_ target: ReplayTarget) -> Bool { true }
}
