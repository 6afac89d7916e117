// A `do: replay` entry's frames and when each is due, and how far the replay got. The pcap is
// read the same way on every backend and its frames keep the file's spacing (divided by the
// speed multiplier; loops follow one another, or everything at once at top speed); where the
// frames enter and on which clock they are scheduled is the backend's. Runs that drive their own
// timeline (sim, netns) start a replay entry with the same steps (`ReplayingRun.startReplay`).
import Basics
import Capture
import Datapath
import Engine
import YAMLSchema

/// The frames of a replay, in the order they are played, with when each is due.
struct ReplaySchedule {
    let action: ReplayAction
    /// The pcap's frames, once.
    let frames: [CaptureRecord]
    /// When each frame plays, from the first (stamps that go back are clamped).
    let timing: ReplayTiming

    /// Reads `action`'s pcap.
    init(_ action: ReplayAction) throws(CaptureError) {
        self.action = action
        frames = try PcapReader(path: action.path).readAll()
        timing = ReplayTiming(frames)
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

    public init(_ records: [CaptureRecord]) {
        var offsets: [Duration] = []
        offsets.reserveCapacity(records.count)
        var outOfOrder = 0
        if let first = records.first?.time {
            var latest = first
            for r in records {
                if r.time < latest { outOfOrder += 1 } else { latest = r.time }
                offsets.append(latest - first)
            }
        }
        self.offsets = offsets
        self.outOfOrder = outOfOrder
    }

    /// From the first frame to the last.
    public var span: Duration { offsets.last ?? .zero }

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
}

/// How far a replay got: frames to play, and frames and bytes played so far.
struct ReplayProgress {
    var frames: Int
    var bytes = 0
    var played = 0

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
        if let clamped = plan.timing.outOfOrderNote { note("\(name): \(r.pcap): \(clamped)") }
        replays[i] = ReplayProgress(frames: plan.total)
        let start = now
        for (offset, record) in plan.deliveries {
            scheduleReplayFrame(of: name, at: start + offset) { [unowned self] in
                deliver(record)
                if self.replays[i]?.play(record) == true { self.complete(i) }
            }
        }
    }
}
