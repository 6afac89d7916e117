// IPv4 reassembly for the simulated host (RFC 791 §3.2 "Reassembly", RFC 815, RFC 1122
// §3.3.2: "A host MUST be able to reassemble incoming datagrams of at least 576 octets").
//
// Datagrams are named by RFC 791's "source, destination, protocol, and identifier". Each one in
// progress keeps its data and the byte ranges received so far (RFC 815's hole list, kept as the
// ranges filled instead); it is whole when the last fragment (MF clear) has given its length and
// no hole is left. Bounded, with every loss counted:
// - at most `maximumDatagrams` in progress; a fragment of a new datagram when all are taken
//   evicts the oldest (`reassemblyEvicted`);
// - a datagram not whole `timeout` after its first fragment arrived is dropped when next looked
//   at (`reassemblyTimeouts`; no ICMP time exceeded is sent);
// - an end past 65535 bytes with the header, a fragment whose data is not a multiple of 8 while
//   MF is set, a second "last" fragment with another length, or data past the known end drop the
//   datagram (`reassemblyMalformed`);
// - a fragment that overlaps data already received drops the whole datagram
//   (`reassemblyOverlaps`: overlapping fragments are how the tiny- and overlapping-fragment
//   attacks of RFC 1858 work), except an exact repeat of a fragment already held (a duplicate
//   from the network), which is ignored (`duplicateFragments`).
// No randomness and no clock beyond the `now` handed in: the simulator stays deterministic.
import Basics
import Wire

struct IPv4Reassembly {
    struct Key: Equatable {
        var source: IPv4Address
        var destination: IPv4Address
        var proto: UInt8
        var identification: UInt16
    }

    struct Datagram {
        var key: Key
        var started: Instant
        /// The first fragment's frame up to the end of its IP header (Ethernet + IP), once seen,
        /// and where its IP header starts.
        var head: [UInt8] = []
        var headIP = 0
        var data: [UInt8] = []
        /// Received byte ranges of the data, sorted, not overlapping.
        var filled: [Range<Int>] = []
        /// Data length, once the last fragment is in.
        var end: Int?
    }

    enum Outcome: Equatable {
        /// Held; more fragments are needed.
        case held
        /// The datagram is whole: the frame (Ethernet + IPv4 header, no longer a fragment) to take in.
        case whole([UInt8])
        case duplicate
        case overlap
        case malformed
    }

    static let maximumDatagrams = 16
    /// RFC 791 suggests an initial timer of 15 s; Linux uses 30 s (ipfrag_time).
    static let timeout = Duration.seconds(30)
    static let maximumDatagramLength = 65535

    private(set) var inProgress: [Datagram] = []
    var evicted = 0
    var timedOut = 0

    /// Takes in fragment `ip` of the frame `frame` (its IP header at `ipOffset`, data at `payload`).
    mutating func receive(_ frame: UnsafeRawBufferPointer, ipOffset: Int, ip: IPv4Header, payload: Range<Int>,
                          now: Instant) -> Outcome {
        expire(now: now)
        let key = Key(source: ip.source, destination: ip.destination, proto: ip.protocol.rawValue,
                      identification: ip.identification)
        let start = Int(ip.fragmentOffset) * 8
        let count = payload.count
        let stop = start + count
        var index: Int
        if let i = inProgress.firstIndex(where: { $0.key == key }) {
            index = i
        } else {
            if inProgress.count >= Self.maximumDatagrams {
                inProgress.removeFirst()    // the oldest
                evicted += 1
            }
            inProgress.append(Datagram(key: key, started: now))
            index = inProgress.count - 1
        }
        // RFC 791: every fragment but the last carries a multiple of 8 octets (and some).
        if count == 0 || ip.moreFragments && count % 8 != 0 || ip.headerLength + stop > Self.maximumDatagramLength {
            inProgress.remove(at: index)
            return .malformed
        }
        var d = inProgress[index]
        if let end = d.end, stop > end || (!ip.moreFragments && stop != end) {
            inProgress.remove(at: index)
            return .malformed
        }
        if !ip.moreFragments {
            if let last = d.filled.last, last.upperBound > stop {
                inProgress.remove(at: index)
                return .malformed
            }
            d.end = stop
        }
        for r in d.filled where r.overlaps(start..<stop) {
            if r.lowerBound <= start && stop <= r.upperBound && isRepeat(d, frame, payload, start) {
                inProgress[index] = d
                return .duplicate
            }
            inProgress.remove(at: index)
            return .overlap
        }
        if d.data.count < stop { d.data += [UInt8](repeating: 0, count: stop - d.data.count) }
        d.data.replaceSubrange(start..<stop, with: frame[payload])
        if start == 0 { d.head = Array(frame[0..<(ipOffset + ip.headerLength)]); d.headIP = ipOffset }
        // Insert the range, merging neighbours.
        var ranges = d.filled
        let at = ranges.firstIndex { $0.lowerBound > start } ?? ranges.count
        ranges.insert(start..<stop, at: at)
        var merged: [Range<Int>] = []
        for r in ranges {
            if let last = merged.last, last.upperBound == r.lowerBound {
                merged[merged.count - 1] = last.lowerBound..<r.upperBound
            } else if !r.isEmpty {
                merged.append(r)
            }
        }
        d.filled = merged
        guard let end = d.end, d.filled.count == 1, d.filled[0] == 0..<end, !d.head.isEmpty else {
            inProgress[index] = d
            return .held
        }
        inProgress.remove(at: index)
        // The first fragment's header, now for the whole datagram: total length, no MF, offset 0.
        let o = d.headIP, headerLength = d.head.count - o
        var whole = d.head + d.data.prefix(end)
        let total = whole.count - o
        whole[o + 2] = UInt8(total >> 8); whole[o + 3] = UInt8(total & 0xFF)
        whole[o + 6] &= 0x40; whole[o + 7] = 0        // keep DF only
        whole[o + 10] = 0; whole[o + 11] = 0
        let sum = whole.withUnsafeBytes { InternetChecksum.of($0.slice(o..<(o + headerLength))) }
        whole[o + 10] = UInt8(sum >> 8); whole[o + 11] = UInt8(sum & 0xFF)
        return .whole(whole)
    }

    /// A fragment within data already held, with the same bytes (a duplicate from the network).
    private func isRepeat(_ d: Datagram, _ frame: UnsafeRawBufferPointer, _ payload: Range<Int>, _ start: Int) -> Bool {
        frame[payload].elementsEqual(d.data[start..<(start + payload.count)])
    }

    /// Drops datagrams older than `timeout`.
    mutating func expire(now: Instant) {
        let before = inProgress.count
        inProgress.removeAll { now - $0.started >= Self.timeout }
        timedOut += before - inProgress.count
    }
}
