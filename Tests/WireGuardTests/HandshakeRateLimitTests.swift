// Under load, a source with a valid cookie is still held to 20 handshake messages a second (burst 5):
// the Diffie-Hellman work a flood can cause is bounded.
import Basics
import Wire
import Testing
@testable import WireGuard

/// B under load; A's first initiation earns a cookie, its retransmission carries a valid mac2 and is
/// accepted. Returns that retransmission (replaying it costs B a Diffie-Hellman unless it is rate-limited).
private func initiationWithValidCookie(underLoad: Bool) throws -> (TestNetwork, Node, Node, [UInt8]) {
    let (net, a, b) = makePair()
    b.device.underLoadOverride = true
    var initiations: [[UInt8]] = []
    net.filter = { d in if d.kind == .handshakeInitiation { initiations.append(d.bytes) }; return false }
    net.send(ipv4("10.0.0.1", "10.0.0.2"), from: a)
    net.advance(by: .seconds(6))
    net.filter = nil
    #expect(b.device.counters.responsesSent == 1, "the retransmission with mac2 was answered")
    b.device.underLoadOverride = underLoad
    return (net, a, b, try #require(initiations.last))
}

@Test func aValidCookieFloodIsRateLimitedBeforeDiffieHellman() throws {
    let (net, a, b, initiation) = try initiationWithValidCookie(underLoad: true)
    let start = net.now
    // 1,000 replays over one second from A's address. Each that passes the limiter is opened (DH) and
    // then refused as stale; the rest are refused before any DH.
    for i in 0..<1000 {
        _ = b.device.receive(datagram: initiation, from: a.address, now: start + .microseconds(i * 1000))
    }
    let drops = b.device.counters.drops
    let diffieHellman = drops[.staleHandshake] + drops[.handshakeFlood]
    #expect(drops[.handshakeRateLimited] + diffieHellman == 1000)
    // The burst (5, one already spent by the accepted retransmission) plus 20 a second for 1 s.
    #expect(diffieHellman >= 20 && diffieHellman <= 25, "DH done \(diffieHellman) times")
    #expect(b.device.counters.responsesSent == 1)
}

@Test func withoutLoadThereIsNoRateLimit() throws {
    let (net, a, b, initiation) = try initiationWithValidCookie(underLoad: false)
    for _ in 0..<100 { _ = b.device.receive(datagram: initiation, from: a.address, now: net.now) }
    #expect(b.device.counters.drops[.handshakeRateLimited] == 0)
    #expect(b.device.counters.drops[.staleHandshake] == 100)
}

@Test func rateLimiterBucketsAreBoundedAndPerSource() {
    var limiter = HandshakeRateLimiter()
    let t0 = Instant(nanoseconds: 10_000_000_000)
    let x = IPv4Address(192, 0, 2, 1), y = IPv4Address(192, 0, 2, 2)
    // A burst of 5, then refused; another source is unaffected.
    var burst: [Bool] = []
    for _ in 0..<8 { burst.append(limiter.allow(x, now: t0)) }
    #expect(burst == [true, true, true, true, true, false, false, false])
    let other = limiter.allow(y, now: t0)
    #expect(other)
    // 50 ms of credit buys one more message; a clock that goes backwards buys none.
    let later = limiter.allow(x, now: t0 + .milliseconds(50)), backwards = limiter.allow(x, now: t0)
    #expect(later && !backwards)
    // The table is bounded: past its capacity, new sources are refused until idle ones are swept.
    for i in 0..<(HandshakeRateLimiter.capacity + 10) {
        _ = limiter.allow(IPv4Address(rawValue: 0x0A00_0000 | UInt32(i)), now: t0 + .milliseconds(100))
    }
    #expect(limiter.buckets.count == HandshakeRateLimiter.capacity)
    let newcomer = IPv4Address(203, 0, 113, 9)
    let whileFull = limiter.allow(newcomer, now: t0 + .milliseconds(200))
    let afterSweep = limiter.allow(newcomer, now: t0 + .seconds(2))
    #expect(!whileFull)
    #expect(afterSweep, "idle buckets swept after 1 s")
    #expect(limiter.buckets.count == 1)
}
