// The TCP building blocks on their own: sequence arithmetic, reassembly and SACK blocks, the
// sender's scoreboard, the RFC 6298 estimator, CUBIC's window function.

import Basics
@testable import HostStack
import Testing
import Wire

@Suite("TCP parts")
struct TCPPartsTests {
    @Test("The bulk pattern's block-wise fill and check agree with byte(at:) at every offset, across block, 2^24 and 2^32 boundaries")
    func bulkPatternFillMatchesByteAt() {
        let starts: [UInt64] = [0, 1, 255, 2047, 2049, (1 << 24) - 300, (1 << 32) - 700, UInt64.max - 2000]
        for start in starts {
            let n = 1500
            var buffer = [UInt8](repeating: 0xAA, count: n)
            buffer.withUnsafeMutableBytes { TCPBulkPattern.fill($0, streamOffset: start) }
            var same = true
            for k in 0..<n where buffer[k] != TCPBulkPattern.byte(at: start &+ UInt64(k)) { same = false }
            #expect(same, "fill at \(start)")
            #expect(buffer.withUnsafeBytes { TCPBulkPattern.mismatches(in: $0, streamOffset: start) } == 0)
            buffer[0] &+= 1; buffer[700] ^= 0x10; buffer[n - 1] &-= 3
            #expect(buffer.withUnsafeBytes { TCPBulkPattern.mismatches(in: $0, streamOffset: start) } == 3)
            // The same bytes one offset on are mostly wrong: a segment put at the wrong place shows.
            #expect(buffer.withUnsafeBytes { TCPBulkPattern.mismatches(in: $0, streamOffset: start &+ 1) } > n / 2)
        }
    }

    @Test("Every TCP drop reason has a counter")
    func dropReasonsFit() {
        #expect(ReasonCounts<TCPDropReason>.fits)
    }

    @Test("Sequence numbers compare and subtract across the 2^32 wrap")
    func sequenceWrap() {
        let high = TCPSequenceNumber(0xFFFF_FFF0), low = TCPSequenceNumber(0x10)
        #expect(high < low && !(low < high))
        #expect(low - high == 0x20 && high - low == -0x20)
        #expect(high + 0x20 == low)
        #expect(TCPSequenceNumber.max(high, low) == low)
    }

    @Test("Reassembly keeps disjoint pieces across the wrap, delivers in order, SACK blocks newest first")
    func reassembly() {
        var q = TCPReassemblyQueue()
        let base = TCPSequenceNumber(0xFFFF_FF00)
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        func put(_ from: Int, _ to: Int) {
            data.withUnsafeBytes { q.insert(UnsafeRawBufferPointer(rebasing: $0[from..<to]), at: base + from) }
        }
        put(300, 400)
        put(600, 700)
        put(350, 450)            // overlaps the first: only 400..<450 is new
        #expect(q.byteCount == 250)
        let blocks = q.sackBlocks(limit: 4)
        #expect(blocks.count == 2)
        #expect(blocks[0].left == base + 300 && blocks[0].right == base + 450)   // touched last
        #expect(blocks[1].left == base + 600 && blocks[1].right == base + 700)
        var out: [UInt8] = []
        // Nothing continues base + 100 yet.
        #expect(q.deliver(after: base + 100) { out += $0 } == base + 100)
        #expect(out.isEmpty)
        // With 0..<320 received, 320..<450 comes out (the overlap trimmed), 600.. stays.
        let next = q.deliver(after: base + 320) { out += $0 }
        #expect(next == base + 450 && out == Array(data[320..<450]))
        #expect(q.byteCount == 100 && q.sackBlocks(limit: 4).count == 1)
    }

    @Test("Reassembly holds at most pieceLimit pieces (tiny out-of-order segments cannot grow it without bound)")
    func reassemblyBound() {
        var q = TCPReassemblyQueue()
        let byte: [UInt8] = [1]
        var refused = 0
        for k in 0..<(TCPReassemblyQueue.pieceLimit + 500) {
            let held = byte.withUnsafeBytes { q.insert($0, at: TCPSequenceNumber(1000) + 2 * k) }
            if !held { refused += 1 }
        }
        #expect(q.pieces.count == TCPReassemblyQueue.pieceLimit && refused == 500)
    }

    @Test("The scoreboard merges blocks, ignores impossible ones, finds holes, and forgets what is acknowledged")
    func scoreboard() {
        var s = TCPSACKScoreboard()
        let una = TCPSequenceNumber(0xFFFF_FFF0), max = una + 10_000
        s.add(left: una + 2000, right: una + 3000, sndUna: una, sndMax: max)
        s.add(left: una + 3000, right: una + 4000, sndUna: una, sndMax: max)     // adjacent: merged
        s.add(left: una + 6000, right: una + 7000, sndUna: una, sndMax: max)
        s.add(left: una + 9000, right: una + 11_000, sndUna: una, sndMax: max)   // beyond SND.MAX: ignored
        s.add(left: una + (-100), right: una + 50, sndUna: una, sndMax: max)        // below SND.UNA: ignored
        #expect(s.ranges.count == 2 && s.sackedBytes == 3000 && s.highestSACKed == una + 7000)
        #expect(s.nextHole(from: una).start == una && s.nextHole(from: una).length == 2000)
        #expect(s.nextHole(from: una + 2500).start == una + 4000 && s.nextHole(from: una + 2500).length == 2000)
        #expect(s.nextHole(from: una + 6500).start == una + 7000 && s.nextHole(from: una + 6500).length == nil)
        // SACKed bytes below a point (what a go-back after a timeout skips, RFC 6675 §5.1).
        #expect(s.sackedBytes(below: una + 2000) == 0 && s.sackedBytes(below: una + 2500) == 500)
        #expect(s.sackedBytes(below: una + 6500) == 2500 && s.sackedBytes(below: max) == 3000)
        s.acknowledge(upTo: una + 2500)
        #expect(s.ranges.first?.start == una + 2500 && s.sackedBytes == 2500)
        s.acknowledge(upTo: una + 8000)
        #expect(s.isEmpty)
    }

    @Test("RFC 6298: first sample, smoothing, the minimum, backoff and its cap")
    func rttEstimator() {
        var c = TCPConfiguration()
        c.minimumRTO = .milliseconds(200)
        c.maximumRTO = .seconds(60)
        var e = TCPRTTEstimator(configuration: c)
        #expect(e.rto == .seconds(1))                           // (2.1)
        e.sample(100_000_000)                                   // R = 100 ms
        // (2.2): SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR = 300 ms.
        #expect(e.smoothedRTT == 100_000_000 && e.rttVariance == 50_000_000 && e.rto == .milliseconds(300))
        e.sample(200_000_000)
        // (2.3): RTTVAR = 3/4·50 + 1/4·100 = 62.5 ms; SRTT = 7/8·100 + 1/8·200 = 112.5 ms.
        #expect(e.rttVariance == 62_500_000 && e.smoothedRTT == 112_500_000)
        #expect(e.rto == .milliseconds(362.5))
        for _ in 0..<50 { e.sample(1_000_000) }                 // 1 ms RTTs: RTO floors at 200 ms (2.4)
        #expect(e.rto == .milliseconds(200))
        e.backOff(); e.backOff()
        #expect(e.rto == .milliseconds(800))                    // (5.5)
        for _ in 0..<20 { e.backOff() }
        #expect(e.rto == .seconds(60))                          // (2.5)
        e.sample(1_000_000)
        #expect(e.rto == .milliseconds(200))
    }

    @Test("CUBIC: β = 0.7 on loss, fast convergence, and growth back to W_max after K seconds")
    func cubic() {
        let mss = 1000
        var cc = TCPCongestionControl(algorithm: .cubic, initialWindow: 100 * mss)
        cc.ssthresh = 100 * mss                                 // in congestion avoidance
        let ssthresh = cc.onCongestionEvent(flightSize: 100 * mss, mss: mss, now: .zero)
        #expect(ssthresh == 70 * mss)
        cc.cwnd = ssthresh
        // K = ∛(W_max·(1−β)/C) = ∛(100·0.3/0.4) = ∛75 ≈ 4.217 s. Feed ACKs for one cwnd every
        // 100 ms RTT; the window should approach 100 segments near K and pass it after.
        var t = Instant.zero
        var atK = 0
        for step in 1...80 {
            t = .zero + .milliseconds(100 * step)
            cc.onAcknowledged(cc.cwnd, mss: mss, now: t, smoothedRTT: 100_000_000)
            if step == 42 { atK = cc.cwnd }
        }
        #expect(atK > 95 * mss && atK < 105 * mss)
        #expect(cc.cwnd > 115 * mss)
        // A second loss below the previous W_max: fast convergence lowers W_max (RFC 9438 §4.7).
        var fc = TCPCongestionControl(algorithm: .cubic, initialWindow: 100 * mss)
        fc.ssthresh = 1
        _ = fc.onCongestionEvent(flightSize: 0, mss: mss, now: .zero)
        fc.cwnd = 80 * mss
        _ = fc.onCongestionEvent(flightSize: 0, mss: mss, now: .zero)
        #expect(abs(fc.cubicWMax - 80 * 1.7 / 2) < 1e-9)
    }

    @Test("NewReno: slow start by bytes acked, +1 MSS per window in avoidance, halving on loss, 1 MSS on timeout")
    func newReno() {
        let mss = 1000
        var cc = TCPCongestionControl(algorithm: .newReno, initialWindow: 10 * mss)
        cc.onAcknowledged(2 * mss, mss: mss, now: .zero, smoothedRTT: nil)
        #expect(cc.cwnd == 12 * mss)
        cc.ssthresh = 12 * mss
        for _ in 0..<12 { cc.onAcknowledged(mss, mss: mss, now: .zero, smoothedRTT: nil) }
        #expect(cc.cwnd == 13 * mss)
        #expect(cc.onCongestionEvent(flightSize: 13 * mss, mss: mss, now: .zero) == 6500)
        cc.onTimeout(flightSize: 2 * mss, mss: mss)
        #expect(cc.cwnd == mss && cc.ssthresh == 2 * mss)
    }
}
