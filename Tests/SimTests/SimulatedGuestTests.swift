// Simulated guests end to end: two HostStack hosts on in-memory virtio NICs, their cables, and a
// tiny in-test "wire" standing in for a bridge — it moves frames from one guest's transmit ring
// into the other's receive ring, exactly as `Bridge.serviceGuestTransmit` would.

import Basics
import HostStack
import Testing
import Virtio
import Wire
@testable import Sim

/// Two guests' NICs joined back to back, driven the way the Lab drives a bridge.
final class TestWire {
    let guests: [SimulatedGuest]
    let devices: [VirtioNetQueuePair<GuestMemoryRegions>]
    /// Every frame that crossed, in order (for determinism checks).
    private(set) var log: [(time: Instant, from: Int, bytes: [UInt8])] = []

    init(_ a: SimulatedGuest, _ b: SimulatedGuest) throws {
        guests = [a, b]
        devices = [try a.makeDevice(), try b.makeDevice()]
        // The guests keep the wire alive (a cycle, fine for a test): callers may drop it.
        a.kick = { now in self.service(0, now: now) }
        b.kick = { now in self.service(1, now: now) }
    }

    /// The guest `from` kicked: take its transmit ring, fill the other's receive ring, notify.
    private func service(_ from: Int, now: Instant) {
        let to = 1 - from
        let batch = devices[from].transmit(limit: 256) { _, frame in
            log.append((now, from, Array(frame)))
            _ = devices[to].receive(frame)
        }
        if devices[to].finishReceiveBatch() { guests[to].notify() }
        if batch.notifyGuest { guests[from].notify() }
    }

    var frameLog: [[UInt8]] { log.map(\.bytes) }
}

func mac(_ last: UInt8) -> MACAddress { MACAddress(0x52, 0x54, 0, 0, 0, last) }
let ipA = IPv4Address(10, 0, 0, 1), ipB = IPv4Address(10, 0, 0, 2)

/// Two guests with static addresses on a wire, each cable `impairments` both ways.
func pingPair(seed: UInt64, cable impairments: LinkImpairments) throws -> (Simulation, SimulatedGuest, SimulatedGuest, TestWire) {
    let sim = Simulation(seed: seed)
    let a = try SimulatedGuest(sim, name: "vm1", mac: mac(1), cable: impairments)
    let b = try SimulatedGuest(sim, name: "vm2", mac: mac(2), cable: impairments)
    let wire = try TestWire(a, b)
    a.withHost { host, now in host.configureStatic(address: IPv4Network(address: ipA, prefixLength: 24)!, now: now) }
    b.withHost { host, now in host.configureStatic(address: IPv4Network(address: ipB, prefixLength: 24)!, now: now) }
    return (sim, a, b, wire)
}

@Suite struct SimulatedGuestTests {
    @Test func pingRoundTripIsTwiceTheOneWayDelay() throws {
        // Each cable delays 5 ms each way: one way is 10 ms (two cables), a round trip 20 ms.
        let cableDelay = Duration.milliseconds(5)
        let (sim, a, b, wire) = try pingPair(seed: 1, cable: LinkImpairments(delay: cableDelay))
        let ping = a.withHost { host, now in host.ping(ipB, count: 10, interval: .seconds(1), now: now) }
        try sim.run(until: .zero + .seconds(12))

        let result = a.host.pingResult(ping)
        #expect(result.isFinished)
        #expect(result.sent == 10 && result.received == 10)
        let oneWay = cableDelay * 2
        // The first probe waited for ARP (one more round trip); the rest found the MAC cached.
        #expect(result.probes[0].roundTripTime == oneWay * 4)
        #expect(result.probes.dropFirst().allSatisfy { $0.roundTripTime == oneWay * 2 })
        #expect(b.host.counters.echoRepliesSent == 10)
        // ARP request + reply, then 10 requests and 10 replies crossed the wire.
        #expect(wire.frameLog.count == 22)
        #expect(a.counters.transmitted == 11 && b.counters.transmitted == 11)
        #expect(a.counters.transmitRingFull == 0 && b.counters.transmitRingFull == 0)
        #expect(a.cable.aToB.counters.delivered == 11 && a.cable.bToA.counters.delivered == 11)
    }

    @Test func zeroDelayCablesAnswerAtTheSameInstant() throws {
        let (sim, a, _, _) = try pingPair(seed: 1, cable: LinkImpairments())
        let ping = a.withHost { host, now in host.ping(ipB, count: 3, interval: .milliseconds(100), now: now) }
        try sim.run(until: .zero + .seconds(2))
        let result = a.host.pingResult(ping)
        #expect(result.received == 3)
        #expect(result.roundTripTimes.allSatisfy { $0 == .zero })
    }

    @Test func aSimulatedMinuteOfPingingUnderLoss() throws {
        // Ten pings a second for a minute over lossy, jittery cables; just run it and count.
        var cable = LinkImpairments(delay: .milliseconds(2), jitter: .uniform(.microseconds(500)), loss: .random(0.01))
        cable.duplicate = 0.005
        let (sim, a, b, _) = try pingPair(seed: 7, cable: cable)
        let ping = a.withHost { host, now in host.ping(ipB, count: 600, interval: .milliseconds(100), now: now) }
        let back = b.withHost { host, now in host.ping(ipA, count: 600, interval: .milliseconds(100), now: now) }
        try sim.run(until: .zero + .seconds(61))

        for (guest, id) in [(a, ping), (b, back)] {
            let r = guest.host.pingResult(id)
            #expect(r.isFinished && r.sent == 600)
            // A probe crosses four lossy directions: ≈ 1 - 0.99⁴ ≈ 3.9 % lost.
            #expect(r.loss > 0.01 && r.loss < 0.08, "\(guest.name) loss \(r.loss)")
            // Four directions of 2 ms ± 0.5 ms (the first probe also waited for ARP).
            let rtts = r.probes.dropFirst().compactMap(\.roundTripTime)
            #expect(rtts.allSatisfy { $0 >= .milliseconds(6) && $0 <= .milliseconds(10) })
        }
        #expect(a.host.pingResult(ping).duplicates + b.host.pingResult(back).duplicates > 0)
        #expect(sim.now == .zero + .seconds(61))
        #expect(sim.eventCount > 4 * 1_200)
    }

    @Test func linkDownStopsPingsAndUpRestoresThem() throws {
        let (sim, a, _, _) = try pingPair(seed: 1, cable: LinkImpairments(delay: .milliseconds(1)))
        let ping = a.withHost { host, now in host.ping(ipB, count: 30, interval: .seconds(1), now: now) }
        sim.schedule(at: .zero + .milliseconds(9_500), label: "cable down") { a.cable.isUp = false }
        sim.schedule(at: .zero + .milliseconds(19_500), label: "cable up") { a.cable.isUp = true }
        try sim.run(until: .zero + .seconds(31))
        let r = a.host.pingResult(ping)
        // Probes sent at 10 s … 19 s find the cable down.
        #expect(r.received == 20)
        #expect(r.probes[10..<20].allSatisfy { $0.outcome == .timedOut })
        #expect(a.cable.aToB.counters.downDrops == 10)
    }

    @Test func sameSeedSameTraceAndFramesDifferentSeedDifferent() throws {
        var cable = LinkImpairments(delay: .milliseconds(3), jitter: .normal(standardDeviation: .microseconds(400)),
                                    loss: .gilbertElliott(goodToBad: 0.05, badToGood: 0.5, lossInGood: 0.01, lossInBad: 0.6),
                                    duplicate: 0.02, reorder: 0.05, corrupt: 0.05)
        cable.reorderDelay = .milliseconds(1)
        func run(seed: UInt64) throws -> (trace: [SimulationEventRecord], frames: [[UInt8]], replies: Int) {
            let (sim, a, b, wire) = try pingPair(seed: seed, cable: cable)
            var trace: [SimulationEventRecord] = []
            sim.eventObserver = { trace.append($0) }
            let p = a.withHost { host, now in host.ping(ipB, count: 200, interval: .milliseconds(50), now: now) }
            b.withHost { host, now in _ = host.ping(ipA, count: 200, interval: .milliseconds(50), now: now) }
            try sim.run(until: .zero + .seconds(12))
            return (trace, wire.frameLog, a.host.pingResult(p).received)
        }
        let first = try run(seed: 42), second = try run(seed: 42), other = try run(seed: 43)
        #expect(first.trace.count > 1_000)
        #expect(first.trace == second.trace)
        #expect(first.frames == second.frames)
        #expect(first.trace != other.trace)
        #expect(first.frames != other.frames)
        #expect(first.replies > 60)
    }

    @Test func guestTimersAreDrivenBySimulation() throws {
        // An unanswered ping: ARP gives up after its retries, all as timer events of the node.
        let sim = Simulation(seed: 1)
        let a = try SimulatedGuest(sim, name: "lonely", mac: mac(9))
        a.withHost { host, now in host.configureStatic(address: IPv4Network(address: ipA, prefixLength: 24)!, now: now) }
        var timers = 0
        sim.eventObserver = { if $0.label == "timer:lonely" { timers += 1 } }
        let ping = a.withHost { host, now in host.ping(ipB, count: 3, interval: .seconds(1), now: now) }
        #expect(try sim.runUntilQuiet(limit: .zero + .seconds(60)))
        let r = a.host.pingResult(ping)
        #expect(r.isFinished && r.received == 0)
        #expect(a.host.counters.arpRequestsSent == 3)
        #expect(timers >= 3)
        // No kick wired: the frames wait in the transmit ring.
        #expect(a.counters.transmitted == 3 && a.counters.kicks == 0)
        #expect(sim.armedDeadline(of: a.node) == nil)
    }

    @Test func oversizeAndRingFullAreCounted() throws {
        let sim = Simulation(seed: 1)
        var driver = InMemoryGuestDriver.Configuration()
        driver.queueSize = 4
        driver.receiveBufferCount = 4
        driver.maximumTransmitFrame = 200
        let a = try SimulatedGuest(sim, name: "small", mac: mac(3), driver: driver)
        // No kick: nothing drains the ring. 4 slots; the fifth and sixth frames find it full.
        for size in [60, 60, 60, 60, 60, 60, 300] {
            var frame = [UInt8](repeating: 0, count: size)
            frame[0] = 0xFF
            a.cable.aToB.send(frame)
        }
        try sim.run(until: .zero + .seconds(1))
        #expect(a.counters.transmitted == 4)
        #expect(a.counters.transmitRingFull == 2)
        #expect(a.counters.transmitTooLarge == 1)
    }
}
