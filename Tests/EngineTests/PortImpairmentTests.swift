// Port impairments in the engine (Bridge+Impairment.swift, PortImpairment.swift), in virtual time:
// a two-port L2 bridge driven by the driver contract alone — frames handed in with `receive`, the
// deadline `service(now:)` returns honoured — with the link model on one port's cable.
import Basics
import Datapath
import Engine
import Sim
import Testing
import Wire
import YAMLSchema

/// A bridge with ports "a" and "b" on one segment, recording what reaches each and when.
private final class TwoPorts {
    let bridge: Bridge
    let a: PortID, b: PortID
    var atA: [(Instant, [UInt8])] = []
    var atB: [(Instant, [UInt8])] = []
    var now = Instant.zero
    var deadline: Instant?

    init() throws {
        bridge = try Bridge(config: try BridgeConfig.parse("name: br0\n"))
        bridge.connect(BridgeOutputs())
        var sinkA: (UnsafeRawBufferPointer) -> Void = { _ in }
        var sinkB: (UnsafeRawBufferPointer) -> Void = { _ in }
        a = try bridge.attachExternal(name: "a") { sinkA($0) }
        b = try bridge.attachExternal(name: "b") { sinkB($0) }
        sinkA = { [unowned self] in self.atA.append((self.now, Array($0))) }
        sinkB = { [unowned self] in self.atB.append((self.now, Array($0))) }
    }

    /// A broadcast frame from `source` (flooded to the other port) of `size` bytes, numbered `n`.
    static func frame(_ n: Int, size: Int = 100, source: UInt8 = 1) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: size)
        f.withUnsafeMutableBytes { out in
            _ = try! EthernetHeader(destination: .broadcast, source: MACAddress(0x52, 0x54, 0, 0, 0, source), etherType: .ipv4).emit(into: out)
        }
        f[14] = UInt8(truncatingIfNeeded: n >> 8); f[15] = UInt8(truncatingIfNeeded: n)
        return f
    }

    /// Hands `frame` in through `port` at `time`, then services the bridge (the contract's step 5).
    func send(_ frame: [UInt8], from port: PortID, at time: Instant) {
        advance(to: time)
        frame.withUnsafeBytes { bridge.receive($0, from: port, now: time) }
        deadline = bridge.service(now: time)
    }

    /// Wakes at every deadline up to `time` (as a driver's timer would), then stands at `time`.
    func advance(to time: Instant) {
        while let d = deadline, d <= time {
            now = d
            deadline = bridge.service(now: d)
        }
        now = time
    }
}

private func impairment(_ yaml: String) throws -> PortImpairment {
    try PortImpairment.parse(try YAMLValue.parse(yaml, file: "test.yml"))
}

private let ms = Duration.milliseconds(1)
private func at(_ d: Duration) -> Instant { .zero + d }

@Test func egressDelayHoldsFramesUntilTheirTimeAndTheDeadlineSaysWhen() throws {
    let t = try TwoPorts()
    try t.bridge.impair(t.b, try impairment("egress: { delay: 20ms }"), now: .zero, seed: 1)
    t.send(TwoPorts.frame(1), from: t.a, at: at(ms * 5))
    #expect(t.atB.isEmpty)
    #expect(t.deadline == at(ms * 25))
    t.advance(to: at(ms * 24))
    #expect(t.atB.isEmpty)
    t.advance(to: at(ms * 30))
    #expect(t.atB.count == 1)
    #expect(t.atB.first?.0 == at(ms * 25))
    // Ingress is untouched: b's frames reach a at once.
    t.send(TwoPorts.frame(2, source: 2), from: t.b, at: at(ms * 40))
    #expect(t.atA.count == 1 && t.atA.first?.0 == at(ms * 40))
    #expect(t.bridge.impairmentCounters(of: t.b)?.egress.delivered == 1)
}

@Test func ingressDelayIsAppliedBeforeTheSwitchSeesTheFrame() throws {
    let t = try TwoPorts()
    try t.bridge.impair(t.a, try impairment("ingress: { delay: 7ms }"), now: .zero, seed: 1)
    t.send(TwoPorts.frame(1), from: t.a, at: .zero)
    #expect(t.bridge.ports[t.a]?.counters.rxPackets == 0)  // still on the cable
    t.advance(to: at(ms * 10))
    #expect(t.atB.map(\.0) == [at(ms * 7)])
    #expect(t.bridge.ports[t.a]?.counters.rxPackets == 1)
}

@Test func randomLossDropsAboutItsShareAndCountsEveryFrame() throws {
    let t = try TwoPorts()
    try t.bridge.impair(t.b, try impairment("loss: 30%"), now: .zero, seed: 7)
    for i in 0..<4000 { t.send(TwoPorts.frame(i), from: t.a, at: at(.microseconds(100 * i))) }
    t.advance(to: at(.seconds(1)))
    let c = try #require(t.bridge.impairmentCounters(of: t.b)?.egress)
    #expect(c.sent == 4000)
    #expect(c.delivered + c.lost == 4000)
    #expect(t.atB.count == c.delivered)
    let share = Double(c.lost) / 4000
    #expect(abs(share - 0.30) < 0.03, "lost \(share)")
}

@Test func gilbertElliottLossComesInBursts() throws {
    let t = try TwoPorts()
    // Mean loss p/(p+r) = 1/11 ≈ 9%, bursts of 1/r = 10 frames on average.
    try t.bridge.impair(t.b, try impairment("loss: { p: 1%, r: 10% }"), now: .zero, seed: 3)
    for i in 0..<20_000 { t.send(TwoPorts.frame(i), from: t.a, at: at(.microseconds(10 * i))) }
    t.advance(to: at(.seconds(1)))
    let got = Set(t.atB.map { Int($0.1[14]) << 8 | Int($0.1[15]) })
    var bursts = 0, lost = 0, inBurst = false
    for i in 0..<20_000 {
        let missing = !got.contains(i & 0xFFFF)
        if missing { lost += 1; if !inBurst { bursts += 1 } }
        inBurst = missing
    }
    let share = Double(lost) / 20_000
    #expect(abs(share - 1.0 / 11) < 0.03, "lost \(share)")
    #expect(Double(lost) / Double(max(bursts, 1)) > 5, "mean burst \(Double(lost) / Double(max(bursts, 1)))")
}

@Test func rateLimitSpacesFramesAndTailDropsPastTheQueue() throws {
    let t = try TwoPorts()
    // 1000-byte frames at 8 Mbit/s: one per millisecond; 10 may wait.
    try t.bridge.impair(t.b, try impairment("egress: { rate: 8mbit, queue: 10 }"), now: .zero, seed: 1)
    for i in 0..<50 { t.send(TwoPorts.frame(i, size: 1000), from: t.a, at: .zero) }
    t.advance(to: at(.seconds(1)))
    #expect(t.atB.count == 11)
    #expect(t.atB.map(\.0) == (0..<11).map { at(ms * $0) })
    #expect(t.bridge.impairmentCounters(of: t.b)?.egress.queueDrops == 39)
}

@Test func mtuDuplicateAndDownDoWhatTheySay() throws {
    let t = try TwoPorts()
    try t.bridge.impair(t.b, try impairment("{ mtu: 500, duplicate: 100% }"), now: .zero, seed: 1)
    t.send(TwoPorts.frame(1, size: 515), from: t.a, at: .zero)
    t.send(TwoPorts.frame(2, size: 514), from: t.a, at: .zero)
    t.advance(to: at(ms))
    #expect(t.atB.count == 2)  // the 515-byte frame dropped, the other twice
    #expect(t.bridge.impairmentCounters(of: t.b)?.egress.mtuDrops == 1)
    var cut = try #require(t.bridge.impairment(of: t.b))
    try cut.apply(words: ["up=false"])
    try t.bridge.impair(t.b, cut, now: at(ms), seed: 1)
    t.send(TwoPorts.frame(3), from: t.a, at: at(ms * 2))
    t.send(TwoPorts.frame(4, source: 2), from: t.b, at: at(ms * 2))
    t.advance(to: at(ms * 10))
    #expect(t.atB.count == 2 && t.atA.isEmpty)
    try cut.apply(words: ["up=true"])
    try t.bridge.impair(t.b, cut, now: at(ms * 10), seed: 1)
    t.send(TwoPorts.frame(5), from: t.a, at: at(ms * 11))
    t.advance(to: at(ms * 12))
    #expect(t.atB.count == 4)
}

@Test func clearingTakesThePortOffTheLinkModel() throws {
    let t = try TwoPorts()
    try t.bridge.impair(t.b, try impairment("delay: 50ms"), now: .zero, seed: 1)
    t.send(TwoPorts.frame(1), from: t.a, at: .zero)
    var setting = try #require(t.bridge.impairment(of: t.b))
    try setting.apply(words: ["clear"])
    #expect(setting.isNone)
    try t.bridge.impair(t.b, setting, now: at(ms), seed: 1)
    #expect(t.bridge.impairment(of: t.b) == nil)
    #expect(t.bridge.impairedPorts.isEmpty)
    t.send(TwoPorts.frame(2), from: t.a, at: at(ms * 2))
    #expect(t.atB.map(\.0) == [at(ms * 2)])  // straight through
    t.advance(to: at(ms * 60))
    #expect(t.atB.map(\.0) == [at(ms * 2), at(ms * 50)])  // the frame on the wire still arrived
}

@Test func theSameSeedAndFramesGiveTheSameDeliveries() throws {
    func run(seed: UInt64) throws -> [Instant] {
        let t = try TwoPorts()
        try t.bridge.impair(t.b, try impairment("{ delay: 10ms, jitter: 5ms, loss: 10%, reorder: 5% }"), now: .zero, seed: seed)
        for i in 0..<300 { t.send(TwoPorts.frame(i), from: t.a, at: at(.microseconds(500 * i))) }
        t.advance(to: at(.seconds(1)))
        return t.atB.map(\.0)
    }
    let first = try run(seed: 11)
    #expect(first == (try run(seed: 11)))
    #expect(first != (try run(seed: 12)))
}

@Test func aBridgeWithoutImpairmentsHasNoAgendaAndNoDeadline() throws {
    let t = try TwoPorts()
    t.send(TwoPorts.frame(1), from: t.a, at: .zero)
    #expect(t.deadline == at(.seconds(300)))  // only the learned MAC's aging (switch.aging)
    #expect(t.atB.count == 1 && t.atB.first?.0 == .zero)
    #expect(t.bridge.impairmentCounters(of: t.b) == nil)
    // A perfect cable on a port that never had one changes nothing.
    try t.bridge.impair(t.b, PortImpairment(), now: .zero, seed: 1)
    #expect(t.bridge.impairmentCounters(of: t.b) == nil)
}

@Test func bridgeYAMLAndWordsShareTheScenarioKeys() throws {
    let config = try BridgeConfig.parse("""
    name: br0
    taps:
      - name: sl-t0
        impair: { delay: 20ms, jitter: 2ms, loss: 1%, egress: { rate: 10mbit, queue: 50 }, mtu: 1400 }
    vhost-user:
      - socket: /run/sluice/vm1.sock
        impair: { loss: { p: 1%, r: 25%, h: 10% }, up: false }
    """)
    let tap = try #require(config.taps.first?.impair)
    #expect(tap.ingress.delay == .milliseconds(20) && tap.egress.delay == .milliseconds(20))
    #expect(tap.ingress.rate == nil && tap.egress.rate?.bitsPerSecond == 10_000_000)
    #expect(tap.summary == "ingress: delay 20ms jitter 2ms loss 1% mtu 1400; egress: delay 20ms jitter 2ms loss 1% rate 10mbit limit 50 mtu 1400")
    let guest = try #require(config.vhostUser.first?.impair)
    #expect(!guest.up)
    #expect(guest.egress.loss == .gilbertElliott(goodToBad: 0.01, badToGood: 0.25, lossInGood: 0, lossInBad: 0.9))

    var words = PortImpairment()
    try words.apply(words: ["delay=20ms", "jitter=2ms", "loss=1%", "egress.rate=10mbit", "egress.queue=50", "mtu=1400"])
    #expect(words == tap)
    try words.apply(words: ["loss.p=1%", "loss.r=25%", "loss.h=10%", "up=false", "delay=0s", "jitter=0s", "rate=unlimited", "mtu=none"])
    #expect(words.egress == guest.egress && !words.up)
}

@Test func badImpairmentsAreLocatedWithAFix() throws {
    func error(_ yaml: String) -> ConfigError? {
        do { _ = try BridgeConfig.parse(yaml, file: "bridge.yml"); return nil } catch { return error }
    }
    let unknown = try #require(error("taps:\n  - name: t0\n    impair: { dealy: 5ms }\n"))
    #expect(unknown.line == 3 && unknown.message.contains("dealy"))
    let queue = try #require(error("taps:\n  - name: t0\n    impair: { queue: 5 }\n"))
    #expect(queue.message.contains("queue") && queue.fix?.contains("rate") == true)
    let loss = try #require(error("taps:\n  - name: t0\n    impair: { loss: 150% }\n"))
    #expect(loss.line == 3 && loss.fix != nil)
    let rate = try #require(error("taps:\n  - name: t0\n    impair: { rate: 1e300tbit }\n"))
    #expect(rate.message.contains("out of range"))
    let bps = try #require(error("taps:\n  - name: t0\n    impair: { rate: 10mbps }\n"))
    #expect(bps.message.contains("ambiguous"))

    var p = PortImpairment()
    #expect(throws: ConfigError.self) { try p.apply(words: ["delay"]) }
    #expect(throws: ConfigError.self) { try p.apply(words: ["delay=5ms}, {x"]) }
    #expect(throws: ConfigError.self) { try p.apply(words: ["speed=5"]) }
    #expect(throws: ConfigError.self) { try p.apply(words: [String](repeating: "loss=2", count: 1)) }
    #expect(p.isNone)  // a refused change leaves it as it was
}

@Test func aReloadMayChangeImpairmentsButNotTheTapsThemselves() throws {
    let old = try BridgeConfig.parse("taps:\n  - name: t0\n    impair: { delay: 5ms }\n")
    let text = "taps:\n  - name: t0\n    impair: { delay: 9ms }\n"
    let change = try old.reconfiguration(to: try BridgeConfig.parse(text), root: try YAMLValue.parse(text, file: "b.yml"))
    #expect(change.impairmentsChanged)
    #expect(change.summary == ["impair tap:t0: both: delay 9ms"])
    let renamed = "taps:\n  - name: t1\n    impair: { delay: 9ms }\n"
    #expect(throws: ConfigError.self) {
        _ = try old.reconfiguration(to: try BridgeConfig.parse(renamed), root: try YAMLValue.parse(renamed, file: "b.yml"))
    }
}
