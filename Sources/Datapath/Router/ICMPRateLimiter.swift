// RFC 1812 §4.3.2.8: "a router MUST ... limit the rate at which it originates ICMP error
// messages". A token bucket, with time passed in.
import Basics

/// A token bucket refilled continuously at `perSecond` tokens per second, holding at most `burst`.
/// Kept in integer nanoseconds of credit, so it is exact and deterministic.
public struct ICMPRateLimiter: Sendable {
    /// Credit one token costs.
    let tokenCost: UInt64
    /// Most credit the bucket holds.
    let capacity: UInt64
    var credit: UInt64
    var last: Instant?

    public init(perSecond: Int, burst: Int) {
        tokenCost = 1_000_000_000 / UInt64(max(1, perSecond))
        capacity = tokenCost * UInt64(max(1, burst))
        credit = capacity
    }

    /// Takes a token if one is available at `now`.
    public mutating func take(now: Instant) -> Bool {
        if let last, now > last {
            credit = min(capacity, credit + min(capacity, now.nanoseconds - last.nanoseconds))
        }
        if last.map({ now > $0 }) ?? true { last = now }
        guard credit >= tokenCost else { return false }
        credit -= tokenCost
        return true
    }
}
