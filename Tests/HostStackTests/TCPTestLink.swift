// A point-to-point link between two hosts for TCP tests: per direction a propagation delay, an
// optional bit rate with a tail-drop queue (so a sender can fill it), and seeded random loss; a
// virtual clock that jumps to the next arrival or host deadline. Each direction is a FIFO (the
// link never reorders), so nothing is sorted. A running hash of every frame put on the wire, with
// its time, is the run's trace.

import Basics
import HostStack
import Testing
import Wire

final class TCPTestLink {
    struct Direction {
        var delay: Duration
        /// Bits per second; nil: no serialization delay, no queue.
        var rate: Double?
        /// Bytes the queue before the wire holds (frames beyond are dropped at the tail).
        var queueLimit: Int
        var lossProbability: Double
        var inFlight: [(at: Instant, frame: [UInt8])] = []
        var head = 0
        var busyUntil = Instant.zero
        var delivered = 0
        var lost = 0
        var queueDrops = 0
        /// Decides a frame's fate before random loss: true drops it.
        var dropFilter: (([UInt8], Instant) -> Bool)?
    }

    let a: Host, b: Host
    private(set) var now = Instant.zero
    var ab: Direction
    var ba: Direction
    private var random: SeededRandom
    /// FNV-1a over (time, direction, bytes) of every frame sent.
    private(set) var trace: UInt64 = 0xCBF2_9CE4_8422_2325
    private(set) var framesSent = 0
    /// Sees every frame put on the wire (before loss), with its time.
    var tap: ((Instant, [UInt8]) -> Void)?

    init(_ a: Host, _ b: Host, delay: Duration, rate: Double? = nil, queueLimit: Int = 1 << 30,
         loss: Double = 0, seed: UInt64 = 1) {
        self.a = a; self.b = b
        ab = Direction(delay: delay, rate: rate, queueLimit: queueLimit, lossProbability: loss)
        ba = ab
        random = SeededRandom(seed: seed, component: "link")
    }

    /// Takes what the hosts produced (call after an action such as `tcpConnect`).
    func collect() {
        a.drainOutgoing { offer(Array($0), fromA: true) }
        b.drainOutgoing { offer(Array($0), fromA: false) }
    }

    private func offer(_ frame: [UInt8], fromA: Bool) {
        framesSent += 1
        tap?(now, frame)
        mix(now.nanoseconds); mix(fromA ? 1 : 2)
        frame.withUnsafeBytes { bytes in
            // Eight bytes at a time (the test runs unoptimized; per-byte loops dominate otherwise).
            var k = 0, h = trace
            while k + 8 <= bytes.count {
                h = (h ^ bytes.loadUnaligned(fromByteOffset: k, as: UInt64.self)) &* 0x0000_0100_0000_01B3
                k += 8
            }
            while k < bytes.count { h = (h ^ UInt64(bytes[k])) &* 0x0000_0100_0000_01B3; k += 1 }
            trace = h
        }
        var d = fromA ? ab : ba
        defer { if fromA { ab = d } else { ba = d } }
        if let filter = d.dropFilter, filter(frame, now) { d.lost += 1; return }
        if d.lossProbability > 0, random.nextUnit() < d.lossProbability { d.lost += 1; return }
        var departure = now
        if let rate = d.rate {
            let start = max(now, d.busyUntil)
            // Bytes still queued ahead of this frame.
            let backlog = Double((start - now).nanosecondsClamped) / 1e9 * rate / 8
            guard Int(backlog) + frame.count <= d.queueLimit else { d.queueDrops += 1; return }
            // Ethernet on the wire: frame + preamble/IFG/FCS (24 bytes), at least 84.
            let bits = Double(max(frame.count + 24, 84) * 8)
            departure = start + .nanoseconds(Int64(bits / rate * 1e9))
            d.busyUntil = departure
        }
        d.inFlight.append((departure + d.delay, frame))
    }

    private func mix(_ v: UInt64) {
        for k in 0..<8 { trace = (trace ^ ((v >> (8 * UInt64(k))) & 0xFF)) &* 0x0000_0100_0000_01B3 }
    }

    /// Runs until `end` or until `stop` returns true (checked after every step).
    func run(until end: Instant, stop: () -> Bool = { false }, sourceLocation: SourceLocation = #_sourceLocation) {
        collect()
        var steps = 0
        while !stop() {
            steps += 1
            if steps > 20_000_000 { Issue.record("link did not settle", sourceLocation: sourceLocation); return }
            var next: Instant?
            func consider(_ t: Instant?) { if let t { next = next.map { min($0, t) } ?? t } }
            if ab.head < ab.inFlight.count { consider(ab.inFlight[ab.head].at) }
            if ba.head < ba.inFlight.count { consider(ba.inFlight[ba.head].at) }
            consider(a.nextDeadline()); consider(b.nextDeadline())
            guard let t = next, t <= end else { break }
            now = max(now, t)
            while ab.head < ab.inFlight.count, ab.inFlight[ab.head].at <= now {
                b.receive(ab.inFlight[ab.head].frame, now: now); ab.head += 1; ab.delivered += 1
            }
            while ba.head < ba.inFlight.count, ba.inFlight[ba.head].at <= now {
                a.receive(ba.inFlight[ba.head].frame, now: now); ba.head += 1; ba.delivered += 1
            }
            compact(&ab); compact(&ba)
            if let d = a.nextDeadline(), d <= now { a.poll(now: now) }
            if let d = b.nextDeadline(), d <= now { b.poll(now: now) }
            collect()
        }
        if !stop() { now = max(now, end) }
    }

    func run(for duration: Duration, stop: () -> Bool = { false }, sourceLocation: SourceLocation = #_sourceLocation) {
        run(until: now + duration, stop: stop, sourceLocation: sourceLocation)
    }

    private func compact(_ d: inout Direction) {
        if d.head > 4096, d.head * 2 > d.inFlight.count {
            d.inFlight.removeFirst(d.head)
            d.head = 0
        }
    }
}

/// Two hosts, A 10.0.0.1 and B 10.0.0.2, on a `TCPTestLink`.
func tcpPair(delay: Duration = .milliseconds(5), rate: Double? = nil, queueLimit: Int = 1 << 30, loss: Double = 0,
             seed: UInt64 = 1, _ configure: (inout HostConfiguration) -> Void = { _ in }) -> (TCPTestLink, Host, Host) {
    let a = host("a", macA, seed: seed, configure), b = host("b", macB, seed: seed, configure)
    a.configureStatic(address: IPv4Network("10.0.0.1/24")!, now: .zero)
    b.configureStatic(address: IPv4Network("10.0.0.2/24")!, now: .zero)
    let link = TCPTestLink(a, b, delay: delay, rate: rate, queueLimit: queueLimit, loss: loss, seed: seed)
    return (link, a, b)
}
