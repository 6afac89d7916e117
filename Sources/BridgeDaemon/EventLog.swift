// The bridge daemon's log (docs/operating.md, logs): swift-log `Logger`s whose handler writes
// one line per event, as text or as JSON lines, with the same fields everywhere — `guest`,
// `port`, `segment`, `reason` — first and in that order, then any others by name. Events a guest
// can cause (connects, protocol errors, broken queues) pass a token bucket per event; what the
// bucket holds back is counted and reported in one "suppressed" line when its window ends (one
// `interval` after the first line held back, on the daemon's timer), when the event is let
// through again before that, and at shutdown.
import Basics
import Engine
import Foundation
import Logging

/// How the daemon's log lines look (`sluice bridge --log-format`).
public enum LogFormat: String, CaseIterable, Sendable {
    /// `2026-12-07T21:00:00.123Z info guest connected guest=1 port=vhost0-1 segment=lan`
    case text
    /// `{"time":"…","level":"info","event":"guest connected","guest":"1",…}`, one object per line.
    case json
}

/// `--log-level` and `--log-format`.
public struct LogOptions: Sendable {
    public var level: String
    public var format: LogFormat

    /// The levels, least severe first (swift-log's).
    public static let levels = Logger.Level.allCases.map(\.rawValue)

    /// Checked options; nil when `level` is not one of `levels`.
    public init?(level: String = "info", format: LogFormat = .text) {
        guard Logger.Level(rawValue: level) != nil else { return nil }
        self.level = level
        self.format = format
    }

    var loggerLevel: Logger.Level { Logger.Level(rawValue: level) ?? .info }
}

/// A swift-log handler writing one line per event to `sink` (the daemon's output).
struct EventLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let format: LogFormat
    let sink: LineSink

    /// The fields every line puts first, in this order.
    static let leadingFields = ["guest", "port", "segment", "reason"]
    /// The keys every JSON line has of its own; a field of that name is written as `field_<name>`.
    static let reservedKeys: Set<String> = ["time", "level", "event"]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        sink.write(Self.render(level: event.level, message: "\(event.message)", fields: fields, format: format, time: Date()))
    }

    /// One line (without the newline).
    static func render(level: Logger.Level, message: String, fields: Logger.Metadata, format: LogFormat, time: Date) -> String {
        let ordered = leadingFields.filter { fields[$0] != nil } + fields.keys.filter { !leadingFields.contains($0) }.sorted()
        let stamp = timestamp(time)
        switch format {
        case .text:
            var line = "\(stamp) \(level.rawValue) \(message)"
            for key in ordered {
                let value = "\(fields[key]!)"
                let quoted = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline })
                line += " \(key)=" + (quoted ? jsonString(value) : value)
            }
            return line
        case .json:
            var parts = ["\"time\":\(jsonString(stamp))", "\"level\":\(jsonString(level.rawValue))", "\"event\":\(jsonString(message))"]
            for key in ordered {
                let name = reservedKeys.contains(key) ? "field_\(key)" : key  // never a second "event"
                parts.append("\(jsonString(name)):\(jsonString("\(fields[key]!)"))")
            }
            return "{" + parts.joined(separator: ",") + "}"
        }
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = ms % 1000
        let m = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(m)Z"
    }

    /// A JSON string literal: the Engine's `JSONText.string`, which the metrics use too.
    static func jsonString(_ s: String) -> String { JSONText.string(s) }
}

/// Where finished lines go (the daemon's `log` closure). The daemon logs only from its reactor
/// thread, so the closure is never called concurrently.
final class LineSink: @unchecked Sendable {
    let write: (String) -> Void
    init(_ write: @escaping (String) -> Void) { self.write = write }
}

/// Token buckets per event a guest can cause, and what each held back. Sans-IO: every call is
/// given the time (the daemon's monotonic clock; tests pass virtual instants).
struct EventRateLimiter {
    /// Lines let through at once, then one per `interval`, per event.
    static let burst = 20
    static let interval = Duration.seconds(1)

    var buckets: [String: TokenBucket] = [:]
    /// Per event: lines held back since its last summary, and when that summary is due (one
    /// `interval` after the first of them).
    var suppressed: [String: (count: UInt64, due: Instant)] = [:]
    /// Every line held back since start.
    var totalSuppressed: UInt64 = 0

    /// Whether the line for `event` goes out at `now`; if so, how many were held back before it
    /// (and not yet reported by `due(now:)`).
    mutating func admit(_ event: String, now: Instant) -> (admitted: Bool, heldBack: UInt64) {
        var bucket = buckets[event] ?? TokenBucket(burst: Self.burst, interval: Self.interval, now: now)
        let ok = bucket.take(now: now)
        buckets[event] = bucket
        guard ok else {
            var held = suppressed[event] ?? (0, now + Self.interval)
            held.count &+= 1
            suppressed[event] = held
            totalSuppressed &+= 1
            return (false, 0)
        }
        return (true, suppressed.removeValue(forKey: event)?.count ?? 0)
    }

    /// When the next summary is due (nil: nothing held back).
    /// (Read after every event: no allocation, nothing to scan when nothing is held back.)
    var deadline: Instant? {
        var earliest: Instant?
        for held in suppressed.values where earliest.map({ held.due < $0 }) ?? true { earliest = held.due }
        return earliest
    }

    /// The summaries whose window has ended at `now`, by event name, removed.
    mutating func due(now: Instant) -> [(event: String, count: UInt64)] {
        guard let first = deadline, first <= now else { return [] }
        let ended = suppressed.filter { $0.value.due <= now }.sorted { $0.key < $1.key }
        for (event, _) in ended { suppressed[event] = nil }
        return ended.map { ($0.key, $0.value.count) }
    }

    /// Every count held back, emptied (at shutdown).
    mutating func drain() -> [(event: String, count: UInt64)] {
        defer { suppressed = [:] }
        return suppressed.sorted { $0.key < $1.key }.map { ($0.key, $0.value.count) }
    }
}

extension BridgeDaemon {
    /// Logs `event` at `level` with `fields`. `guestCaused` events pass the rate limiter first.
    func note(_ level: Logger.Level, _ event: String, _ fields: Logger.Metadata = [:], guestCaused: Bool = false) {
        guard level >= logger.logLevel else { return }  // below the level: neither logged nor counted as held back
        if guestCaused {
            let (admitted, heldBack) = limiter.admit(event, now: reactor.clock.now())
            guard admitted else {
                // The summary is due when the window ends: the reactor's timer wakes up for it
                // (not every caller runs `afterEvent` after its line).
                if let due = limiter.deadline, timerDeadline.map({ due < $0 }) ?? true { rearm(at: due) }
                return
            }
            if heldBack > 0 {
                logger.log(level: .warning, "suppressed", metadata: ["of": "\(event)", "count": "\(heldBack)"])
            }
        }
        logger.log(level: level, "\(event)", metadata: fields)
    }

    /// Reports what the rate limiter held back in windows that have ended by `now` (from the
    /// daemon's timer, `afterEvent`).
    func reportSuppressed(now: Instant) {
        for (event, count) in limiter.due(now: now) {
            logger.log(level: .warning, "suppressed", metadata: ["of": "\(event)", "count": "\(count)"])
        }
    }

    /// Reports what the rate limiter still holds back (at shutdown).
    func flushSuppressed() {
        for (event, count) in limiter.drain() {
            logger.log(level: .warning, "suppressed", metadata: ["of": "\(event)", "count": "\(count)"])
        }
    }
}
