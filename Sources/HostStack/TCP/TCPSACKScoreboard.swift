// The sender's SACK scoreboard (RFC 6675 §3): which bytes above SND.UNA the receiver reported
// holding, so retransmissions during recovery go to the holes (RFC 6675 §4 NextSeg, rule 1) and
// not to data already received. It is kept across a retransmission timeout (RFC 6675 §5.1: after
// an RTO the sender "SHOULD use this SACK information when determining what data should be sent"),
// so going back to SND.UNA skips data the receiver holds; it is dropped only when the receiver
// shows it reneged (RFC 2018 §8: a SACKed block at SND.UNA that the cumulative ACK did not cover).

/// SACKed ranges above SND.UNA, sorted, disjoint, merged.
struct TCPSACKScoreboard: Sendable {
    private(set) var ranges: [(start: TCPSequenceNumber, end: TCPSequenceNumber)] = []
    /// Ranges kept at most (a hostile receiver cannot grow it without bound).
    static let limit = 64

    var isEmpty: Bool { ranges.isEmpty }
    var highestSACKed: TCPSequenceNumber? { ranges.last?.end }

    /// Adds a reported block, ignored unless SND.UNA < left < right ≤ SND.MAX (RFC 2018 §3 blocks
    /// name received data the sender actually sent).
    mutating func add(left: TCPSequenceNumber, right: TCPSequenceNumber, sndUna: TCPSequenceNumber, sndMax: TCPSequenceNumber) {
        guard sndUna < right, left < right, !(sndMax < right), !(left < sndUna) else { return }
        var start = left, end = right
        var i = 0
        while i < ranges.count {
            let r = ranges[i]
            if r.end < start { i += 1; continue }
            if end < r.start { break }
            start = TCPSequenceNumber.min(start, r.start)
            end = TCPSequenceNumber.max(end, r.end)
            ranges.remove(at: i)
        }
        ranges.insert((start, end), at: i)
        if ranges.count > Self.limit { ranges.removeLast() }
    }

    /// Drops what the cumulative ACK covers.
    mutating func acknowledge(upTo sndUna: TCPSequenceNumber) {
        while let first = ranges.first, !(sndUna < first.end) { ranges.removeFirst() }
        if let first = ranges.first, first.start < sndUna { ranges[0].start = sndUna }
    }

    /// The first byte at or after `seq` not SACKed, and how many bytes from there are un-SACKed
    /// before the next SACKed range (nil length: up to the end of the data).
    func nextHole(from seq: TCPSequenceNumber) -> (start: TCPSequenceNumber, length: Int?) {
        var s = seq
        for r in ranges {
            if s < r.start { return (s, r.start - s) }
            if s < r.end { s = r.end }
        }
        return (s, nil)
    }

    /// Bytes SACKed below `seq`.
    func sackedBytes(below seq: TCPSequenceNumber) -> Int {
        var n = 0
        for r in ranges {
            guard r.start < seq else { break }
            n += TCPSequenceNumber.min(r.end, seq) - r.start
        }
        return n
    }

    /// Bytes SACKed.
    var sackedBytes: Int { ranges.reduce(0) { $0 + ($1.end - $1.start) } }

    mutating func removeAll() { ranges.removeAll() }
}
