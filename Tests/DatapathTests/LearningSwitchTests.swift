import Basics
import Testing
import Wire
@testable import Datapath

/// A locally administered unicast address numbered `n`.
private func station(_ n: UInt64) -> MACAddress { MACAddress(rawValue: 0x0200_0000_0000 | n) }
private func seconds(_ s: UInt64) -> Instant { Instant(nanoseconds: s * 1_000_000_000) }
private let p0 = PortID(0), p1 = PortID(1), p2 = PortID(2)
private let a = station(0xA), b = station(0xB), c = station(0xC)

@Suite struct LearningSwitchTests {
    @Test func learnsSourcesAndForwardsToThem() {
        var sw = LearningSwitch()
        #expect(sw.receive(source: a, destination: b, on: p0, now: seconds(1)) == .flood(except: p0))
        #expect(sw.receive(source: b, destination: a, on: p1, now: seconds(2)) == .forward(p0))
        #expect(sw.receive(source: a, destination: b, on: p0, now: seconds(3)) == .forward(p1))
        #expect(sw.lookup(a, now: seconds(3)) == p0 && sw.lookup(b, now: seconds(3)) == p1)
        #expect(sw.statistics.learned == 2)
        #expect(sw.count == 2)
    }

    @Test func floodsBroadcastMulticastAndUnknownUnicast() {
        var sw = LearningSwitch()
        _ = sw.receive(source: b, destination: a, on: p1, now: seconds(1))
        let multicast = MACAddress(0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB)
        #expect(sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(2)) == .flood(except: p0))
        #expect(sw.receive(source: a, destination: multicast, on: p0, now: seconds(2)) == .flood(except: p0))
        #expect(sw.receive(source: a, destination: c, on: p0, now: seconds(2)) == .flood(except: p0))
        #expect(sw.receive(source: a, destination: b, on: p0, now: seconds(2)) == .forward(p1), "control: known unicast is not flooded")
    }

    @Test func neverForwardsBackToTheIngressPort() {
        var sw = LearningSwitch()
        _ = sw.receive(source: b, destination: .broadcast, on: p0, now: seconds(1))
        #expect(sw.receive(source: a, destination: b, on: p0, now: seconds(2)) == .drop(.sameIngressPort))
        #expect(sw.receive(source: a, destination: a, on: p0, now: seconds(3)) == .drop(.sameIngressPort))
        #expect(sw.receive(source: a, destination: b, on: p1, now: seconds(4)) == .forward(p0), "control: from another port it is forwarded")
    }

    @Test func groupAndZeroSourcesAreDroppedAndNeverLearned() {
        var sw = LearningSwitch()
        let multicast = MACAddress(0x01, 0x00, 0x5E, 0x00, 0x00, 0x01)
        for source in [MACAddress.broadcast, multicast, MACAddress.zero] {
            #expect(sw.receive(source: source, destination: a, on: p0, now: seconds(1)) == .drop(.invalidSourceAddress))
        }
        #expect(sw.count == 0 && sw.statistics.learned == 0)
        #expect(sw.receive(source: c, destination: multicast, on: p1, now: seconds(2)) == .flood(except: p1))
        #expect(sw.lookup(multicast, now: seconds(2)) == nil)
    }

    @Test func anAddressSeenOnANewPortMoves() {
        var sw = LearningSwitch()
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(1))
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(2))
        #expect(sw.statistics.moved == 0)
        _ = sw.receive(source: a, destination: .broadcast, on: p2, now: seconds(3))
        #expect(sw.statistics.moved == 1)
        #expect(sw.statistics.learned == 1)
        #expect(sw.receive(source: b, destination: a, on: p1, now: seconds(4)) == .forward(p2))
        #expect(sw.entries.map(\.port) == [p2, p1])
    }

    @Test func entriesAgeOutAndFloodingResumes() {
        var sw = LearningSwitch(configuration: .init(agingTime: .seconds(300)))
        #expect(sw.nextDeadline() == nil)
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(10))
        #expect(sw.nextDeadline() == seconds(310))
        _ = sw.receive(source: b, destination: .broadcast, on: p1, now: seconds(20))
        #expect(sw.nextDeadline() == seconds(310), "the deadline is the oldest entry's")

        #expect(sw.receive(source: b, destination: a, on: p1, now: seconds(309)) == .forward(p0))
        #expect(sw.nextDeadline() == seconds(310), "b's refresh does not move a's deadline")
        #expect(sw.lookup(a, now: seconds(310)) == nil)

        // Lazy aging: the lookup at 310 finds a expired, removes it and floods.
        #expect(sw.receive(source: b, destination: a, on: p1, now: seconds(310)) == .flood(except: p1))
        #expect(sw.statistics.aged == 1 && sw.count == 1)
        #expect(sw.nextDeadline() == seconds(610))
        // Re-learned, it forwards again.
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(400))
        #expect(sw.receive(source: b, destination: a, on: p1, now: seconds(401)) == .forward(p0))
    }

    @Test func expireRemovesExactlyTheDueEntries() {
        var sw = LearningSwitch(configuration: .init(agingTime: .seconds(60)))
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(0))
        _ = sw.receive(source: b, destination: .broadcast, on: p1, now: seconds(5))
        _ = sw.receive(source: c, destination: .broadcast, on: p2, now: seconds(7))
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(8))  // refresh a
        #expect(sw.nextDeadline() == seconds(65))
        #expect(sw.expire(now: seconds(64)) == 0)
        #expect(sw.expire(now: seconds(67)) == 2)
        #expect(sw.entries.map(\.address) == [a])
        #expect(sw.nextDeadline() == seconds(68))
        #expect(sw.expire(now: seconds(68)) == 1)
        #expect(sw.nextDeadline() == nil && sw.count == 0)
        #expect(sw.statistics.aged == 3)
    }

    @Test func expiryOrderIsDeterministicAndOldestFirst() {
        func run(seed: UInt64) -> [[MACAddress]] {
            var rng = SeededRandom(seed: seed, component: "expiry")
            var sw = LearningSwitch(configuration: .init(capacity: 512, agingTime: .seconds(100)))
            var now: UInt64 = 0
            for _ in 0..<400 {
                now += rng.next() % 3
                let mac = station(rng.next() % 300)
                _ = sw.receive(source: mac, destination: .broadcast, on: PortID(UInt16(rng.next() % 4)), now: seconds(now))
            }
            var removals: [[MACAddress]] = []
            var t = now
            while let deadline = sw.nextDeadline() {
                let before = sw.entries
                #expect(deadline == before[0].lastSeen + .seconds(100))
                t = max(t, deadline.nanoseconds / 1_000_000_000) + 5
                sw.expire(now: seconds(t))
                let after = Set(sw.entries.map(\.address))
                let gone = before.map(\.address).filter { !after.contains($0) }
                // Exactly the entries due at t are gone, and they were the oldest ones, in order.
                #expect(gone == before.filter { $0.lastSeen + .seconds(100) <= seconds(t) }.map(\.address))
                #expect(before.prefix(gone.count).map(\.address) == gone)
                removals.append(gone)
            }
            return removals
        }
        let first = run(seed: 42)
        #expect(first.count > 1)
        #expect(first == run(seed: 42))
    }

    @Test func aFullTableEvictsTheOldest() {
        var sw = LearningSwitch(configuration: .init(capacity: 3, whenFull: .evictOldest))
        for (i, mac) in [a, b, c].enumerated() {
            _ = sw.receive(source: mac, destination: .broadcast, on: PortID(UInt16(i)), now: seconds(UInt64(i)))
        }
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(3))  // a is now newest; b oldest
        let d = station(0xD)
        _ = sw.receive(source: d, destination: .broadcast, on: p1, now: seconds(4))
        #expect(sw.statistics.evicted == 1)
        #expect(sw.entries.map(\.address) == [c, a, d])
        #expect(sw.receive(source: c, destination: b, on: p2, now: seconds(5)) == .flood(except: p2))
    }

    @Test func aFullTableCanRefuseNewAddresses() {
        var sw = LearningSwitch(configuration: .init(capacity: 2, whenFull: .refuseNew))
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(1))
        _ = sw.receive(source: b, destination: .broadcast, on: p1, now: seconds(2))
        #expect(sw.receive(source: c, destination: a, on: p2, now: seconds(3)) == .forward(p0), "the frame still goes through")
        #expect(sw.statistics.refused == 1 && sw.statistics.evicted == 0)
        #expect(sw.entries.map(\.address) == [a, b])
        #expect(sw.receive(source: a, destination: c, on: p0, now: seconds(4)) == .flood(except: p0))
    }

    @Test func aFullTableReclaimsExpiredEntriesBeforeEvicting() {
        var sw = LearningSwitch(configuration: .init(capacity: 2, agingTime: .seconds(10), whenFull: .refuseNew))
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(0))
        _ = sw.receive(source: b, destination: .broadcast, on: p1, now: seconds(5))
        _ = sw.receive(source: c, destination: .broadcast, on: p2, now: seconds(12))
        #expect(sw.statistics.aged == 1 && sw.statistics.refused == 0)
        #expect(sw.entries.map(\.address) == [b, c])
    }

    @Test func removingAPortFlushesItsEntries() {
        var sw = LearningSwitch()
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(1))
        _ = sw.receive(source: b, destination: .broadcast, on: p1, now: seconds(2))
        _ = sw.receive(source: c, destination: .broadcast, on: p1, now: seconds(3))
        #expect(sw.removePort(p1) == 2)
        #expect(sw.statistics.flushed == 2)
        #expect(sw.entries.map(\.address) == [a])
        #expect(sw.receive(source: a, destination: b, on: p0, now: seconds(4)) == .flood(except: p0))
        #expect(sw.removePort(p1) == 0)
    }

    @Test func timeRunningBackwardsDoesNotReorderTheTable() {
        var sw = LearningSwitch(configuration: .init(agingTime: .seconds(100)))
        _ = sw.receive(source: a, destination: .broadcast, on: p0, now: seconds(50))
        _ = sw.receive(source: b, destination: .broadcast, on: p1, now: seconds(10))
        #expect(sw.entries.map(\.lastSeen) == [seconds(50), seconds(50)])
        #expect(sw.nextDeadline() == seconds(150))
    }

    @Test func framesAreParsedAfterALengthCheck() {
        var sw = LearningSwitch()
        var frame = [UInt8](repeating: 0, count: 14)
        frame.withUnsafeMutableBytes { bytes in
            b.write(to: bytes, at: 0)
            a.write(to: bytes, at: 6)
            bytes.setU16(12, 0x0800)
        }
        for short in 0..<LearningSwitch.minimumFrameLength {
            let d = frame.withUnsafeBytes { sw.receive(frame: UnsafeRawBufferPointer(rebasing: $0.prefix(short)), on: p0, now: seconds(1)) }
            #expect(d == .drop(.malformed))
        }
        #expect(sw.count == 0)
        let d = frame.withUnsafeBytes { sw.receive(frame: $0, on: p0, now: seconds(1)) }
        #expect(d == .flood(except: p0))
        #expect(sw.entries.map(\.address) == [a], "the source is read from octets 6..<12")
        _ = sw.receive(source: b, destination: .broadcast, on: p1, now: seconds(2))
        #expect(frame.withUnsafeBytes { sw.receive(frame: $0, on: p0, now: seconds(3)) } == .forward(p1))
    }

    /// The table against a plain-array model of the same rules, through thousands of random
    /// learns, moves, lookups, expiries, evictions and port removals (exercises the hash index's
    /// backward-shift deletion on long probe runs).
    @Test(arguments: [LearningSwitch.FullTablePolicy.evictOldest, .refuseNew])
    func agreesWithAReferenceModel(policy: LearningSwitch.FullTablePolicy) {
        struct Model {
            var entries: [MACTableEntry] = []
            let capacity: Int, aging: Duration, policy: LearningSwitch.FullTablePolicy
            func expired(_ e: MACTableEntry, _ now: Instant) -> Bool { now >= e.lastSeen + aging }
            mutating func expire(_ now: Instant) { entries.removeAll { now >= $0.lastSeen + aging } }
            mutating func receive(_ src: MACAddress, _ dst: MACAddress, _ port: PortID, _ now: Instant) -> SwitchDecision {
                if let i = entries.firstIndex(where: { $0.address == src }) {
                    entries.remove(at: i)
                    entries.append(MACTableEntry(address: src, port: port, lastSeen: now))
                } else {
                    if entries.count == capacity { expire(now) }
                    var learn = true
                    if entries.count == capacity {
                        if policy == .evictOldest { entries.removeFirst() } else { learn = false }
                    }
                    if learn { entries.append(MACTableEntry(address: src, port: port, lastSeen: now)) }
                }
                if dst.isMulticast { return .flood(except: port) }
                guard let i = entries.firstIndex(where: { $0.address == dst }) else { return .flood(except: port) }
                if expired(entries[i], now) { entries.remove(at: i); return .flood(except: port) }
                return entries[i].port == port ? .drop(.sameIngressPort) : .forward(entries[i].port)
            }
        }
        var rng = SeededRandom(seed: 7, component: "model-\(policy)")
        var sw = LearningSwitch(configuration: .init(capacity: 48, agingTime: .seconds(30), whenFull: policy))
        var model = Model(capacity: 48, aging: .seconds(30), policy: policy)
        var now: UInt64 = 0
        for step in 0..<20_000 {
            now += rng.next() % 2
            let roll = rng.next() % 100
            if roll < 2 {
                sw.expire(now: seconds(now))
                model.expire(seconds(now))
            } else if roll < 3 {
                let port = PortID(UInt16(rng.next() % 5))
                sw.removePort(port)
                model.entries.removeAll { $0.port == port }
            } else {
                // Clustered addresses (low bits differ little) make long probe runs.
                let src = station((rng.next() % 80) << 8)
                let dst = rng.next() % 10 == 0 ? MACAddress.broadcast : station((rng.next() % 80) << 8)
                let port = PortID(UInt16(rng.next() % 5))
                let got = sw.receive(source: src, destination: dst, on: port, now: seconds(now))
                let want = model.receive(src, dst, port, seconds(now))
                if got != want { Issue.record("step \(step): \(got) != \(want)"); return }
            }
            if sw.entries != model.entries { Issue.record("step \(step): tables differ"); return }
        }
        #expect(policy == .evictOldest ? sw.statistics.evicted > 0 : sw.statistics.refused > 0)
        #expect(sw.statistics.aged > 0 && sw.statistics.moved > 0 && sw.statistics.flushed > 0)
    }
}
