// A neighbour's link cost (RFC 8966 §3.4, Appendix A; RFC 9616 §3–4): loss from the Hellos we hear (a 16-Hello
// history, "2 out of the last 3" for liveness, ETX for cost), the cost the neighbour reports hearing us with (IHU
// rxcost, our txcost), and a penalty from the smoothed round-trip time the Hello/IHU timestamps measure.

import Basics

/// What a router knows about one neighbour. Value type; the router owns one per neighbour.
struct BabelNeighbour: Sendable {
    // MARK: Hellos heard from the neighbour (Appendix A.1)

    /// Bit 0 is the most recent expected Hello; 1 = heard.
    var history: UInt16 = 0
    /// How many bits of `history` are known (0…16).
    var historyLength = 0
    /// The seqno of the next Hello expected.
    var expectedSeqno: UInt16 = 0
    /// When the expected Hello counts as missed (nil: none expected).
    var helloTimeout: Instant?
    /// The neighbour's Hello interval as its last Hello announced.
    var theirHelloInterval: Duration = .zero
    /// RFC 9616: the transmit timestamp of the neighbour's last Hello and our time of hearing it, echoed in our IHU.
    var lastHelloTimestamp: UInt32?
    var lastHelloHeardAt: UInt32 = 0

    // MARK: IHU heard from the neighbour

    /// How well the neighbour hears us (its IHU's rxcost); infinite without a live IHU.
    var txcost: UInt16 = BabelWire.infinity
    var ihuExpiry: Instant?

    // MARK: round-trip time (RFC 9616 §4)

    /// Smoothed RTT in microseconds (nil until the first sample).
    var smoothedRTT: UInt64?

    // MARK: our Hellos to the neighbour

    var nextHello: Instant
    var helloSeqno: UInt16 = 0
    var hellosSinceIHU = 0
    /// Send an IHU with the next Hello (first Hello heard, or our rxcost crossed infinity).
    var ihuDue = true

    /// The cost last computed (changes trigger route reselection).
    var cost: UInt16 = BabelWire.infinity

    init(now: Instant) { nextHello = now }

    // MARK: Hello history

    private mutating func shift(_ heard: Bool) {
        history = history << 1 | (heard ? 1 : 0)
        historyLength = min(16, historyLength + 1)
    }

    /// Appendix A.1: a Hello with the expected seqno is heard; one ahead records the missed ones; a late one (behind
    /// by at most 16) fills its bit; anything else means the neighbour restarted its seqnos: history starts over. So
    /// does a neighbour heard again after three or more missed Hellos (the link was down): a path that returns is
    /// usable at once instead of paying for the outage in its ETX for 16 more Hellos.
    mutating func heard(_ hello: BabelHello, now: Instant, micros: UInt32) {
        let ahead = hello.seqno &- expectedSeqno
        let behind = expectedSeqno &- hello.seqno
        let wasDown = historyLength >= 3 && history & 0b111 == 0
        if historyLength > 0, !wasDown, ahead < 16 {
            for _ in 0..<ahead { shift(false) }
            shift(true)
        } else if historyLength > 0, !wasDown, behind >= 1, behind <= 16 {
            history |= 1 << (behind - 1)
            lastHelloTimestamp = hello.timestamp
            lastHelloHeardAt = micros
            return
        } else {
            history = 1; historyLength = 1
        }
        expectedSeqno = hello.seqno &+ 1
        theirHelloInterval = .milliseconds(Int64(hello.interval) * 10)
        helloTimeout = hello.interval == 0 ? nil : now + theirHelloInterval * 3 / 2
        lastHelloTimestamp = hello.timestamp
        lastHelloHeardAt = micros
    }

    /// The expected Hello did not come: record a miss, expect the next one an interval later. Once the whole history
    /// is misses the neighbour is silent and no more are counted until it speaks again.
    mutating func missedHello(now: Instant) {
        shift(false)
        expectedSeqno &+= 1
        if historyLength == 16 && history == 0 || theirHelloInterval <= .zero {
            helloTimeout = nil
        } else {
            helloTimeout = now + theirHelloInterval
        }
    }

    /// Appendix A.2.2: infinite unless 2 of the last 3 Hellos were heard (unknown bits count as heard, so a new
    /// neighbour is usable after its first Hello); otherwise nominal / (fraction of the history heard).
    func rxcost(_ c: BabelConfiguration) -> UInt16 {
        guard historyLength > 0 else { return BabelWire.infinity }
        let known: UInt16 = historyLength >= 16 ? .max : ~(UInt16.max << UInt16(historyLength))
        guard ((history | ~known) & 0b111).nonzeroBitCount >= 2 else { return BabelWire.infinity }
        let heard = (history & known).nonzeroBitCount
        guard heard > 0 else { return BabelWire.infinity }
        return UInt16(clamping: min(UInt32(BabelWire.infinity - 1), UInt32(c.nominalCost) * UInt32(historyLength) / UInt32(heard)))
    }

    // MARK: IHU and RTT

    /// An IHU heard. `helloTimestamp` is the transmit timestamp of a Hello in the same packet (RFC 9616 §3.2: the
    /// RTT is (now − origin) − (transmit − receive)); samples that would be negative or wrap are discarded.
    mutating func heard(_ ihu: BabelIHU, helloTimestamp: UInt32?, now: Instant, micros: UInt32, _ c: BabelConfiguration) {
        txcost = ihu.rxcost
        ihuExpiry = ihu.interval == 0 ? nil : now + .milliseconds(Int64(ihu.interval) * 35)
        guard let origin = ihu.origin, let receive = ihu.receive, let transmit = helloTimestamp else { return }
        let total = micros &- origin, held = transmit &- receive
        guard total < 0x8000_0000, held < 0x8000_0000, total >= held else { return }
        let sample = UInt64(total - held)
        if let s = smoothedRTT {
            smoothedRTT = (s * c.rttDecayPerMille + sample * (1000 - min(1000, c.rttDecayPerMille))) / 1000
        } else {
            smoothedRTT = sample
        }
    }

    /// RFC 9616 §4: no penalty up to rttMin, the full penalty from rttMax, linear in between.
    func rttPenalty(_ c: BabelConfiguration) -> UInt32 {
        guard let rtt = smoothedRTT else { return 0 }
        let lo = UInt64(max(0, c.rttMin.nanosecondsClamped / 1000)), hi = UInt64(max(0, c.rttMax.nanosecondsClamped / 1000))
        if rtt <= lo { return 0 }
        if rtt >= hi || hi <= lo { return UInt32(c.maxRTTPenalty) }
        return UInt32(UInt64(c.maxRTTPenalty) * (rtt - lo) / (hi - lo))
    }

    /// Appendix A.2.2 (ETX): nominal / (α·β) with α = min(1, nominal/txcost), β = min(1, nominal/rxcost), plus
    /// the RTT penalty (RFC 9616 §4). Infinite when either direction is.
    func computeCost(_ c: BabelConfiguration) -> UInt16 {
        let rx = rxcost(c)
        guard rx != BabelWire.infinity, txcost != BabelWire.infinity else { return BabelWire.infinity }
        let n = UInt32(max(1, c.nominalCost))
        let etx = max(UInt32(txcost), n) * max(UInt32(rx), n) / n
        return UInt16(min(UInt32(BabelWire.infinity - 1), etx + rttPenalty(c)))
    }

    /// The earliest of this neighbour's timers.
    var nextDeadline: Instant {
        min(nextHello, helloTimeout ?? .distantFuture, ihuExpiry ?? .distantFuture)
    }
}
