// The wall clock as a value: which Unix time it was at one monotonic instant. Nothing below the
// drivers reads the system's real-time clock; a component that needs Unix time (WireGuard's
// TAI64N handshake timestamps) is handed a `WallClock` and reads it at the `now` it is given.
// The real drivers make one from CLOCK_REALTIME (`WallClock.system(at:)` in HostIO) and may hand
// a fresh one later (the clock was stepped); simulations use `.monotonic`.

/// Unix time `unixNanoseconds` at monotonic `anchor`; it advances with the monotonic clock.
public struct WallClock: Hashable, Sendable, CustomStringConvertible {
    public var unixNanoseconds: UInt64
    public var anchor: Instant

    @inlinable public init(unixNanoseconds: UInt64, at anchor: Instant) {
        self.unixNanoseconds = unixNanoseconds; self.anchor = anchor
    }

    /// The monotonic instant read as Unix time (Unix 0 at `Instant.zero`) — for simulations and
    /// tests, where no real clock exists.
    public static let monotonic = WallClock(unixNanoseconds: 0, at: .zero)

    /// Unix nanoseconds at `now`, wrapping rather than trapping on absurd inputs.
    @inlinable public func unixNanoseconds(at now: Instant) -> UInt64 {
        let ns = (now - anchor).nanosecondsClamped
        return ns >= 0 ? unixNanoseconds &+ UInt64(ns) : unixNanoseconds &- ns.magnitude
    }

    public var description: String { "unix \(unixNanoseconds)ns at \(anchor)" }
}
