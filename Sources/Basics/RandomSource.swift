// Randomness is an input, like time: every component that needs it (WireGuard's indices, jitter,
// ephemeral keys and cookie secrets; the NAT's port choice; simulated hosts) takes a `RandomSource`
// from its caller and never picks one itself. Simulations and tests pass a `SeededRandom`
// (reproducible from one seed); the real drivers (`sluice bridge`, `sluice wg up`) pass the
// system's CSPRNG, `SystemRandom` in HostIO.
//
// Randomness is drawn at handshakes and new NAT mappings only, never per packet, so components
// may hold a source as `any RandomSource`.

/// Where a component's random numbers come from, chosen by its caller.
public protocol RandomSource: RandomNumberGenerator, Sendable {
    /// A source for the sub-component `name`: a seeded source derives an independent stream (same
    /// seed and name, same stream); the system's CSPRNG returns another handle on itself.
    mutating func split(_ name: String) -> Self

    /// Fills `buffer` with random bytes.
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

extension RandomSource {
    /// One `next()` per byte (its low byte): the order seeded streams have always used.
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: next()) }
    }

    /// A seeded generator for the sub-component `name`, drawn from this source — for state that
    /// needs cheap, non-secret randomness (the NAT's port choice). From a `SeededRandom` it is
    /// exactly `split(name)`.
    public mutating func seeded(_ name: String) -> SeededRandom {
        SeededRandom(seed: next(), component: name)
    }
}

extension SeededRandom: RandomSource {}
