// The kernel: agenda order, the clock, cancellation, node timers and the stuck-run guard.

import Basics
import Testing
@testable import Sim

@Suite struct EventHeapTests {
    @Test func popsInDeadlineThenSequenceOrder() {
        var random = SeededRandom(seed: 3)
        var heap = EventHeap<Int>()
        var inserted: [(deadline: Instant, sequence: UInt64)] = []
        // Few distinct deadlines, so most entries tie on deadline and only the sequence orders them.
        // Inserted with shuffled sequence numbers, so insertion order alone cannot pass the test.
        var sequences = Array(0..<5_000 as Range<UInt64>)
        sequences.shuffle(using: &random)
        for sequence in sequences {
            let deadline = Instant(nanoseconds: random.next() % 37)
            heap.insert(deadline: deadline, sequence: sequence, payload: Int(sequence))
            inserted.append((deadline, sequence))
        }
        var popped: [(deadline: Instant, sequence: UInt64)] = []
        while let entry = heap.popFirst() {
            #expect(entry.payload == Int(entry.sequence))
            popped.append((entry.deadline, entry.sequence))
        }
        let expected = inserted.sorted { $0.deadline != $1.deadline ? $0.deadline < $1.deadline : $0.sequence < $1.sequence }
        #expect(popped.map(\.deadline) == expected.map(\.deadline))
        #expect(popped.map(\.sequence) == expected.map(\.sequence))
        #expect(heap.isEmpty)
    }

    @Test func interleavedInsertAndPopStayOrdered() {
        var random = SeededRandom(seed: 9)
        var heap = EventHeap<Void>()
        var sequence: UInt64 = 0
        var popped: [(Instant, UInt64)] = []
        var floor = Instant.zero
        for round in 0..<4_000 {
            // Like the simulation: nothing is inserted before the last popped deadline.
            for _ in 0..<Int(random.next() % 3) {
                heap.insert(deadline: floor + .nanoseconds(Int64(random.next() % 10)), sequence: sequence, payload: ())
                sequence += 1
            }
            if round % 2 == 0, let entry = heap.popFirst() {
                popped.append((entry.deadline, entry.sequence))
                floor = entry.deadline
            }
        }
        #expect(popped.count > 1_000)
        for (a, b) in zip(popped, popped.dropFirst()) {
            #expect(a.0 < b.0 || (a.0 == b.0 && a.1 < b.1))
        }
    }
}

@Suite struct SimulationTests {
    @Test func sameInstantEventsRunInSchedulingOrder() throws {
        let sim = Simulation(seed: 1)
        var ran: [String] = []
        let t = Instant.zero + .milliseconds(5)
        for i in 0..<50 {
            sim.schedule(at: t, label: "e\(i)") { ran.append("e\(i)") }
            if i == 10 { sim.schedule(at: t - .milliseconds(1), label: "early") { ran.append("early") } }
        }
        // An event scheduled at `now` from inside an event runs after those already due then.
        sim.schedule(at: t, label: "spawner") {
            sim.schedule(at: sim.now, label: "spawned") { ran.append("spawned") }
            ran.append("spawner")
        }
        sim.schedule(at: t, label: "last") { ran.append("last") }
        try sim.run(until: t)
        #expect(ran == ["early"] + (0..<50).map { "e\($0)" } + ["spawner", "last", "spawned"])
        #expect(sim.now == t)
        #expect(sim.eventCount == 54)
    }

    @Test func clockJumpsToEachEventAndNeverBack() throws {
        let sim = Simulation(seed: 1)
        var times: [Instant] = []
        for ms in [30, 10, 20] as [Int64] {
            sim.schedule(at: .zero + .milliseconds(ms)) {
                times.append(sim.now)
                // In the past: runs at now, not back in time.
                if ms == 20 { sim.schedule(at: .zero + .milliseconds(1)) { times.append(sim.now) } }
            }
        }
        sim.schedule(after: .milliseconds(40)) { times.append(sim.now) }
        try sim.run(until: .zero + .milliseconds(35))
        let ms = { (t: Int64) in Instant.zero + .milliseconds(t) }
        #expect(times == [ms(10), ms(20), ms(20), ms(30)])
        #expect(sim.now == ms(35))
        #expect(sim.pendingEventCount == 1)
        try sim.run(for: .milliseconds(5))
        #expect(times.last == ms(40))
        #expect(sim.now == ms(40))
    }

    @Test func cancelledEventsDoNotRun() throws {
        let sim = Simulation(seed: 1)
        var ran: [Int] = []
        let ids = (0..<5).map { i in sim.schedule(after: .seconds(Int64(i))) { ran.append(i) } }
        sim.cancel(ids[1])
        sim.cancel(ids[3])
        #expect(try sim.runUntilQuiet(limit: .zero + .seconds(10)))
        #expect(ran == [0, 2, 4])
        #expect(sim.now == .zero + .seconds(4))
        #expect(sim.eventCount == 3)
    }

    @Test func runUntilQuietStopsAtTheLimitWhenWorkRemains() throws {
        let sim = Simulation(seed: 1)
        var ticks = 0
        func tick() { ticks += 1; sim.schedule(after: .seconds(1)) { tick() } }
        sim.schedule(at: .zero) { tick() }
        #expect(try sim.runUntilQuiet(limit: .zero + .milliseconds(9_500)) == false)
        #expect(ticks == 10)
        #expect(sim.now == .zero + .milliseconds(9_500))
    }

    @Test func aSelfReschedulingEventIsReportedAsStuck() throws {
        let sim = Simulation(seed: 1)
        sim.sameInstantLimit = 1_000
        func spin() { sim.schedule(at: sim.now, label: "spin") { spin() } }
        sim.schedule(at: .zero + .seconds(2), label: "spin") { spin() }
        let error = #expect(throws: SimulationError.self) { try sim.run(until: .zero + .seconds(3)) }
        guard case .stuck(let at, let events, let recent)? = error else { return }
        #expect(at == .zero + .seconds(2))
        #expect(events == 1_000)
        #expect(!recent.isEmpty && recent.allSatisfy { $0 == "spin" })
        #expect(error!.description.contains("stuck at 2.000000000s"))
    }

    @Test func eventsSpreadOverTimeAreNotStuck() throws {
        let sim = Simulation(seed: 1)
        sim.sameInstantLimit = 100
        var n = 0
        // 99 events per instant, 1000 instants: many events in all, never too many at once.
        for t in 0..<1_000 { for _ in 0..<99 { sim.schedule(at: .zero + .microseconds(Int64(t))) { n += 1 } } }
        try sim.run(until: .zero + .seconds(1))
        #expect(n == 99_000)
    }

    @Test func randomStreamsAreStableByName() {
        let a = Simulation(seed: 42), b = Simulation(seed: 42), c = Simulation(seed: 43)
        _ = b.random("something created first")
        var x = a.random("link:wan:a>b"), y = b.random("link:wan:a>b")
        var z = a.random("link:wan:b>a"), w = c.random("link:wan:a>b")
        let xs = (0..<8).map { _ in x.next() }
        #expect(xs == (0..<8).map { _ in y.next() })
        #expect(xs != (0..<8).map { _ in z.next() })
        #expect(xs != (0..<8).map { _ in w.next() })
    }
}

/// A node with a list of deadlines; `poll` consumes those due.
final class ScriptedNode: SimNode {
    var deadlines: [Instant]
    var polls: [Instant] = []
    init(_ deadlines: [Instant]) { self.deadlines = deadlines }
    func nextDeadline() -> Instant? { deadlines.min() }
    func poll(now: Instant) {
        polls.append(now)
        deadlines.removeAll { $0 <= now }
    }
}

@Suite struct SimNodeTests {
    let ms = { (t: Int64) in Instant.zero + .milliseconds(t) }

    @Test func nodeIsPolledAtEachDeadline() throws {
        let sim = Simulation(seed: 1)
        let node = ScriptedNode([ms(10), ms(30), ms(20)])
        sim.add(node, name: "n")
        try sim.run(until: ms(100))
        #expect(node.polls == [ms(10), ms(20), ms(30)])
    }

    @Test func touchingReArmsAndSupersededTimersAreSkipped() throws {
        let sim = Simulation(seed: 1)
        let node = ScriptedNode([ms(50)])
        let id = sim.add(node, name: "n")
        var trace: [String] = []
        sim.eventObserver = { trace.append("\($0.time) \($0.label)") }
        // Something happens to the node at 5 ms that brings its deadline forward to 15 ms, and
        // at 20 ms something moves it out to 60 ms: the 50 ms timer must not fire.
        sim.schedule(at: ms(5), label: "earlier") { node.deadlines = [ms(15), ms(50)]; sim.touch(id) }
        sim.schedule(at: ms(20), label: "later") { node.deadlines = [ms(60)]; sim.touch(id) }
        #expect(sim.armedDeadline(of: id) == nil)  // armed when the run starts
        try sim.run(until: ms(100))
        #expect(node.polls == [ms(15), ms(60)])
        #expect(trace == ["0.005000000s earlier", "0.015000000s timer:n", "0.020000000s later", "0.060000000s timer:n"])
        #expect(sim.armedDeadline(of: id) == nil)
    }

    @Test func anUntouchedNodeKeepsItsTimer() throws {
        let sim = Simulation(seed: 1)
        let node = ScriptedNode([ms(50)])
        sim.add(node, name: "n")
        // Changed without a touch: the simulation cannot know, so the old timer fires and the
        // node, polled at 50 ms, runs its overdue 15 ms work then.
        sim.schedule(at: ms(5)) { node.deadlines = [ms(15), ms(50)] }
        try sim.run(until: ms(100))
        #expect(node.polls == [ms(50)])
    }

    @Test func aNodeThatNeverMovesItsDeadlineIsReportedAsStuck() throws {
        final class Stubborn: SimNode {
            func nextDeadline() -> Instant? { .zero + .seconds(1) }
            func poll(now: Instant) {}
        }
        let sim = Simulation(seed: 1)
        sim.sameInstantLimit = 500
        sim.add(Stubborn(), name: "stubborn")
        let error = #expect(throws: SimulationError.self) { try sim.run(until: .zero + .seconds(5)) }
        guard case .stuck(let at, _, let recent)? = error else { return }
        #expect(at == .zero + .seconds(1))
        #expect(recent.contains("timer:stubborn"))
    }
}
