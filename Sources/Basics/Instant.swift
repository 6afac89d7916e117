// A point on a monotonic timeline, in nanoseconds since an arbitrary epoch.
//
// Time is an input to every state machine in Sluice: nothing below the I/O layer reads a clock.
// The real driver feeds instants from CLOCK_MONOTONIC; the simulator feeds its virtual clock.

/// A point in time, nanoseconds since the driver's epoch. Trivial, 8 bytes, totally ordered.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    /// Later than every real instant: "no deadline".
    public static let distantFuture = Instant(nanoseconds: .max)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    /// `self + d`, saturating at `distantFuture`; negative durations saturate at zero.
    @inlinable public static func + (a: Instant, d: Duration) -> Instant {
        let ns = d.nanosecondsClamped
        if ns >= 0 {
            let (sum, overflow) = a.nanoseconds.addingReportingOverflow(UInt64(ns))
            return Instant(nanoseconds: overflow ? .max : sum)
        }
        let magnitude = UInt64(-ns)
        return Instant(nanoseconds: a.nanoseconds > magnitude ? a.nanoseconds - magnitude : 0)
    }

    @inlinable public static func - (a: Instant, d: Duration) -> Instant { a + (.zero - d) }

    /// The signed distance `a - b`.
    @inlinable public static func - (a: Instant, b: Instant) -> Duration {
        a >= b ? .nanoseconds(Int64(clamping: a.nanoseconds - b.nanoseconds))
               : .zero - .nanoseconds(Int64(clamping: b.nanoseconds - a.nanoseconds))
    }

    public var description: String {
        let s = nanoseconds / 1_000_000_000, frac = nanoseconds % 1_000_000_000
        let digits = String(frac)
        return "\(s).\(String(repeating: "0", count: 9 - digits.count))\(digits)s"
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to the Int64 range.
    @inlinable public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return ns.addingReportingOverflow(attoseconds / 1_000_000_000).overflow ? (seconds < 0 ? .min : .max)
            : ns + attoseconds / 1_000_000_000
    }
}
