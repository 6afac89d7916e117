// An ICMP echo client session (RFC 792 "Echo or Echo Reply Message"), like one run of ping(8):
// one identifier, sequence numbers 1…count, one probe per interval, a timeout per probe.

import Basics
import Wire

/// Names a ping session of one host.
public struct PingID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    @inlinable public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: PingID, b: PingID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "ping#\(rawValue)" }
}

/// One echo request and what became of it.
public struct PingProbe: Equatable, Sendable {
    public enum Outcome: Equatable, Sendable {
        /// Not sent yet, or sent and waiting.
        case pending
        /// Answered within the timeout.
        case replied(rtt: Duration)
        /// No answer within the timeout (a later reply is counted in `PingResult.lateReplies`).
        case timedOut
        /// An ICMP error came back for it.
        case error(ICMPErrorReport)
        /// Never left the host: no address, no route, or larger than the MTU.
        case notSent
    }

    /// The ICMP sequence number.
    public var sequence: UInt16
    /// When it was handed to the link (nil until then).
    public var sentAt: Instant?
    public var outcome: Outcome = .pending
    /// Extra replies after the first (RFC 792 does not forbid them; ping(8) prints "DUP!").
    public var duplicates = 0

    /// The round-trip time if answered in time.
    public var roundTripTime: Duration? {
        if case .replied(let rtt) = outcome { return rtt }
        return nil
    }
}

/// What a ping session saw: ping(8)'s summary and every probe.
public struct PingResult: Equatable, Sendable, CustomStringConvertible {
    public var target: IPv4Address
    /// The target of a `ping6` session (then `target` is 0.0.0.0 and `timeToLive` is the hop limit).
    public var targetIPv6: IPv6Address? = nil
    /// The ICMP identifier of the session's requests.
    public var identifier: UInt16
    /// Probes asked for.
    public var count: Int
    /// ICMP data bytes per request (ping -s).
    public var size: Int
    /// IP TTL of the requests.
    public var timeToLive: UInt8
    /// Probe `i` has sequence number `i + 1`.
    public var probes: [PingProbe]
    /// Replies that came after their probe's timeout.
    public var lateReplies = 0
    /// ICMP errors quoting the session's requests, in arrival order.
    public var errors: [ICMPErrorReport] = []
    /// Every probe sent and resolved (answered, timed out, errored or not sent).
    public var isFinished = false

    /// Requests handed to the link.
    public var sent: Int { probes.count { $0.sentAt != nil } }
    /// Probes answered within their timeout.
    public var received: Int { probes.count { $0.roundTripTime != nil } }
    /// Duplicate replies over all probes.
    public var duplicates: Int { probes.reduce(0) { $0 + $1.duplicates } }
    /// Round-trip times of the answered probes, in sequence order.
    public var roundTripTimes: [Duration] { probes.compactMap(\.roundTripTime) }
    public var minimum: Duration? { roundTripTimes.min() }
    public var maximum: Duration? { roundTripTimes.max() }
    /// Mean round-trip time.
    public var average: Duration? {
        let rtts = roundTripTimes
        guard !rtts.isEmpty else { return nil }
        return .nanoseconds(rtts.reduce(Int64(0)) { $0 + $1.nanosecondsClamped } / Int64(rtts.count))
    }
    /// ping(8)'s mdev: sqrt(mean(rtt²) − mean(rtt)²).
    public var meanDeviation: Duration? {
        let rtts = roundTripTimes.map { Double($0.nanosecondsClamped) }
        guard !rtts.isEmpty else { return nil }
        let n = Double(rtts.count)
        let mean = rtts.reduce(0, +) / n
        let meanSquare = rtts.reduce(0) { $0 + $1 * $1 } / n
        return .nanoseconds(Int64(max(meanSquare - mean * mean, 0).squareRoot().rounded()))
    }
    /// Lost fraction of the probes sent, 0…1 (0 when none were sent).
    public var loss: Double { sent == 0 ? 0 : Double(sent - received) / Double(sent) }

    /// ping(8)'s closing lines.
    public var description: String {
        func ms(_ d: Duration?) -> String {
            let ns = d?.nanosecondsClamped ?? 0
            let micro = (ns + 500) / 1000
            let frac = String(micro % 1000)
            return "\(micro / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
        }
        let shown = targetIPv6.map { "\($0)" } ?? "\(target)"
        var s = "--- \(shown) ping statistics ---\n\(sent) packets transmitted, \(received) received"
        if duplicates > 0 { s += ", +\(duplicates) duplicates" }
        if !errors.isEmpty { s += ", +\(errors.count) errors" }
        s += ", \(Int((loss * 100).rounded()))% packet loss"
        if received > 0 {
            s += "\nrtt min/avg/max/mdev = \(ms(minimum))/\(ms(average))/\(ms(maximum))/\(ms(meanDeviation)) ms"
        }
        return s
    }
}

/// A running session: the schedule and the bookkeeping behind a `PingResult`.
struct PingSession {
    var result: PingResult
    let interval: Duration
    let timeout: Duration
    let start: Instant
    /// The next probe to send.
    private(set) var nextIndex = 0
    /// Probes before this one are resolved; probes resolve in the order they were sent, as all
    /// share one timeout.
    private var firstUnresolved = 0

    init(result: PingResult, interval: Duration, timeout: Duration, start: Instant) {
        self.result = result; self.interval = interval; self.timeout = timeout; self.start = start
    }

    /// When probe `index` is due.
    func sendTime(_ index: Int) -> Instant { start + interval * index }

    /// The next probe to send now, if one is due; the caller sends it and calls `markSent`.
    func dueProbe(now: Instant) -> Int? {
        nextIndex < result.count && sendTime(nextIndex) <= now ? nextIndex : nil
    }

    mutating func markSent(_ index: Int, at now: Instant, delivered: Bool) {
        nextIndex = index + 1
        if delivered { result.probes[index].sentAt = now } else { result.probes[index].outcome = .notSent }
        advance()
    }

    /// Times out probes whose timeout has passed.
    mutating func expire(now: Instant) {
        while firstUnresolved < nextIndex {
            let p = result.probes[firstUnresolved]
            guard p.outcome == .pending, let sent = p.sentAt else { firstUnresolved += 1; continue }
            guard sent + timeout <= now else { break }
            result.probes[firstUnresolved].outcome = .timedOut
            firstUnresolved += 1
        }
        advance()
    }

    /// The probe index with `sequence`, if the session sent one.
    func index(of sequence: UInt16) -> Int? {
        let i = Int(sequence &- 1)
        return i < nextIndex ? i : nil
    }

    /// Records an echo reply for `sequence`.
    mutating func reply(sequence: UInt16, now: Instant) {
        guard let i = index(of: sequence), let sent = result.probes[i].sentAt else { return }
        switch result.probes[i].outcome {
        case .pending:
            // The RTT is measured from the time passed in, as ping(8) measures from its clock.
            if now - sent < timeout {
                result.probes[i].outcome = .replied(rtt: now - sent)
            } else {
                result.probes[i].outcome = .timedOut
                result.lateReplies += 1
            }
        case .replied:
            result.probes[i].duplicates += 1
        case .timedOut, .error, .notSent:
            result.lateReplies += 1
        }
        advance()
    }

    /// Records an ICMP error quoting the request with `sequence`.
    mutating func error(_ report: ICMPErrorReport, sequence: UInt16) {
        result.errors.append(report)
        if let i = index(of: sequence), result.probes[i].outcome == .pending {
            result.probes[i].outcome = .error(report)
        }
        advance()
    }

    private mutating func advance() {
        while firstUnresolved < nextIndex, result.probes[firstUnresolved].outcome != .pending {
            firstUnresolved += 1
        }
        result.isFinished = nextIndex == result.count && firstUnresolved == result.count
    }

    /// The next send or timeout.
    func nextDeadline() -> Instant? {
        var earliest: Instant?
        if nextIndex < result.count { earliest = sendTime(nextIndex) }
        if firstUnresolved < nextIndex, let sent = result.probes[firstUnresolved].sentAt {
            let t = sent + timeout
            earliest = earliest.map { min($0, t) } ?? t
        }
        return earliest
    }
}
