// Two HostStack hosts on a cable with a fixed delay and a drop rule, pumped in virtual time:
// real ping and UDP flood results (and the frames on the cable, as a capture) for evaluator tests.
import Basics
import Capture
import HostStack
import Wire

final class BackToBack {
    let a: Host
    let b: Host
    let delay: Duration
    /// Frames for which this returns true are dropped on the cable (after being captured).
    var drop: ([UInt8]) -> Bool = { _ in false }
    private(set) var now = Instant.zero
    /// Every frame put on the cable, as a capture at the sender's side.
    private(set) var capture: [CaptureRecord] = []
    private var inFlight: [(at: Instant, toB: Bool, frame: [UInt8])] = []

    init(delay: Duration, seed: UInt64 = 1) {
        a = Host(name: "a", mac: MACAddress(0x52, 0x54, 0, 0, 0, 0x0a), random: SeededRandom(seed: seed, component: "a"))
        b = Host(name: "b", mac: MACAddress(0x52, 0x54, 0, 0, 0, 0x0b), random: SeededRandom(seed: seed, component: "b"))
        self.delay = delay
        a.configureStatic(address: IPv4Network("10.0.0.10/24")!, now: now)
        b.configureStatic(address: IPv4Network("10.0.0.11/24")!, now: now)
    }

    /// Runs until nothing is left to do or `limit` is reached.
    func run(until limit: Instant) {
        while true {
            for (host, toB) in [(a, true), (b, false)] {
                for frame in host.takeOutgoing() {
                    capture.append(CaptureRecord(time: now, originalLength: frame.count, bytes: frame))
                    if !drop(frame) { inFlight.append((now + delay, toB, frame)) }
                }
            }
            var next = inFlight.map(\.at).min()
            for d in [a.nextDeadline(), b.nextDeadline()] { if let d { next = min(next ?? d, d) } }
            guard let next, next <= limit else { return }
            now = next
            while let i = inFlight.firstIndex(where: { $0.at <= now }) {
                let f = inFlight.remove(at: i)
                (f.toB ? b : a).receive(f.frame, now: now)
            }
            for host in [a, b] where (host.nextDeadline() ?? .distantFuture) <= now { host.poll(now: now) }
        }
    }

    /// Whether `frame` is an ICMP echo reply with this sequence number.
    static func isEchoReply(_ frame: [UInt8], sequence: UInt16) -> Bool {
        frame.withUnsafeBytes { f in
            guard let p = try? IPv4Frame.parse(f), p.ip.protocol == .icmp,
                  let m = try? ICMPv4Message(parsing: f.slice(p.payloadRange)) else { return false }
            return m.type == .echoReply && m.sequenceNumber == sequence
        }
    }
}
