// Each impairment measured on many frames: rates within a few standard deviations of what was
// configured, exact where the model is exact (rate spacing, MTU, down), and the counters' books
// balanced after every run.

import Basics
import Testing
@testable import Sim

/// Frames through one link direction, and what arrived.
struct LinkRun {
    struct Arrival: Equatable {
        var sequence: Int
        var time: Instant
        var bytes: [UInt8]
    }

    let sim: Simulation
    let link: Link
    var arrivals: [Arrival] { box.arrivals }
    var counters: LinkCounters { link.aToB.counters }
    private let box = Box()
    private final class Box { var arrivals: [Arrival] = [] }

    init(seed: UInt64 = 1, _ impairments: LinkImpairments) {
        sim = Simulation(seed: seed)
        link = Link(sim, name: "test", impairments: impairments)
        let box = self.box
        link.attachB { frame, now in
            box.arrivals.append(Arrival(sequence: LinkRun.sequence(of: frame), time: now, bytes: Array(frame)))
        }
    }

    /// A frame of `size` bytes: an Ethernet header, the sequence number, a pattern.
    static func frame(_ sequence: Int, size: Int = 100) -> [UInt8] {
        var bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        for i in 0..<4 where 14 + i < size { bytes[14 + i] = UInt8(truncatingIfNeeded: sequence >> (24 - 8 * i)) }
        return bytes
    }

    static func sequence(of frame: UnsafeRawBufferPointer) -> Int {
        guard frame.count >= 18 else { return -1 }
        return (14..<18).reduce(0) { $0 << 8 | Int(frame[$1]) }
    }

    /// Sends `count` frames, the first at `start`, then every `spacing` — from one event that
    /// reschedules itself, so the agenda stays small (a zero spacing sends them all in one event).
    func send(_ count: Int, size: Int = 100, start: Instant = .zero, spacing: Duration = .microseconds(100), first: Int = 0) {
        let sim = self.sim, link = self.link
        func sendFrom(_ i: Int) {
            var i = i
            repeat {
                link.aToB.send(Self.frame(first + i, size: size))
                i += 1
            } while spacing == .zero && i < count
            if i < count { sim.schedule(at: start + spacing * i, label: "send") { sendFrom(i) } }
        }
        if count > 0 { sim.schedule(at: start, label: "send") { sendFrom(0) } }
    }

    /// Runs until every frame has arrived (or been dropped), and checks the books.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try sim.runUntilQuiet(limit: .distantFuture)
        let c = counters
        #expect(c.inFlight == 0, sourceLocation: sourceLocation)
        #expect(c.sent + c.duplicated == c.delivered + c.lost + c.queueDrops + c.mtuDrops + c.downDrops + c.inFlight,
                "\(c)", sourceLocation: sourceLocation)
        #expect(c.delivered == arrivals.count, sourceLocation: sourceLocation)
    }
}

/// `|measured - expected| ≤ k·σ` for a binomial count of `n` trials at probability `p`.
func withinBinomial(_ count: Int, n: Int, p: Double, sigmas: Double = 5) -> Bool {
    let sd = (Double(n) * p * (1 - p)).squareRoot()
    return abs(Double(count) - Double(n) * p) <= sigmas * sd
}

/// Lengths of runs of consecutive missing sequence numbers in `0..<n`.
func lossBursts(delivered: Set<Int>, n: Int) -> [Int] {
    var bursts: [Int] = []
    var run = 0
    for i in 0..<n {
        if delivered.contains(i) { if run > 0 { bursts.append(run) }; run = 0 } else { run += 1 }
    }
    if run > 0 { bursts.append(run) }
    return bursts
}

@Suite struct LinkImpairmentTests {
    static let n = 10_000

    @Test func perfectLinkDeliversEverythingInOrderAtOnce() throws {
        let run = LinkRun(LinkImpairments())
        run.send(100)
        try run.finish()
        #expect(run.arrivals.map(\.sequence) == Array(0..<100))
        #expect(run.arrivals.map(\.time) == (0..<100).map { Instant.zero + .microseconds(100) * $0 })
        #expect(run.arrivals.allSatisfy { $0.bytes == LinkRun.frame($0.sequence) })
    }

    @Test func randomLossMatchesProbability() throws {
        let run = LinkRun(LinkImpairments(loss: .random(0.1)))
        run.send(Self.n)
        try run.finish()
        #expect(withinBinomial(run.counters.lost, n: Self.n, p: 0.1), "lost \(run.counters.lost)")
        #expect(run.counters.lost + run.counters.delivered == Self.n)
        // What arrives is in order and unchanged.
        #expect(run.arrivals.map(\.sequence) == run.arrivals.map(\.sequence).sorted())
        #expect(run.arrivals.allSatisfy { $0.bytes == LinkRun.frame($0.sequence) })
    }

    @Test func gilbertElliottIsBurstierThanRandomLossAtTheSameMean() throws {
        let model = LossModel.gilbertElliott(goodToBad: 0.01, badToGood: 0.25, lossInGood: 0, lossInBad: 1)
        let mean = model.meanLoss
        #expect(abs(mean - 0.01 / 0.26) < 1e-12)

        // Bursts vary a lot in number and length, so this takes more frames than the others.
        let n = 40_000
        let bursty = LinkRun(LinkImpairments(loss: model))
        bursty.send(n)
        try bursty.finish()
        let independent = LinkRun(LinkImpairments(loss: .random(mean)))
        independent.send(n)
        try independent.finish()

        let burstyLoss = Double(bursty.counters.lost) / Double(n)
        // ~385 bad periods of mean length 4 (variance 12): σ of the loss rate ≈ 0.3 %.
        #expect(abs(burstyLoss - mean) < 0.012, "GE loss \(burstyLoss), expected \(mean)")
        #expect(withinBinomial(independent.counters.lost, n: n, p: mean))

        let gb = lossBursts(delivered: Set(bursty.arrivals.map(\.sequence)), n: n)
        let rb = lossBursts(delivered: Set(independent.arrivals.map(\.sequence)), n: n)
        let gMean = Double(gb.reduce(0, +)) / Double(gb.count)
        let rMean = Double(rb.reduce(0, +)) / Double(rb.count)
        // GE bursts last 1/badToGood = 4 frames on average (σ of the mean over ~385 bursts ≈ 0.2;
        // over 30 seeds at 10k frames the mean came out 4.08); independent ones 1/(1-p) ≈ 1.04.
        #expect(gMean > 3.2 && gMean < 4.8, "GE mean burst \(gMean)")
        #expect(rMean < 1.2, "random mean burst \(rMean)")
        #expect(gb.max()! > rb.max()!)
    }

    @Test func gilbertElliottLossInGoodStateAlsoCounts() throws {
        // Never entering the bad state: loss is lossInGood alone.
        let run = LinkRun(LinkImpairments(loss: .gilbertElliott(goodToBad: 0, badToGood: 1, lossInGood: 0.2, lossInBad: 1)))
        run.send(Self.n)
        try run.finish()
        #expect(withinBinomial(run.counters.lost, n: Self.n, p: 0.2))
    }

    @Test func duplicatesFollowTheirOriginal() throws {
        let run = LinkRun(LinkImpairments(duplicate: 0.05))
        run.send(Self.n)
        try run.finish()
        let c = run.counters
        #expect(withinBinomial(c.duplicated, n: Self.n, p: 0.05), "duplicated \(c.duplicated)")
        #expect(c.delivered == Self.n + c.duplicated)
        // Every sequence arrives once or twice, twice in a row, in order.
        let sequences = run.arrivals.map(\.sequence)
        #expect(sequences == sequences.sorted())
        var seenTwice = 0
        for (a, b) in zip(run.arrivals, run.arrivals.dropFirst()) where a.sequence == b.sequence {
            #expect(a == b)
            seenTwice += 1
        }
        #expect(seenTwice == c.duplicated)
    }

    @Test func reorderedFramesAreOvertaken() throws {
        // Frames 100 µs apart, reordered ones held back 1 ms: ~10 later frames pass each.
        var impairments = LinkImpairments(delay: .milliseconds(2), reorder: 0.05)
        impairments.reorderDelay = .milliseconds(1)
        let run = LinkRun(impairments)
        run.send(Self.n)
        // Twenty in-order frames at the end, so the last reordered ones are overtaken too.
        let tail = Instant.zero + .microseconds(100) * Self.n
        run.sim.schedule(at: tail) { run.link.aToB.impairments.reorder = 0 }
        run.send(20, start: tail, first: Self.n)
        try run.finish()
        let c = run.counters
        #expect(withinBinomial(c.reordered, n: Self.n, p: 0.05), "reordered \(c.reordered)")
        // A frame is late when a higher sequence arrived before it.
        var highest = -1, late = 0
        for a in run.arrivals {
            if a.sequence < highest { late += 1 } else { highest = a.sequence }
        }
        #expect(late == c.reordered)
        #expect(Set(run.arrivals.map(\.sequence)).count == Self.n + 20)
        // Reordered frames took delay + reorderDelay; the rest took the delay.
        var heldBack = 0
        for a in run.arrivals {
            let latency = a.time - (Instant.zero + .microseconds(100) * a.sequence)
            #expect(latency == .milliseconds(2) || latency == .milliseconds(3))
            if latency == .milliseconds(3) { heldBack += 1 }
        }
        #expect(heldBack == c.reordered)
    }

    @Test func corruptionFlipsExactlyOneBitOutsideTheEthernetHeader() throws {
        let run = LinkRun(LinkImpairments(corrupt: 0.1))
        run.send(Self.n)
        try run.finish()
        let c = run.counters
        #expect(withinBinomial(c.corrupted, n: Self.n, p: 0.1), "corrupted \(c.corrupted)")
        var flipped = 0
        var bytePositions = Set<Int>()
        // Nothing is lost or reordered, so the i-th arrival is frame i (whose sequence field may be
        // the flipped part).
        #expect(run.arrivals.count == Self.n)
        for (i, a) in run.arrivals.enumerated() {
            let original = LinkRun.frame(i)
            let differing = original.indices.filter { original[$0] != a.bytes[$0] }
            guard !differing.isEmpty else { continue }
            #expect(differing.count == 1)
            #expect(differing[0] >= 14)
            #expect((original[differing[0]] ^ a.bytes[differing[0]]).nonzeroBitCount == 1)
            bytePositions.insert(differing[0])
            flipped += 1
        }
        #expect(flipped == c.corrupted)
        #expect(bytePositions.count > 50)  // spread over the frame
    }

    @Test func corruptionMayHitTheHeaderWhenAllowed() throws {
        var impairments = LinkImpairments(corrupt: 1)
        impairments.corruptionSparesEthernetHeader = false
        let run = LinkRun(impairments)
        run.send(2_000)
        try run.finish()
        // Every test frame starts with the same 14 header bytes.
        let header = LinkRun.frame(0).prefix(14)
        let inHeader = run.arrivals.count { $0.bytes.prefix(14) != header }
        // 14 of 100 bytes: ~280 of 2000.
        #expect(withinBinomial(inHeader, n: 2_000, p: 0.14))
        #expect(run.counters.corrupted == 2_000)
    }

    @Test func rateSpacesDeliveriesBySerialisationTime() throws {
        // 125-byte frames at 1 Mbit/s: 1000 bits each, one per millisecond, all sent at once.
        let run = LinkRun(LinkImpairments(delay: .milliseconds(5), rate: RateLimit(bitsPerSecond: 1_000_000)))
        run.send(50, size: 125, spacing: .zero)
        try run.finish()
        #expect(run.arrivals.map(\.sequence) == Array(0..<50))
        #expect(run.arrivals.map(\.time) == (0..<50).map { Instant.zero + .milliseconds(5) + .milliseconds(1) * $0 })
        #expect(run.counters.queueDrops == 0)
    }

    @Test func rateOfMixedSizes() throws {
        // 1500 bytes at 12 Mbit/s = 1 ms; 150 bytes = 100 µs.
        let run = LinkRun(LinkImpairments(rate: RateLimit(bitsPerSecond: 12_000_000)))
        for (i, size) in [1500, 150, 1500, 150].enumerated() {
            let bytes = LinkRun.frame(i, size: size)
            run.sim.schedule(at: .zero) { run.link.aToB.send(bytes) }
        }
        try run.finish()
        let us = { (t: Int64) in Instant.zero + .microseconds(t) }
        // The first leaves at once; each later one when the previous one's bits have been paid.
        #expect(run.arrivals.map(\.time) == [us(0), us(100), us(1100), us(1200)])
    }

    @Test func framesBelowTheRateAreNotDelayed() throws {
        let run = LinkRun(LinkImpairments(rate: RateLimit(bitsPerSecond: 1_000_000)))
        run.send(100, size: 125, spacing: .milliseconds(2))
        try run.finish()
        #expect(run.arrivals.map(\.time) == (0..<100).map { Instant.zero + .milliseconds(2) * $0 })
    }

    @Test func burstLetsABackToBackRunThrough() throws {
        // A bucket of ten 125-byte frames: ten leave at once, then one per millisecond.
        let run = LinkRun(LinkImpairments(rate: RateLimit(bitsPerSecond: 1_000_000, burst: 1250)))
        run.send(15, size: 125, spacing: .zero)
        try run.finish()
        let expected = (0..<15).map { $0 < 10 ? Instant.zero : Instant.zero + .milliseconds(1) * ($0 - 9) }
        #expect(run.arrivals.map(\.time) == expected)
    }

    @Test func fullQueueTailDropsInPackets() throws {
        let run = LinkRun(LinkImpairments(rate: RateLimit(bitsPerSecond: 1_000_000, queueLimit: .packets(10))))
        run.send(100, size: 125, spacing: .zero)
        try run.finish()
        // One leaves at once, ten wait, the rest find the queue full.
        #expect(run.counters.queueDrops == 89)
        #expect(run.arrivals.map(\.sequence) == Array(0..<11))
        #expect(run.link.aToB.queuedFrames == 0)
    }

    @Test func fullQueueTailDropsInBytes() throws {
        let run = LinkRun(LinkImpairments(rate: RateLimit(bitsPerSecond: 1_000_000, queueLimit: .bytes(1000))))
        run.send(100, size: 125, spacing: .zero)
        // Queue occupancy as seen right after the burst.
        run.sim.schedule(at: .zero) { #expect(run.link.aToB.queuedFrames == 8) }
        try run.finish()
        #expect(run.counters.queueDrops == 91)
        #expect(run.arrivals.map(\.sequence) == Array(0..<9))
    }

    @Test func queueDrainsAndAcceptsAgain() throws {
        // A burst overfills the queue; once it drains, a second burst is treated the same way.
        let run = LinkRun(LinkImpairments(rate: RateLimit(bitsPerSecond: 1_000_000, queueLimit: .packets(4))))
        run.send(10, size: 125, spacing: .zero)
        run.send(10, size: 125, start: .zero + .milliseconds(50), spacing: .zero)
        try run.finish()
        #expect(run.counters.queueDrops == 10)
        #expect(run.counters.delivered == 10)
    }

    @Test func framesOverTheMTUAreDropped() throws {
        let run = LinkRun(LinkImpairments(mtu: 1500))
        for (i, size) in [60, 1514, 1515, 9014, 1000].enumerated() {
            let bytes = LinkRun.frame(i, size: size)
            run.sim.schedule(at: .zero) { run.link.aToB.send(bytes) }
        }
        try run.finish()
        #expect(run.counters.mtuDrops == 2)
        #expect(run.arrivals.map(\.sequence) == [0, 1, 4])
    }

    @Test func downDropsEverythingAndUpRestores() throws {
        let run = LinkRun(LinkImpairments(delay: .milliseconds(10)))
        let ms = { (t: Int64) in Instant.zero + .milliseconds(t) }
        // 0–4.9 ms: 50 frames sent; down at 5 ms while all are on the wire; 50 sent while down;
        // up at 20 ms; 50 more sent.
        run.send(50, spacing: .microseconds(100))
        run.sim.schedule(at: ms(5)) { run.link.isUp = false }
        run.send(50, start: ms(6), spacing: .microseconds(100))
        run.sim.schedule(at: ms(20)) { run.link.isUp = true }
        run.send(50, start: ms(20), spacing: .microseconds(100))
        try run.finish()
        #expect(run.counters.downDrops == 100)
        #expect(run.arrivals.count == 50)
        #expect(run.arrivals.allSatisfy { $0.time >= ms(30) })
        // The other direction went down with it.
        #expect(run.link.bToA.isUp)
        run.link.bToA.isUp = false
        #expect(!run.link.isUp)
    }

    @Test func uniformJitterStaysWithinBounds() throws {
        // Frames 50 ms apart, so the FIFO clamp never applies and the jitter is seen as drawn.
        let run = LinkRun(LinkImpairments(delay: .milliseconds(10), jitter: .uniform(.milliseconds(2))))
        run.send(2_000, spacing: .milliseconds(50))
        try run.finish()
        let latencies = run.arrivals.map { Double(($0.time - (Instant.zero + .milliseconds(50) * $0.sequence)).nanosecondsClamped) / 1e6 }
        #expect(latencies.allSatisfy { $0 >= 8 && $0 <= 12 })
        #expect(latencies.min()! < 8.1 && latencies.max()! > 11.9)
        let mean = latencies.reduce(0, +) / Double(latencies.count)
        // σ of a uniform on ±2 ms is 1.15 ms; of the mean of 2000, 0.026 ms.
        #expect(abs(mean - 10) < 0.13, "mean \(mean)")
    }

    @Test func normalJitterHasTheConfiguredSpread() throws {
        let run = LinkRun(LinkImpairments(delay: .milliseconds(10), jitter: .normal(standardDeviation: .milliseconds(1))))
        run.send(Self.n, spacing: .milliseconds(50))
        try run.finish()
        let latencies = run.arrivals.map { Double(($0.time - (Instant.zero + .milliseconds(50) * $0.sequence)).nanosecondsClamped) / 1e6 }
        let mean = latencies.reduce(0, +) / Double(latencies.count)
        let sd = (latencies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(latencies.count)).squareRoot()
        #expect(abs(mean - 10) < 0.05, "mean \(mean)")
        #expect(abs(sd - 1) < 0.05, "sd \(sd)")
        #expect(latencies.allSatisfy { $0 >= 4 && $0 <= 16 })
        // Within one σ: 68 %.
        let inside = latencies.count { abs($0 - 10) <= 1 }
        #expect(abs(Double(inside) / Double(latencies.count) - 0.6827) < 0.02)
    }

    @Test func jitterNeverReorders() throws {
        // Frames 10 µs apart with ±2 ms jitter: without the clamp most would be out of order.
        let run = LinkRun(LinkImpairments(delay: .milliseconds(10), jitter: .uniform(.milliseconds(2))))
        run.send(Self.n, spacing: .microseconds(10))
        try run.finish()
        #expect(run.arrivals.map(\.sequence) == Array(0..<Self.n))
        #expect(run.counters.reordered == 0)
        for a in run.arrivals {
            let latency = a.time - (Instant.zero + .microseconds(10) * a.sequence)
            #expect(latency >= .milliseconds(8) && latency <= .milliseconds(12))
        }
    }

    @Test func impairmentsChangeOnTheTimeline() throws {
        let run = LinkRun(LinkImpairments())
        run.send(1_000, spacing: .milliseconds(1))
        run.sim.schedule(at: .zero + .milliseconds(500) - .nanoseconds(1)) { run.link.aToB.impairments.loss = .random(1) }
        run.sim.schedule(at: .zero + .milliseconds(800) - .nanoseconds(1)) {
            run.link.aToB.impairments = LinkImpairments(delay: .milliseconds(3))
        }
        try run.finish()
        #expect(run.arrivals.map(\.sequence) == Array(0..<500) + Array(800..<1_000))
        #expect(run.arrivals.last!.time == .zero + .milliseconds(999 + 3))
        #expect(run.counters.lost == 300)
    }

    @Test func sameSeedSameArrivalsDifferentSeedDifferent() throws {
        var impairments = LinkImpairments(delay: .milliseconds(1), jitter: .normal(standardDeviation: .microseconds(300)),
                                          loss: .random(0.05), duplicate: 0.02, reorder: 0.02, corrupt: 0.02,
                                          rate: RateLimit(bitsPerSecond: 10_000_000, queueLimit: .packets(20)))
        impairments.reorderDelay = .microseconds(700)
        func arrivals(seed: UInt64) throws -> [LinkRun.Arrival] {
            let run = LinkRun(seed: seed, impairments)
            run.send(3_000, spacing: .microseconds(90))
            try run.finish()
            return run.arrivals
        }
        let a = try arrivals(seed: 42), b = try arrivals(seed: 42), c = try arrivals(seed: 43)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func directionsDrawIndependentStreams() throws {
        let sim = Simulation(seed: 5)
        let link = Link(sim, name: "x", impairments: LinkImpairments(loss: .random(0.5)))
        var atA: [Int] = [], atB: [Int] = []
        link.attachA { frame, _ in atA.append(LinkRun.sequence(of: frame)) }
        link.attachB { frame, _ in atB.append(LinkRun.sequence(of: frame)) }
        for i in 0..<200 {
            let bytes = LinkRun.frame(i)
            link.aToB.send(bytes)
            link.bToA.send(bytes)
        }
        try sim.runUntilQuiet(limit: .distantFuture)
        #expect(atA != atB)
        #expect(withinBinomial(atA.count, n: 200, p: 0.5) && withinBinomial(atB.count, n: 200, p: 0.5))
    }
}

/// A stand-in for a bridge on a link's B end: holds each frame for `hold`, then sends it back
/// from its timer — the way a bridge's ARP queue or a DHCP server answers later.
final class HoldAndReturnNode: SimNode {
    let hold: Duration
    var held: [(due: Instant, frame: [UInt8])] = []
    var send: (([UInt8]) -> Void)?
    init(hold: Duration) { self.hold = hold }
    func receive(_ frame: UnsafeRawBufferPointer, now: Instant) { held.append((now + hold, Array(frame))) }
    func nextDeadline() -> Instant? { held.first?.due }
    func poll(now: Instant) {
        while let first = held.first, first.due <= now {
            held.removeFirst()
            send?(first.frame)
        }
    }
}

@Suite struct LinkEndpointTests {
    func roundTrip(touching: Bool) throws -> [Instant] {
        let sim = Simulation(seed: 1)
        let link = Link(sim, name: "br0-br1", impairments: LinkImpairments(delay: .milliseconds(3)))
        let far = HoldAndReturnNode(hold: .milliseconds(2))
        let node = sim.add(far, name: "br1")
        far.send = { link.bToA.send($0) }
        link.attachB(touching: touching ? node : nil) { frame, now in far.receive(frame, now: now) }
        var back: [Instant] = []
        link.attachA { _, now in back.append(now) }
        sim.schedule(at: .zero + .milliseconds(1)) { link.aToB.send(LinkRun.frame(0)) }
        try sim.run(until: .zero + .seconds(1))
        return back
    }

    @Test func deliveryTouchesTheReceivingNode() throws {
        // 1 ms send + 3 ms out + 2 ms held + 3 ms back.
        #expect(try roundTrip(touching: true) == [.zero + .milliseconds(9)])
    }

    @Test func withoutATouchTheNodeIsNeverWoken() throws {
        #expect(try roundTrip(touching: false) == [])
    }
}

@Suite struct NetemStyleReorderTests {
    @Test func negativeReorderDelaySkipsTheDelay() throws {
        // netem's `delay 10ms reorder 25%`: a quarter of the frames go at once, overtaking.
        var impairments = LinkImpairments(delay: .milliseconds(10), reorder: 0.25)
        impairments.reorderDelay = .zero - .milliseconds(10)
        let run = LinkRun(impairments)
        run.send(LinkImpairmentTests.n, spacing: .milliseconds(1))
        try run.finish()
        let c = run.counters
        #expect(withinBinomial(c.reordered, n: LinkImpairmentTests.n, p: 0.25))
        var immediate = 0
        for a in run.arrivals {
            let latency = a.time - (Instant.zero + .milliseconds(1) * a.sequence)
            #expect(latency == .zero || latency == .milliseconds(10))
            if latency == .zero { immediate += 1 }
        }
        #expect(immediate == c.reordered)
        // An immediate frame overtakes the (up to nine) delayed ones still on the wire.
        var highest = -1, overtaken = 0
        for a in run.arrivals { if a.sequence > highest { highest = a.sequence } else { overtaken += 1 } }
        #expect(overtaken > 0)
        #expect(run.arrivals.map(\.sequence) != Array(0..<LinkImpairmentTests.n))
    }
}
