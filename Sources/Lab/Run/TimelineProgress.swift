// Where each entry of a run's timeline stands — waiting, running, finished, or not started and
// why — and the `after:` rule: when an entry finishes, the entries waiting on its name fall due
// after their delay. Shared by the backends that drive a timeline themselves (sim, netns); the
// clock, and how a due entry is scheduled, are theirs.
import Basics

/// The state of every entry of one run's timeline, by index.
struct TimelineProgress {
    enum State {
        case waiting
        case running(startedAt: Instant)
        case finished(startedAt: Instant, at: Instant)
        case notStarted(String)
    }

    let timeline: [TimelineEntry]
    private(set) var states: [State]
    /// The entries waiting on each name (`after: name`), in timeline order: resolved once, so a
    /// finish costs what waits on it, not the length of the timeline.
    private let waiters: [String: [Int]]

    init(_ timeline: [TimelineEntry]) {
        self.timeline = timeline
        states = Array(repeating: .waiting, count: timeline.count)
        var waiters: [String: [Int]] = [:]
        for entry in timeline { if case .after(let name, _) = entry.trigger { waiters[name, default: []].append(entry.index) } }
        self.waiters = waiters
    }

    var indices: Range<Int> { states.indices }

    /// Entry `i` starts at `now`.
    mutating func start(_ i: Int, at now: Instant) { states[i] = .running(startedAt: now) }

    /// Entry `i` could not start, for `why`.
    mutating func notStarted(_ i: Int, _ why: String) { states[i] = .notStarted(why) }

    /// Marks entry `i` finished at `now` and returns the entries waiting on it (`after:`), each
    /// with when it falls due; nothing if `i` was not running.
    mutating func finish(_ i: Int, at now: Instant) -> [(entry: TimelineEntry, at: Instant)] {
        guard case .running(let startedAt) = states[i] else { return [] }
        states[i] = .finished(startedAt: startedAt, at: now)
        guard let name = timeline[i].name, let waiting = waiters[name] else { return [] }
        return waiting.compactMap { j in
            guard case .after(_, let delay) = timeline[j].trigger else { return nil }
            return (timeline[j], now + delay)
        }
    }

    /// When entry `i` started, if it is running now.
    func runningSince(_ i: Int) -> Instant? {
        if case .running(let s) = states[i] { return s }
        return nil
    }

    /// When entry `i` started, if it ever did (running or finished).
    func startedAt(_ i: Int) -> Instant? {
        switch states[i] {
        case .running(let s), .finished(let s, _): s
        case .waiting, .notStarted: nil
        }
    }

    /// When entry `i` finished, if it did.
    func finishedAt(_ i: Int) -> Instant? {
        if case .finished(_, let at) = states[i] { return at }
        return nil
    }

    /// Why entry `i` has no result; `otherwise` when it started and still gave none.
    func whyNotRun(_ i: Int, otherwise: String) -> String {
        switch states[i] {
        case .notStarted(let why): return why
        case .waiting:
            if case .after(let other, _) = timeline[i].trigger { return "waiting for '\(other)', which did not finish before the run ended" }
            return "the run ended first"
        default: return otherwise
        }
    }
}
