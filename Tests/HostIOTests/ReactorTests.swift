import Basics
import Glibc
import Testing
@testable import HostIO

@Suite struct ReactorTests {
    @Test func dispatchesAReadableEventFD() throws {
        let reactor = try Reactor()
        let event = try EventFD()
        var seen: [(Reactor.Events, UInt64)] = []
        let registration = try reactor.register(event.descriptor, interest: .read) { events in
            seen.append((events, (try? event.drain()) ?? 0))
        }
        // Nothing ready: a zero timeout returns without calling the handler.
        #expect(try reactor.runOnce(timeout: .zero) == 0)
        try event.signal(7)
        #expect(try reactor.runOnce(timeout: .seconds(1)) == 1)
        #expect(seen.count == 1)
        #expect(seen.first?.0.contains(.readable) == true)
        #expect(seen.first?.1 == 7)
        // Deregistered: a signal no longer reaches the handler.
        reactor.deregister(registration)
        try event.signal(1)
        #expect(try reactor.runOnce(timeout: .milliseconds(10)) == 0)
        #expect(seen.count == 1)
        #expect(reactor.registrationCount == 0)
    }

    @Test func endOfRoundHandlersRunAfterEveryRoundUntilRemoved() throws {
        let reactor = try Reactor()
        let event = try EventFD()
        var order: [String] = []
        _ = try reactor.register(event.descriptor, interest: .read) { _ in
            _ = try? event.drain()
            order.append("event")
        }
        let handler = reactor.atEndOfEveryRound { order.append("end") }
        try event.signal(1)
        try reactor.runOnce(timeout: .seconds(1))
        #expect(order == ["event", "end"])
        try reactor.runOnce(timeout: .zero)   // a round with nothing ready still ends
        #expect(order == ["event", "end", "end"])
        reactor.remove(handler)
        try reactor.runOnce(timeout: .zero)
        #expect(order == ["event", "end", "end"])
    }

    @Test func writeInterestAndModify() throws {
        let reactor = try Reactor()
        let (a, b) = try UnixStream.pair()
        defer { withExtendedLifetime(b) {} }
        var writable = 0
        let registration = try reactor.register(a.descriptor, interest: .read) { events in
            if events.contains(.writable) { writable += 1 }
        }
        #expect(try reactor.runOnce(timeout: .milliseconds(5)) == 0)
        try reactor.modify(registration, interest: [.read, .write])
        #expect(try reactor.runOnce(timeout: .seconds(1)) == 1)
        #expect(writable == 1)
    }

    @Test func hangupIsReported() throws {
        let reactor = try Reactor()
        let (a, b) = try UnixStream.pair()
        var events: Reactor.Events = []
        _ = try reactor.register(a.descriptor, interest: .read) { events.formUnion($0) }
        try b.descriptor.close()
        try reactor.runOnce(timeout: .seconds(1))
        #expect(events.contains(.hangup))
    }

    @Test func timersFireInDeadlineOrderAndNotEarly() throws {
        let reactor = try Reactor()
        let start = reactor.clock.now()
        var fired: [(String, Instant)] = []
        reactor.schedule(at: start + .milliseconds(30)) { fired.append(("c", reactor.clock.now())) }
        reactor.schedule(at: start + .milliseconds(10)) { fired.append(("a", reactor.clock.now())) }
        // Same deadline as "a": runs after it, in the order scheduled.
        reactor.schedule(at: start + .milliseconds(10)) { fired.append(("b", reactor.clock.now())) }
        let cancelled = reactor.schedule(at: start + .milliseconds(20)) { fired.append(("x", reactor.clock.now())) }
        reactor.cancel(cancelled)
        #expect(reactor.nextDeadline == start + .milliseconds(10))
        while fired.count < 3 && reactor.clock.now() - start < .seconds(5) {
            try reactor.runOnce()
        }
        #expect(fired.map(\.0) == ["a", "b", "c"])
        #expect(fired[0].1 - start >= .milliseconds(10))
        #expect(fired[2].1 - start >= .milliseconds(30))
        #expect(reactor.nextDeadline == nil)
    }

    @Test func eventsAndTimersTogether() throws {
        let reactor = try Reactor()
        let event = try EventFD()
        var log: [String] = []
        // Each step is caused by the one before (no race between two wall-clock timers when the
        // machine is busy): the timer signals the event, the event's handler schedules the stop.
        _ = try reactor.register(event.descriptor, interest: .read) { _ in
            _ = try? event.drain()
            log.append("event")
            reactor.schedule(after: .milliseconds(1)) {
                log.append("stop")
                reactor.stop()
            }
        }
        reactor.schedule(after: .milliseconds(15)) {
            log.append("timer")
            _ = try? event.signal()
        }
        reactor.schedule(after: .seconds(10)) {   // a safety net: the test fails instead of hanging
            log.append("timed out")
            reactor.stop()
        }
        try reactor.run()
        #expect(log == ["timer", "event", "stop"])
    }

    @Test func stopFromAnotherThread() throws {
        let reactor = try Reactor()
        let box = Unmanaged.passRetained(StopBox(reactor.stopHandle))
        var thread = pthread_t()
        pthread_create(&thread, nil, { arg in
            let box = Unmanaged<StopBox>.fromOpaque(arg!).takeRetainedValue()
            usleep(20_000)
            box.handle.stop()
            return nil
        }, box.toOpaque())
        let start = reactor.clock.now()
        try reactor.run()
        pthread_join(thread, nil)
        #expect(reactor.clock.now() - start >= .milliseconds(20))
        // run() can be entered again after a stop.
        reactor.schedule(after: .milliseconds(1)) { reactor.stop() }
        try reactor.run()
    }
}

final class StopBox: Sendable {
    let handle: ReactorStopHandle
    init(_ handle: ReactorStopHandle) { self.handle = handle }
}
