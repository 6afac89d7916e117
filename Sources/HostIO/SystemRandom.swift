// The system's randomness and real-time clock, at the edge: the real drivers hand these to the
// state machines below them (which never pick them on their own; see Basics/RandomSource.swift
// and Basics/WallClock.swift).

import Basics
import Glibc

/// The kernel's CSPRNG (getrandom(2), through the standard library's `SystemRandomNumberGenerator`),
/// as the `RandomSource` a real driver passes down: for WireGuard's ephemeral keys, indices and
/// cookie secrets and the NAT's port choice.
public struct SystemRandom: RandomSource {
    public init() {}

    public mutating func next() -> UInt64 {
        var g = SystemRandomNumberGenerator()
        return g.next()
    }

    /// Another handle on the same CSPRNG (it has no streams to split).
    public mutating func split(_ name: String) -> SystemRandom { SystemRandom() }

    /// Eight bytes per draw.
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var i = 0
        while i < buffer.count {
            var word = next()
            let n = min(8, buffer.count - i)
            withUnsafeBytes(of: &word) { w in
                for j in 0..<n { buffer[i + j] = w[j] }
            }
            word = 0
            i += n
        }
    }
}

extension WallClock {
    /// CLOCK_REALTIME read now, anchored at the monotonic instant `now` the driver just read.
    public static func system(at now: Instant) -> WallClock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return WallClock(unixNanoseconds: UInt64(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_000 &+ UInt64(truncatingIfNeeded: ts.tv_nsec),
                         at: now)
    }
}
