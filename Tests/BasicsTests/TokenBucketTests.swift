// The token bucket that rate-limits log lines a guest can cause (TokenBucket.swift).
import Testing
@testable import Basics

@Test func aBurstPassesThenOnePerInterval() {
    let t0 = Instant(nanoseconds: 1_000)
    var bucket = TokenBucket(burst: 3, interval: .seconds(1), now: t0)
    var taken: [Bool] = []
    for _ in 0..<5 { taken.append(bucket.take(now: t0)) }
    #expect(taken == [true, true, true, false, false])
    let early = bucket.take(now: t0 + .milliseconds(999))
    let onTime = bucket.take(now: t0 + .seconds(1))
    let again = bucket.take(now: t0 + .seconds(1))
    #expect(!early && onTime && !again)
    // A long quiet refills to the burst, no more.
    taken = []
    for _ in 0..<5 { taken.append(bucket.take(now: t0 + .seconds(3600))) }
    #expect(taken == [true, true, true, false, false])
}

@Test func timeGoingBackwardsOrHugeValuesNeverTrap() {
    var bucket = TokenBucket(burst: Int.max, interval: .seconds(Int64.max), now: Instant(nanoseconds: .max))
    let backwards = bucket.take(now: .zero)
    let far = bucket.take(now: .distantFuture)
    #expect(backwards && far)
    var open = TokenBucket(burst: 0, interval: .zero)
    var all = true
    for _ in 0..<100 where !open.take(now: .zero) { all = false }
    #expect(all, "a zero interval allows everything")
}
