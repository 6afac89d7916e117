// The log's rate limiter on virtual time (EventLog.swift): a flood is cut to the burst, and what
// was held back is summed up when the window ends — on the timer's deadline, without waiting for
// the event to pass again — or in the next line let through, whichever comes first.
import Basics
@testable import BridgeDaemon
import Testing

@Suite("Event log rate limit")
struct EventLogRateLimitTests {
    let start = Instant(nanoseconds: 7_000_000_000)

    @Test("Held-back lines are reported when the window ends, on the deadline the daemon's timer is armed at")
    func summaryAtWindowEnd() {
        var limiter = EventRateLimiter()
        #expect(limiter.deadline == nil)
        var admitted = 0
        for i in 0..<25 {  // 25 connects within 24 µs: the burst passes, 5 are held back
            if limiter.admit("guest connected", now: start + .microseconds(i)).admitted { admitted += 1 }
        }
        #expect(admitted == EventRateLimiter.burst)
        let due = start + .microseconds(EventRateLimiter.burst) + EventRateLimiter.interval  // one interval after the first held back
        #expect(limiter.deadline == due)
        #expect(limiter.due(now: due - .nanoseconds(1)).isEmpty, "reported before the window ended")
        let reported = limiter.due(now: due)
        #expect(reported.map(\.event) == ["guest connected"] && reported.map(\.count) == [5])
        // Reported once: nothing left, no deadline, and the next line that passes carries no count.
        #expect(limiter.deadline == nil && limiter.due(now: due + .seconds(10)).isEmpty)
        let next = limiter.admit("guest connected", now: due + .seconds(10))
        #expect(next.admitted && next.heldBack == 0)
        #expect(limiter.totalSuppressed == 5)
    }

    @Test("Events have windows of their own; a line let through first carries the count instead")
    func perEventWindows() {
        var limiter = EventRateLimiter()
        for i in 0..<21 { _ = limiter.admit("a", now: start + .microseconds(i)) }              // 1 held back at +20 µs
        for i in 0..<23 { _ = limiter.admit("b", now: start + .milliseconds(500) + .microseconds(i)) }  // 3 held back from +500.02 ms
        #expect(limiter.deadline == start + .microseconds(20) + .seconds(1))
        let first = limiter.due(now: start + .milliseconds(1100))
        #expect(first.map(\.event) == ["a"] && first.map(\.count) == [1])
        #expect(limiter.deadline == start + .milliseconds(500) + .microseconds(20) + .seconds(1))
        // "b" gets a token back (its bucket emptied at +500.022 ms, credit for one line a second
        // later) just before its window ends (+1500.020 ms): that line carries the count, no summary follows.
        #expect(!limiter.admit("b", now: start + .milliseconds(1400)).admitted)
        let through = limiter.admit("b", now: start + .milliseconds(1500) + .microseconds(10))
        #expect(through.admitted && through.heldBack == 4)
        #expect(limiter.deadline == nil && limiter.drain().isEmpty)
    }

    @Test("A flood stays a flood of nothing: one summary per window, the counts add up")
    func floodSummaries() {
        var limiter = EventRateLimiter()
        var admitted = 0, summaries = 0, summed: UInt64 = 0
        // 1,000 events a second for 5 s, the timer serviced every millisecond as the reactor would.
        for ms in 0..<5_000 {
            let now = start + .milliseconds(ms)
            let (ok, held) = limiter.admit("vhost-user", now: now)
            if ok { admitted += 1; summed += held; if held > 0 { summaries += 1 } }
            for (_, count) in limiter.due(now: now) { summaries += 1; summed += count }
        }
        for (_, count) in limiter.drain() { summed += count }  // the window still open at the end (shutdown)
        #expect(admitted <= EventRateLimiter.burst + 5 && summaries <= 6, "\(admitted) lines and \(summaries) summaries for a 5 s flood")
        // Every event either logged or counted in a summary.
        #expect(UInt64(admitted) + summed == 5_000 && summed == limiter.totalSuppressed)
    }
}
