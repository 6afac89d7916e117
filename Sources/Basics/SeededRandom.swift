// Deterministic randomness: one seed per run, split per component by a stable name.
//
// The generator is xoshiro256** seeded through SplitMix64 — small, fast and reproducible across
// processes and platforms (unlike SystemRandomNumberGenerator or Hasher, which are seeded per process).

/// A reproducible random number generator. Same seed and name ⇒ same sequence, everywhere.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    @usableFromInline var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(&sm), splitMix(&sm), splitMix(&sm), splitMix(&sm))
    }

    /// A generator for the component `name`, independent of every other name under the same seed.
    /// The name is hashed with FNV-1a (stable, unlike Swift's `Hasher`).
    public init(seed: UInt64, component name: String) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        self.init(seed: seed ^ h)
    }

    /// A child generator for `name`, derived from this generator's next output.
    public mutating func split(_ name: String) -> SeededRandom {
        SeededRandom(seed: next(), component: name)
    }

    @inlinable public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// A uniform double in [0, 1).
    @inlinable public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
