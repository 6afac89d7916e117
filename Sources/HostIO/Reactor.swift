// An epoll reactor: the real driver's single event loop (docs/performance.md: one reactor thread, like
// passt). File descriptors are registered with a read/write interest and a handler; timers are
// deadlines on the monotonic clock, honoured through epoll_wait's timeout. It runs on the calling
// thread and dispatches in a fixed order: ready descriptors as the kernel reports them, then the
// due timers by (deadline, order of scheduling), then the end-of-round handlers (where batched
// output — a DatagramBatch of UDP datagrams — is flushed before the reactor sleeps again).
// epoll is reached through CShims (Swift's Glibc module does not import sys/epoll.h).
//
// Level-triggered: a handler that leaves data unread is called again on the next round.

import Basics
import CShims
import Glibc
import Synchronization

/// A single-threaded epoll event loop with timers.
public final class Reactor {
    /// What a registration waits for.
    public struct Interest: OptionSet, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Readable (or the peer hung up).
        public static let read = Interest(rawValue: 1)
        /// Writable.
        public static let write = Interest(rawValue: 2)
    }

    /// What happened to a registered descriptor.
    public struct Events: OptionSet, Sendable, CustomStringConvertible {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Data (or end of stream) to read.
        public static let readable = Events(rawValue: 1)
        /// Room to write.
        public static let writable = Events(rawValue: 2)
        /// The peer closed its end (EPOLLHUP / EPOLLRDHUP).
        public static let hangup = Events(rawValue: 4)
        /// An error is pending on the descriptor (EPOLLERR).
        public static let error = Events(rawValue: 8)

        public var description: String {
            var parts: [String] = []
            if contains(.readable) { parts.append("readable") }
            if contains(.writable) { parts.append("writable") }
            if contains(.hangup) { parts.append("hangup") }
            if contains(.error) { parts.append("error") }
            return "[\(parts.joined(separator: ","))]"
        }
    }

    /// A registered descriptor (never reused, so a stale handle is harmless).
    public struct Registration: Hashable, Sendable {
        public let id: UInt64
    }

    /// A scheduled timer.
    public struct Timer: Hashable, Sendable {
        public let id: UInt64
    }

    private final class Entry {
        let descriptor: FileDescriptor
        var interest: Interest
        let handler: (Events) -> Void
        init(descriptor: FileDescriptor, interest: Interest, handler: @escaping (Events) -> Void) {
            self.descriptor = descriptor
            self.interest = interest
            self.handler = handler
        }
    }

    /// An end-of-round handler.
    public struct RoundHandler: Hashable, Sendable {
        public let id: UInt64
    }

    private struct PendingTimer {
        var deadline: Instant
        var id: UInt64
        var handler: () -> Void
    }

    /// The clock timers are measured against.
    public let clock: MonotonicClock
    private let epoll: FileDescriptor
    private var entries: [UInt64: Entry] = [:]
    /// Sorted by (deadline, id): the id grows with each scheduling, so ties keep their order.
    private var timers: [PendingTimer] = []
    private var nextID: UInt64 = 1
    private let eventBuffer: UnsafeMutablePointer<sluice_epoll_ready>
    private var roundHandlers: [(id: UInt64, handler: () -> Void)] = []
    private let eventCapacity = 64
    /// Stops `run()`; usable from any thread.
    public let stopHandle: ReactorStopHandle
    private static let wakeID: UInt64 = 0

    /// A reactor with its own epoll instance.
    public init(clock: MonotonicClock = MonotonicClock()) throws(Errno) {
        self.clock = clock
        let fd = try SystemCall.run { sluice_epoll_create() }
        epoll = FileDescriptor(adopting: fd)
        stopHandle = try ReactorStopHandle()
        eventBuffer = .allocate(capacity: eventCapacity)
        eventBuffer.initialize(repeating: sluice_epoll_ready(), count: eventCapacity)
        try control(SLUICE_EPOLL_CTL_ADD, stopHandle.wake.descriptor, interest: .read, id: Self.wakeID)
    }

    deinit { eventBuffer.deallocate() }

    // MARK: Descriptors

    /// Calls `handler` whenever `descriptor` is ready for `interest`. The reactor keeps the
    /// descriptor alive until `deregister`: deregister before closing it.
    public func register(_ descriptor: FileDescriptor, interest: Interest,
                         handler: @escaping (Events) -> Void) throws(Errno) -> Registration {
        let id = nextID
        nextID += 1
        try control(SLUICE_EPOLL_CTL_ADD, descriptor, interest: interest, id: id)
        entries[id] = Entry(descriptor: descriptor, interest: interest, handler: handler)
        return Registration(id: id)
    }

    /// Changes what a registration waits for.
    public func modify(_ registration: Registration, interest: Interest) throws(Errno) {
        guard let entry = entries[registration.id] else { return }
        guard entry.interest != interest else { return }
        try control(SLUICE_EPOLL_CTL_MOD, entry.descriptor, interest: interest, id: registration.id)
        entry.interest = interest
    }

    /// Stops watching; the handler is not called again, even for events already collected.
    public func deregister(_ registration: Registration) {
        guard let entry = entries.removeValue(forKey: registration.id) else { return }
        if entry.descriptor.isOpen {
            let fd = entry.descriptor.rawValue
            _ = try? SystemCall.run { sluice_epoll_ctl(epoll.rawValue, SLUICE_EPOLL_CTL_DEL, fd, 0, 0) }
        }
    }

    /// Descriptors currently registered (the internal wake-up excluded).
    public var registrationCount: Int { entries.count }

    private func control(_ op: CInt, _ descriptor: FileDescriptor, interest: Interest, id: UInt64) throws(Errno) {
        var flags: UInt32 = 0
        if interest.contains(.read) { flags |= SLUICE_EPOLLIN | SLUICE_EPOLLRDHUP }
        if interest.contains(.write) { flags |= SLUICE_EPOLLOUT }
        let fd = descriptor.rawValue
        _ = try SystemCall.run { sluice_epoll_ctl(epoll.rawValue, op, fd, flags, id) }
    }

    // MARK: End of round

    /// Calls `handler` at the end of every round (after the ready descriptors and the due timers),
    /// until `remove`: the place to flush output batched during the round.
    public func atEndOfEveryRound(_ handler: @escaping () -> Void) -> RoundHandler {
        let id = nextID
        nextID += 1
        roundHandlers.append((id, handler))
        return RoundHandler(id: id)
    }

    /// Stops calling an end-of-round handler.
    public func remove(_ handler: RoundHandler) {
        roundHandlers.removeAll { $0.id == handler.id }
    }

    // MARK: Timers

    /// Calls `handler` once, on the first round at or after `deadline`.
    @discardableResult
    public func schedule(at deadline: Instant, _ handler: @escaping () -> Void) -> Timer {
        let id = nextID
        nextID += 1
        let timer = PendingTimer(deadline: deadline, id: id, handler: handler)
        let index = timers.firstIndex { ($0.deadline, $0.id) > (deadline, id) } ?? timers.endIndex
        timers.insert(timer, at: index)
        return Timer(id: id)
    }

    /// Calls `handler` once, `delay` from now.
    @discardableResult
    public func schedule(after delay: Duration, _ handler: @escaping () -> Void) -> Timer {
        schedule(at: clock.now() + delay, handler)
    }

    /// Cancels a timer that has not fired (no effect otherwise).
    public func cancel(_ timer: Timer) {
        timers.removeAll { $0.id == timer.id }
    }

    /// The earliest pending timer's deadline.
    public var nextDeadline: Instant? { timers.first?.deadline }

    // MARK: Running

    /// Waits up to `timeout` (nil: until something happens) — less if a timer is due sooner —
    /// then dispatches what is ready and the timers that are due. Returns how many handlers ran.
    @discardableResult
    public func runOnce(timeout: Duration? = nil) throws(Errno) -> Int {
        var waitNanoseconds: Int64 = timeout.map { max(0, $0.nanosecondsClamped) } ?? -1
        if let deadline = timers.first?.deadline {
            let untilTimer = max(0, (deadline - clock.now()).nanosecondsClamped)
            waitNanoseconds = waitNanoseconds < 0 ? untilTimer : min(waitNanoseconds, untilTimer)
        }
        // epoll_wait counts milliseconds; round up so a timer is never woken for early.
        let milliseconds: CInt = waitNanoseconds < 0 ? -1
            : CInt(clamping: (waitNanoseconds + 999_999) / 1_000_000)
        let ready = try SystemCall.run {
            sluice_epoll_wait(epoll.rawValue, eventBuffer, CInt(eventCapacity), milliseconds)
        }
        var dispatched = 0
        for i in 0..<Int(ready) {
            let flags = eventBuffer[i].events, id = eventBuffer[i].data
            if id == Self.wakeID {
                _ = try? stopHandle.wake.drain()
                continue
            }
            // Looked up per event: an earlier handler may have deregistered this one.
            guard let entry = entries[id] else { continue }
            var events: Events = []
            if flags & SLUICE_EPOLLIN != 0 { events.insert(.readable) }
            if flags & SLUICE_EPOLLOUT != 0 { events.insert(.writable) }
            if flags & (SLUICE_EPOLLHUP | SLUICE_EPOLLRDHUP) != 0 { events.insert(.hangup) }
            if flags & SLUICE_EPOLLERR != 0 { events.insert(.error) }
            entry.handler(events)
            dispatched += 1
        }
        dispatched += fireDueTimers()
        for (_, handler) in roundHandlers { handler() }
        return dispatched
    }

    /// Fires the timers due now, in order; timers they schedule for now run next round.
    private func fireDueTimers() -> Int {
        guard let first = timers.first else { return 0 }
        let now = clock.now()
        guard first.deadline <= now else { return 0 }
        let count = timers.firstIndex { $0.deadline > now } ?? timers.endIndex
        let due = timers[0..<count]
        timers.removeFirst(count)
        for timer in due { timer.handler() }
        return due.count
    }

    /// Runs until `stop()` (from a handler) or `stopHandle.stop()` (from any thread).
    public func run() throws(Errno) {
        defer { stopHandle.reset() }
        while !stopHandle.isStopRequested {
            try runOnce()
        }
    }

    /// Makes `run()` return after the current round.
    public func stop() { stopHandle.stop() }
}

/// Stops a reactor's `run()` from any thread.
public final class ReactorStopHandle: Sendable {
    private let requested = Atomic<Bool>(false)
    // EventFD is a final class with only `let` storage and thread-safe calls.
    nonisolated(unsafe) let wake: EventFD

    init() throws(Errno) { wake = try EventFD() }

    /// Asks the reactor to return from `run()`, waking it if it is waiting.
    public func stop() {
        requested.store(true, ordering: .releasing)
        _ = try? wake.signal()
    }

    var isStopRequested: Bool { requested.load(ordering: .acquiring) }

    func reset() { requested.store(false, ordering: .releasing) }
}
