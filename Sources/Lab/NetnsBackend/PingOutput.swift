// ping(8)'s output → HostStack's PingResult, so that a real ping is checked and reported exactly
// like a simulated one. Two dialects:
//
//   iputils (netns hosts, run with -D -n):
//     [1795316756.964149] 108 bytes from 10.9.0.2: icmp_seq=1 ttl=64 time=0.066 ms
//     [1795316757.164647] 108 bytes from 10.9.0.2: icmp_seq=1 ttl=64 time=0.071 ms (DUP!)
//     [1795316757.368679] From 10.0.0.1 icmp_seq=3 Time to live exceeded
//     3 packets transmitted, 2 received, +1 duplicates, +1 errors, 33% packet loss, time 405ms
//   busybox (the QEMU test guest): sequence numbers from 0, no timestamps, ICMP errors only as
//     108 bytes from 127.0.0.1: seq=0 ttl=64 time=0.052 ms
//     ping: warning: got ICMP 11 (Time Exceeded)
//     2 packets transmitted, 2 packets received, 0% packet loss
//
// A reply later than the action's `timeout` counts as late (`late`), not received, as on sim.
import Basics
import Foundation
import HostStack
import Wire

/// Which ping printed the lines.
enum PingDialect {
    case iputils
    case busybox

    /// The first probe's ICMP sequence number.
    var firstSequence: Int { self == .iputils ? 1 : 0 }
}

/// Parses a finished (or interrupted) ping's output.
struct PingOutput {
    var dialect: PingDialect
    var target: IPv4Address
    var action: PingAction
    /// When the ping was started, in the run's capture time.
    var startedAt: Instant

    /// One line of output and, when known, when it was read (capture time).
    typealias Line = (time: Instant?, text: String)

    /// The result the lines describe; `finished` says whether ping ran to its end.
    func result(_ lines: [Line], finished: Bool) -> PingResult {
        let count = action.count
        let first = dialect.firstSequence
        var rtts: [Int: Duration] = [:]          // by probe index
        var replyTimes: [Int: Instant] = [:]
        var duplicates: [Int: Int] = [:]
        var errors: [Int: ICMPErrorReport] = [:]
        var unsequencedErrors: [ICMPErrorReport] = []
        var transmitted: Int?
        for (time, text) in lines {
            var body = Substring(text)
            var stamp = time
            if dialect == .iputils, body.hasPrefix("["), let close = body.firstIndex(of: "]") {
                if let t = Self.timestamp(body[body.index(after: body.startIndex)..<close]) { stamp = t }
                body = body[body.index(after: close)...].drop { $0 == " " }
            }
            if let t = Self.transmitted(body) { transmitted = t; continue }
            if let reply = Self.reply(body) {
                let index = reply.sequence - first
                guard index >= 0, index < count else { continue }
                if rtts[index] == nil {
                    rtts[index] = reply.rtt
                    if let stamp { replyTimes[index] = stamp }
                } else {
                    duplicates[index, default: 0] += 1
                }
                continue
            }
            if let e = icmpError(body, at: stamp ?? startedAt) {
                if let seq = e.echo?.sequence, Int(seq) - first >= 0, Int(seq) - first < count {
                    errors[Int(seq) - first] = errors[Int(seq) - first] ?? e
                } else {
                    unsequencedErrors.append(e)
                }
            }
        }
        // Send times: a reply's arrival minus its round trip; the others on the interval grid,
        // anchored on the first probe whose send time is known.
        var anchor = startedAt
        if let (i, t) = replyTimes.sorted(by: { $0.key < $1.key }).first, let rtt = rtts[i] {
            anchor = t - rtt - action.interval * i
        }
        let sentCount = min(count, transmitted ?? (finished ? count : (rtts.keys.max().map { $0 + 1 } ?? 0)))
        var late = 0
        var probes: [PingProbe] = []
        for i in 0..<count {
            let sequence = UInt16(truncatingIfNeeded: first + i)
            guard i < sentCount else {
                probes.append(PingProbe.measured(sequence: sequence, sentAt: nil, outcome: finished ? .notSent : .pending))
                continue
            }
            var sentAt = anchor + action.interval * i
            let outcome: PingProbe.Outcome
            if let rtt = rtts[i] {
                if let t = replyTimes[i] { sentAt = t - rtt }
                if rtt <= action.timeout { outcome = .replied(rtt: rtt) } else { late += 1; outcome = .timedOut }
            } else if let e = errors[i] {
                outcome = .error(e)
            } else {
                outcome = finished ? .timedOut : .pending
            }
            probes.append(PingProbe.measured(sequence: sequence, sentAt: sentAt, outcome: outcome, duplicates: duplicates[i] ?? 0))
        }
        let allErrors = errors.sorted { $0.key < $1.key }.map(\.value) + unsequencedErrors
        return PingResult.measured(target: target, identifier: 0, count: count, size: action.size,
                          timeToLive: UInt8(action.ttl ?? 64), probes: probes, lateReplies: late,
                          errors: allErrors, isFinished: finished)
    }

    /// ping -D's "1795316756.964149" (seconds since 1970), exactly.
    static func timestamp(_ text: Substring) -> Instant? {
        let parts = text.split(separator: ".", maxSplits: 1)
        guard let seconds = UInt64(parts.first ?? ""), parts.count < 2 || parts[1].allSatisfy(\.isNumber) else { return nil }
        let digits = parts.count == 2 ? String(parts[1].prefix(9)) : ""
        let fraction = UInt64(digits + String(repeating: "0", count: 9 - digits.count)) ?? 0
        return Instant(nanoseconds: seconds * 1_000_000_000 + fraction)
    }

    /// "N packets transmitted, …".
    static func transmitted(_ line: Substring) -> Int? {
        guard let r = line.range(of: " packets transmitted") else { return nil }
        return Int(line[..<r.lowerBound].split(separator: " ").last ?? "")
    }

    /// "… bytes from A: icmp_seq=S ttl=T time=X ms" (iputils) or "… seq=S …" (busybox).
    static func reply(_ line: Substring) -> (sequence: Int, rtt: Duration)? {
        guard line.contains(" bytes from ") else { return nil }
        var sequence: Int?
        var rtt: Duration?
        let words = line.split(separator: " ")
        for (n, w) in words.enumerated() {
            if w.hasPrefix("icmp_seq=") { sequence = Int(w.dropFirst(9)) }
            else if w.hasPrefix("seq=") { sequence = Int(w.dropFirst(4)) }
            else if w.hasPrefix("time=") {
                // "time=0.066 ms" (or "time=12 ms"); the unit is the next word.
                guard let v = Double(w.dropFirst(5)) else { continue }
                let unit = n + 1 < words.count ? words[n + 1] : "ms"
                let scale: Double = unit.hasPrefix("s") ? 1e9 : (unit.hasPrefix("us") || unit.hasPrefix("µs") ? 1e3 : 1e6)
                rtt = Saturating.duration(nanoseconds: v * scale)
            }
        }
        guard let sequence, let rtt else { return nil }
        return (sequence, rtt)
    }

    /// "From A icmp_seq=S <what>" (iputils) or "ping: warning: got ICMP T (<name>)" (busybox).
    func icmpError(_ line: Substring, at time: Instant) -> ICMPErrorReport? {
        if line.hasPrefix("From ") {
            let words = line.split(separator: " ", maxSplits: 3)
            guard words.count == 4, let from = IPv4Address(words[1]), words[2].hasPrefix("icmp_seq="),
                  let seq = UInt16(words[2].dropFirst(9)) else { return nil }
            let (type, code) = Self.icmpTypeAndCode(named: String(words[3]))
            var r = ICMPErrorReport(time: time, from: from, type: ICMPv4Type(rawValue: type), code: code,
                                    originalDestination: target, originalProtocol: .icmp)
            r.echo = (identifier: 0, sequence: seq)
            return r
        }
        if let r = line.range(of: "got ICMP ") {
            guard let type = UInt8(line[r.upperBound...].prefix { $0.isNumber }) else { return nil }
            return ICMPErrorReport(time: time, from: IPv4Address(rawValue: 0), type: ICMPv4Type(rawValue: type), code: 0,
                                   originalDestination: target, originalProtocol: .icmp)
        }
        return nil
    }

    /// ICMP type and code for the text ping prints, found by asking ICMPErrorReport for its name
    /// of each candidate (so both directions use one table). Unknown text: type 3 code 0.
    static func icmpTypeAndCode(named text: String) -> (UInt8, UInt8) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for type: UInt8 in [3, 11, 12, 4, 5] {
            for code: UInt8 in 0...15 {
                let r = ICMPErrorReport(time: .zero, from: IPv4Address(rawValue: 0), type: ICMPv4Type(rawValue: type), code: code,
                                        originalDestination: IPv4Address(rawValue: 0), originalProtocol: .icmp)
                if trimmed.hasPrefix(r.name.prefix { $0 != "(" }.trimmingCharacters(in: .whitespaces)) && !r.name.contains(", code") {
                    return (type, code)
                }
            }
        }
        return (3, 0)
    }
}
