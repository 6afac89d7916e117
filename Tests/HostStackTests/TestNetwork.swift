// A tiny in-test network: endpoints on one hub (every frame reaches every other endpoint after a
// fixed delay), a virtual clock that jumps to the next delivery or deadline, an optional
// impairment per frame, and a log of every frame put on the wire.

import Basics
import HostStack
import Testing
import Wire

/// Anything the test network can attach.
protocol Endpoint: AnyObject {
    func receive(_ frame: [UInt8], now: Instant)
    func poll(now: Instant)
    func nextDeadline() -> Instant?
    func takeOutgoing() -> [[UInt8]]
}

extension Host: Endpoint {}

/// What happens to one frame on its way to one endpoint.
enum FrameFate {
    case deliver
    case drop
    /// Delivered twice.
    case duplicate
    /// Delivered after the link delay plus this much.
    case delay(Duration)
}

final class TestNetwork {
    struct Sent {
        var time: Instant
        var from: Int
        var frame: [UInt8]
    }

    private struct InFlight {
        var at: Instant
        var order: Int
        var to: Int
        var frame: [UInt8]
    }

    private(set) var endpoints: [any Endpoint] = []
    private(set) var now = Instant.zero
    let delay: Duration
    /// Every frame put on the wire, in order.
    private(set) var log: [Sent] = []
    /// Decides each (frame, sender, receiver) delivery; nil delivers everything.
    var impairment: ((_ frame: [UInt8], _ from: Int, _ to: Int) -> FrameFate)?
    private var inFlight: [InFlight] = []
    private var order = 0

    init(delay: Duration = .milliseconds(1)) { self.delay = delay }

    /// Attaches `endpoint`; returns its index.
    @discardableResult
    func attach(_ endpoint: any Endpoint) -> Int {
        endpoints.append(endpoint)
        return endpoints.count - 1
    }

    /// Delivers `frame` to endpoint `to` at `at` (default: now), as if it came off the wire.
    func inject(_ frame: [UInt8], to: Int, at: Instant? = nil) {
        schedule(frame, to: to, at: at ?? now)
    }

    /// Runs until `end`: deliveries and deadlines in time order, outputs collected after each step.
    func run(until end: Instant, sourceLocation: SourceLocation = #_sourceLocation) {
        collectAll()
        var steps = 0
        while true {
            steps += 1
            if steps > 2_000_000 {
                Issue.record("network did not settle by \(end) (now \(now))", sourceLocation: sourceLocation)
                return
            }
            var next = inFlight.first?.at
            for e in endpoints {
                if let d = e.nextDeadline() { next = next.map { min($0, d) } ?? d }
            }
            guard let t = next, t <= end else { break }
            now = max(now, t)
            while let first = inFlight.first, first.at <= now {
                inFlight.removeFirst()
                endpoints[first.to].receive(first.frame, now: now)
                collect(first.to)
            }
            for (i, e) in endpoints.enumerated() {
                if let d = e.nextDeadline(), d <= now {
                    e.poll(now: now)
                    collect(i)
                }
            }
        }
        now = max(now, end)
    }

    /// Runs for `duration` more.
    func run(for duration: Duration, sourceLocation: SourceLocation = #_sourceLocation) {
        run(until: now + duration, sourceLocation: sourceLocation)
    }

    /// Takes the frames endpoints produced outside `run` (after an action call).
    func collectAll() {
        for i in endpoints.indices { collect(i) }
    }

    private func collect(_ i: Int) {
        for frame in endpoints[i].takeOutgoing() {
            log.append(Sent(time: now, from: i, frame: frame))
            for j in endpoints.indices where j != i {
                switch impairment?(frame, i, j) ?? .deliver {
                case .deliver: schedule(frame, to: j, at: now + delay)
                case .drop: break
                case .duplicate:
                    schedule(frame, to: j, at: now + delay)
                    schedule(frame, to: j, at: now + delay)
                case .delay(let extra): schedule(frame, to: j, at: now + delay + extra)
                }
            }
        }
    }

    private func schedule(_ frame: [UInt8], to: Int, at: Instant) {
        order += 1
        let item = InFlight(at: at, order: order, to: to, frame: frame)
        let index = inFlight.firstIndex { ($0.at, $0.order) > (item.at, item.order) } ?? inFlight.count
        inFlight.insert(item, at: index)
    }

    /// Frames endpoint `from` sent, decoded.
    func frames(from: Int) -> [(time: Instant, frame: DecodedFrame)] {
        log.filter { $0.from == from }.compactMap { s in DecodedFrame(s.frame).map { (s.time, $0) } }
    }
}

extension Instant {
    /// An instant `d` after zero, for readable tests.
    static func at(_ d: Duration) -> Instant { .zero + d }
}
