// A token bucket (RFC 2697's shape, one rate and one burst): `burst` events at once, then one
// every `interval`. Sans-IO: the caller passes the time. Used to rate-limit log lines a guest can
// cause (BridgeDaemon's EventLog.swift), so a hostile guest cannot flood the log.

/// Allows `burst` takes at once, refilled at one per `interval`.
public struct TokenBucket: Sendable, Equatable {
    /// Nanoseconds per token.
    public let interval: UInt64
    /// The most tokens held.
    public let burst: UInt64
    /// Credit in nanoseconds (a token costs `interval`), at most `burst × interval`.
    var credit: UInt64
    var last: Instant

    /// A full bucket at `now`. An `interval` of zero allows everything.
    public init(burst: Int, interval: Duration, now: Instant = .zero) {
        let ns = UInt64(clamping: interval.nanosecondsClamped)
        self.interval = ns
        self.burst = UInt64(max(1, burst))
        let full = ns.multipliedReportingOverflow(by: self.burst)
        credit = full.overflow ? .max : full.partialValue
        last = now
    }

    /// Takes one token at `now` if there is one.
    public mutating func take(now: Instant) -> Bool {
        if interval == 0 { return true }
        if now > last {
            let full = interval.multipliedReportingOverflow(by: burst)
            let cap = full.overflow ? UInt64.max : full.partialValue
            let gained = now.nanoseconds - last.nanoseconds
            let sum = credit.addingReportingOverflow(gained)
            credit = sum.overflow ? cap : min(cap, sum.partialValue)
            last = now
        }
        guard credit >= interval else { return false }
        credit -= interval
        return true
    }
}
