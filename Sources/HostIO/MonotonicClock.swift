// The real driver's clock: CLOCK_MONOTONIC as an `Instant`. Only the real driver reads it; every
// state machine below layer 3 is handed `now` instead (docs/architecture.md, Time).

import Basics
import Glibc

/// CLOCK_MONOTONIC: never jumps, counts from an arbitrary epoch (boot).
public struct MonotonicClock: Sendable {
    /// The system's monotonic clock.
    public init() {}

    /// The current instant.
    public func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }
}
