// UDP flood traffic: a sender of sequence-numbered datagrams at a fixed rate, and a receiver
// that counts what arrived — packets, bytes, duplicates, reordering, and loss from the gaps.
//
// Payload layout (big-endian), then a byte pattern to the requested size:
//   magic "SLFD"(4) stream id(4) sequence(8) send time ns(8)

import Basics
import Wire

/// The flood payload's header.
public enum UDPFloodPayload {
    /// "SLFD".
    public static let magic: UInt32 = 0x534C_4644
    /// Magic, stream id, sequence and send time.
    public static let headerLength = 24
    /// Sequence numbers at or above this are not tracked (bounds the receiver's memory).
    public static let sequenceLimit: UInt64 = 1 << 24

    /// Writes the header and pattern for datagram `sequence` into `payload`, which the caller
    /// sized to at least `headerLength`.
    static func write(into payload: UnsafeMutableRawBufferPointer, stream: UInt32, sequence: UInt64, sentAt: Instant) {
        payload.setU32(0, magic)
        payload.setU32(4, stream)
        payload.setU32(8, UInt32(truncatingIfNeeded: sequence >> 32))
        payload.setU32(12, UInt32(truncatingIfNeeded: sequence))
        payload.setU32(16, UInt32(truncatingIfNeeded: sentAt.nanoseconds >> 32))
        payload.setU32(20, UInt32(truncatingIfNeeded: sentAt.nanoseconds))
        var i = headerLength
        while i < payload.count { payload[i] = UInt8(truncatingIfNeeded: i &+ Int(truncatingIfNeeded: sequence)); i += 1 }
    }

    /// Reads stream id, sequence and send time, or nil if `payload` is not a flood datagram.
    static func read(_ payload: UnsafeRawBufferPointer) -> (stream: UInt32, sequence: UInt64, sentAt: Instant)? {
        guard payload.count >= headerLength, payload.u32(0) == magic else { return nil }
        let sequence = UInt64(payload.u32(8)) << 32 | UInt64(payload.u32(12))
        let sent = UInt64(payload.u32(16)) << 32 | UInt64(payload.u32(20))
        return (payload.u32(4), sequence, Instant(nanoseconds: sent))
    }
}

/// Names a flood started by one host.
public struct UDPFloodID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    @inlinable public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: UDPFloodID, b: UDPFloodID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "flood#\(rawValue)" }
}

/// How fast a flood sends.
public enum UDPFloodRate: Sendable, Equatable {
    case packetsPerSecond(Double)
    /// Counting UDP payload bits, as iperf3 does with `-b` and `-l`.
    case bitsPerSecond(Double)
}

/// What a flood sender did.
public struct UDPFloodSenderStats: Equatable, Sendable, CustomStringConvertible {
    public var target: IPv4Address
    public var port: UInt16
    public var sourcePort: UInt16
    /// The stream id in every payload.
    public var stream: UInt32
    /// UDP payload bytes per datagram.
    public var size: Int
    public var startedAt: Instant
    public var endsAt: Instant
    /// Datagrams scheduled in all (rate × duration).
    public var scheduled: Int
    /// Datagrams handed to the link (or to ARP's queue).
    public var sent = 0
    /// Payload bytes of those.
    public var bytes = 0
    /// Datagrams that could not be sent (no route, too big).
    public var notSent = 0
    /// ICMP errors quoting the flood's datagrams.
    public var icmpErrors = 0
    public var isFinished: Bool { sent + notSent >= scheduled }

    public var description: String {
        "udp flood \(stream) → \(target):\(port): \(sent)/\(scheduled) sent, \(bytes) bytes, \(notSent) not sent, \(icmpErrors) ICMP errors"
    }
}

/// A running flood sender.
struct UDPFloodSender {
    var stats: UDPFloodSenderStats
    /// Datagrams per second.
    let rate: Double

    init(stats: UDPFloodSenderStats, rate: Double) { self.stats = stats; self.rate = rate }

    /// When datagram `index` is due: `start + index / rate`, exact to the nanosecond.
    func sendTime(_ index: Int) -> Instant {
        stats.startedAt + .nanoseconds(Int64((Double(index) * 1e9 / rate).rounded(.down)))
    }

    /// The next datagram's index if it is due now.
    func due(now: Instant) -> Int? {
        let next = stats.sent + stats.notSent
        return next < stats.scheduled && sendTime(next) <= now ? next : nil
    }

    func nextDeadline() -> Instant? {
        let next = stats.sent + stats.notSent
        return next < stats.scheduled ? sendTime(next) : nil
    }

    /// Datagrams in `duration` at `rate` per second: those with send times before the end.
    static func scheduledCount(rate: Double, duration: Duration) -> Int {
        guard rate > 0, rate.isFinite else { return 0 }
        let seconds = Double(duration.nanosecondsClamped) / 1e9
        guard seconds > 0 else { return 0 }
        return Int(min((seconds * rate).rounded(.up), Double(Int32.max)))
    }
}

/// What one flood stream's receiver counted.
public struct UDPFloodStreamStats: Equatable, Sendable, CustomStringConvertible {
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var stream: UInt32
    /// Distinct datagrams received.
    public var packets = 0
    /// UDP payload bytes of the distinct datagrams.
    public var bytes = 0
    /// Copies of datagrams already received.
    public var duplicates = 0
    /// Datagrams that arrived after one with a higher sequence number.
    public var outOfOrder = 0
    /// Datagrams whose sequence number is past `maximumSequence` (not sent by a flood: a replayed
    /// or forged one), counted and not tracked.
    public var beyondWindow = 0
    /// The highest sequence number a stream tracks, one bit each: a flood sends at most
    /// Int32.max datagrams (`UDPFloodSender.scheduledCount`). A packet's 64-bit sequence number
    /// used to size the bitmap (2^40 asked for 128 GiB) and to convert to Int (trapped past 2^63).
    public static let maximumSequence = UInt64(Int32.max)
    /// The highest sequence number seen.
    public var highestSequence: UInt64?
    public var firstArrival: Instant?
    public var lastArrival: Instant?
    /// One-way delay (arrival minus the send time in the payload; meaningful when both hosts
    /// share a clock, as in the simulator).
    public var minimumLatency: Duration?
    public var maximumLatency: Duration?
    var latencySum: Duration = .zero
    /// Seen sequence numbers, one bit each.
    var seen: [UInt64] = []

    /// Datagrams the sequence numbers say were sent: highest + 1 (trailing losses cannot show).
    public var expected: Int { highestSequence.map { Int(clamping: min($0, UInt64(Int.max - 1))) + 1 } ?? 0 }
    /// Missing sequence numbers below the highest seen.
    public var lost: Int { expected - packets }
    public var averageLatency: Duration? { packets == 0 ? nil : latencySum / packets }
    /// Payload bits per second between the first and the last arrival.
    public var throughputBitsPerSecond: Double? {
        guard let first = firstArrival, let last = lastArrival, last > first else { return nil }
        return Double(bytes) * 8 / (Double((last - first).nanosecondsClamped) / 1e9)
    }

    mutating func record(sequence: UInt64, bytes count: Int, sentAt: Instant, now: Instant) {
        guard sequence <= Self.maximumSequence else { beyondWindow += 1; return }
        let word = Int(sequence >> 6), bit = UInt64(1) << (sequence & 63)
        if word >= seen.count { seen.append(contentsOf: repeatElement(0, count: word + 1 - seen.count)) }
        if seen[word] & bit != 0 { duplicates += 1; return }
        seen[word] |= bit
        packets += 1
        bytes += count
        if let h = highestSequence, sequence < h { outOfOrder += 1 }
        highestSequence = max(highestSequence ?? 0, sequence)
        if firstArrival == nil { firstArrival = now }
        lastArrival = now
        let latency = now - sentAt
        latencySum += latency
        minimumLatency = min(minimumLatency ?? latency, latency)
        maximumLatency = max(maximumLatency ?? latency, latency)
    }

    public var description: String {
        let rate = throughputBitsPerSecond.map { " \(Int($0)) bit/s" } ?? ""
        return "udp stream \(stream) from \(source):\(sourcePort): \(packets) packets, \(bytes) bytes, \(lost) lost, \(duplicates) duplicates, \(outOfOrder) out of order\(rate)"
    }
}

/// A flood receiver on one port: one `UDPFloodStreamStats` per (source, source port, stream).
public struct UDPFloodReceiverStats: Equatable, Sendable {
    public var port: UInt16
    /// Streams in order of first arrival.
    public var streams: [UDPFloodStreamStats] = []
    /// Datagrams to the port that were not flood datagrams (or had an untracked sequence).
    public var foreignDatagrams = 0

    public var packets: Int { streams.reduce(0) { $0 + $1.packets } }
    public var bytes: Int { streams.reduce(0) { $0 + $1.bytes } }
    public var lost: Int { streams.reduce(0) { $0 + $1.lost } }
    public var duplicates: Int { streams.reduce(0) { $0 + $1.duplicates } }
    public var outOfOrder: Int { streams.reduce(0) { $0 + $1.outOfOrder } }

    mutating func record(_ payload: UnsafeRawBufferPointer, source: IPv4Address, sourcePort: UInt16, now: Instant) {
        guard let (stream, sequence, sentAt) = UDPFloodPayload.read(payload), sequence < UDPFloodPayload.sequenceLimit else {
            foreignDatagrams += 1
            return
        }
        let index: Int
        if let i = streams.firstIndex(where: { $0.stream == stream && $0.source == source && $0.sourcePort == sourcePort }) {
            index = i
        } else {
            streams.append(UDPFloodStreamStats(source: source, sourcePort: sourcePort, stream: stream))
            index = streams.count - 1
        }
        streams[index].record(sequence: sequence, bytes: payload.count, sentAt: sentAt, now: now)
    }
}
