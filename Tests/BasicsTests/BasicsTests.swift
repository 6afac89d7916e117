import Testing
@testable import Basics

@Test func instantArithmeticSaturates() {
    let t = Instant(nanoseconds: 1_500_000_000)
    #expect(t + .milliseconds(500) == Instant(nanoseconds: 2_000_000_000))
    #expect(t - .seconds(2) == .zero)
    #expect(Instant.distantFuture + .seconds(1) == .distantFuture)
    #expect((Instant(nanoseconds: 10) - Instant(nanoseconds: 30)) == .nanoseconds(-20))
    #expect(t.description == "1.500000000s")
}

@Test func seededRandomIsReproducibleAndSplitsByName() {
    var a = SeededRandom(seed: 42, component: "link0")
    var b = SeededRandom(seed: 42, component: "link0")
    var c = SeededRandom(seed: 42, component: "link1")
    let xs = (0..<8).map { _ in a.next() }
    #expect(xs == (0..<8).map { _ in b.next() })
    #expect(xs != (0..<8).map { _ in c.next() })
    // Pinned: the sequence must not change between processes or releases (scenario pcaps depend on it).
    // Values computed by an independent Python xoshiro256** + SplitMix64 implementation.
    var pinned = SeededRandom(seed: 1)
    #expect(pinned.next() == 0xB3F2_AF6D_0FC7_10C5)
    #expect(pinned.next() == 0x853B_5596_4736_4CEA)
    var u = SeededRandom(seed: 7)
    for _ in 0..<1000 { let x = u.nextUnit(); #expect(x >= 0 && x < 1) }
}
