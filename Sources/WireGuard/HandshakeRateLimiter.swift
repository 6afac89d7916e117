// The per-source handshake rate limit (wireguard-go's ratelimiter): a cookie only proves that the
// sender can receive at its address, so under load an initiator with a valid mac2 could still make
// the responder do four Diffie-Hellman operations per message at any rate. A token bucket per
// source IP address — 20 handshake messages a second, a burst of 5 — caps that work; a source over
// its rate is dropped (`handshakeRateLimited`) before any Diffie-Hellman. Sans-IO: time comes in.

import Basics
import Wire

/// Token buckets by source IPv4 address, bounded in size. Tokens are nanoseconds of credit: a
/// message costs `messageCost`, credit accrues with elapsed time up to `burst` messages' worth.
/// Public for the mesh handshake (Sources/Mesh), which holds its sources to the same rate under load.
public struct HandshakeRateLimiter {
    /// wireguard-go's packetsPerSecond.
    static let messagesPerSecond: UInt64 = 20
    /// wireguard-go's packetsBurstable.
    static let burst: UInt64 = 5
    static let messageCost: UInt64 = 1_000_000_000 / messagesPerSecond
    static let maxCredit: UInt64 = messageCost * burst
    /// A bucket idle this long is full again, so it is forgotten.
    static let idleAfter: Duration = .seconds(1)
    /// At most this many sources are tracked; when the table is full of busy sources, a new source
    /// is refused until the next sweep (each costs a cookie round trip at its own address first).
    static let capacity = 4096

    public init() {}

    struct Bucket {
        var credit: UInt64
        var last: Instant
    }

    private(set) var buckets: [IPv4Address: Bucket] = [:]
    private var lastSweep = Instant.zero

    /// True when `source` may have one more handshake message processed at `now`.
    public mutating func allow(_ source: IPv4Address, now: Instant) -> Bool {
        if now - lastSweep >= Self.idleAfter { sweep(now: now) }
        guard var bucket = buckets[source] else {
            guard buckets.count < Self.capacity else { return false }
            buckets[source] = Bucket(credit: Self.maxCredit - Self.messageCost, last: now)
            return true
        }
        let elapsed = now < bucket.last ? 0 : now.nanoseconds - bucket.last.nanoseconds
        bucket.credit = min(Self.maxCredit, bucket.credit &+ min(elapsed, Self.maxCredit))
        bucket.last = now
        let allowed = bucket.credit >= Self.messageCost
        if allowed { bucket.credit -= Self.messageCost }
        buckets[source] = bucket
        return allowed
    }

    /// Forgets the buckets idle for `idleAfter` (they would be full anyway).
    private mutating func sweep(now: Instant) {
        lastSweep = now
        buckets = buckets.filter { now - $0.value.last < Self.idleAfter }
    }
}
