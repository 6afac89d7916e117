// The discrete-event kernel (docs/architecture.md, Determinism): a virtual clock, an agenda ordered by (deadline,
// sequence), per-node timers, and seeded randomness split per component by a stable name.
//
//     let sim = Simulation(seed: 7)
//     let a = try SimulatedGuest(sim, name: "vm1", mac: MACAddress(0x52, 0x54, 0, 0, 0, 1))
//     let b = try SimulatedGuest(sim, name: "vm2", mac: MACAddress(0x52, 0x54, 0, 0, 0, 2))
//     // … attach a.makeDevice() and b.makeDevice() to a bridge (the Lab does this), set their kicks …
//     a.cable.aToB.impairments.delay = .milliseconds(5)             // guest → NIC, one way
//     a.cable.bToA.impairments.loss = .random(0.02)                  // NIC → guest
//     sim.schedule(at: Instant.zero + .seconds(20), label: "cable down") { a.cable.isUp = false }
//     a.withHost { host, now in host.configureStatic(address: IPv4Network("10.0.0.1/24")!, now: now) }
//     a.withHost { host, now in host.ping(IPv4Address(10, 0, 0, 2), count: 30, now: now) }
//     try sim.run(until: Instant.zero + .seconds(60))
//
// Rules the kernel keeps:
// - `now` only moves forward, jumping to each event's deadline; nothing reads a wall clock.
// - Events due at the same instant run in the order they were scheduled (the sequence number).
// - A node (anything with timers: a host, a bridge adapter) has at most one live timer. After
//   every event, each node the event touched (`touch`) is asked for its `nextDeadline()` and its
//   timer re-armed; a superseded timer is recognised by its generation number and skipped.
// - Randomness comes only from `random(_:)`: the run's seed mixed with a stable component name.
//   Nothing iterates a Set or Dictionary to decide anything.
// - A run that keeps scheduling work at one instant without the clock moving is stopped with
//   `SimulationError.stuck`, naming the events that were spinning.

import Basics

/// Names a node registered with `Simulation.add(_:name:)`.
public struct SimNodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    @inlinable public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: SimNodeID, b: SimNodeID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "node#\(rawValue)" }
}

/// Names a scheduled event, for `Simulation.cancel(_:)`.
public struct SimulationEventID: Hashable, Sendable {
    /// The event's sequence number: its rank among events due at the same instant.
    public let sequence: UInt64
}

/// One event as it ran: what `Simulation.eventObserver` sees. Two runs with the same seed and
/// set-up produce equal lists of these.
public struct SimulationEventRecord: Equatable, Sendable, CustomStringConvertible {
    /// When it ran.
    public var time: Instant
    /// Its sequence number.
    public var sequence: UInt64
    /// What it was: the label given to `schedule`, `timer:<node>`, or `link:<name>:<direction>`.
    public var label: String

    public var description: String { "\(time) #\(sequence) \(label)" }
}

/// Why a run stopped early.
public enum SimulationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// More than `Simulation.sameInstantLimit` events ran at `at` without the clock moving:
    /// something keeps rescheduling itself at `now` (an event re-scheduling itself with no delay,
    /// or a node whose `nextDeadline()` is still `now` after `poll(now:)`). `recent` holds the
    /// labels of the last events that ran.
    case stuck(at: Instant, events: Int, recent: [String])

    public var description: String {
        switch self {
        case .stuck(let at, let events, let recent):
            "simulation stuck at \(at): \(events) events ran without the clock advancing; last events: "
                + recent.joined(separator: ", ")
        }
    }
}

/// A deterministic discrete-event simulation: a virtual clock and an agenda of events.
public final class Simulation {
    /// What can be on the agenda.
    enum Event {
        /// A closure scheduled by a caller.
        case action(label: String, body: () -> Void)
        /// Node `node`'s timer, valid while the node's generation is still `generation`.
        case nodeTimer(node: Int, generation: UInt64)
        /// A frame arriving at the far end of a link direction (no closure to allocate).
        case delivery(LinkDirection, frame: [UInt8], epoch: UInt64)
    }

    struct NodeRecord {
        let node: any SimNode
        let name: String
        let timerLabel: String
        /// The deadline of the live timer, if one is on the agenda.
        var armed: Instant?
        var generation: UInt64 = 0
        var dirty = false
    }

    /// The run's seed; every component's generator derives from it.
    public let seed: UInt64
    /// The virtual clock. Starts at `.zero`; only moves forward.
    public private(set) var now: Instant = .zero
    /// Events run so far (superseded node timers and cancelled events are not counted).
    public private(set) var eventCount = 0
    /// Events allowed at one instant before a run is declared stuck.
    public var sameInstantLimit = 1_000_000
    /// Called with each event just before it runs (for traces and determinism checks).
    public var eventObserver: ((SimulationEventRecord) -> Void)?

    private var agenda = EventHeap<Event>()
    private var nextSequence: UInt64 = 0
    private var cancelled: Set<UInt64> = []  // looked up, never iterated
    private var nodes: [NodeRecord] = []
    /// Nodes touched since the last re-arm, in touch order.
    private var dirtyNodes: [Int] = []
    /// Nodes the last event touched, in touch order (see `touchedByLastEvent`).
    private var lastTouched: [Int] = []
    private var eventsAtThisInstant = 0
    private var recentLabels: [String] = []
    private static let recentLabelCount = 8

    /// A simulation at time zero whose randomness derives from `seed`.
    public init(seed: UInt64) {
        self.seed = seed
    }

    // MARK: Randomness

    /// The generator of component `component` (for example `"link:wan:a>b"` or `"host:vm1"`):
    /// the run's seed mixed with the name, so it does not depend on creation order. Use each name
    /// once — the same name gives the same sequence.
    public func random(_ component: String) -> SeededRandom {
        SeededRandom(seed: seed, component: component)
    }

    // MARK: Scheduling

    /// Events on the agenda (including superseded node timers not yet reached).
    public var pendingEventCount: Int { agenda.count }

    /// When the earliest event on the agenda is due (a superseded or cancelled one included), or
    /// nil when the agenda is empty: for a driver that runs the simulation against a real clock.
    public var nextEventTime: Instant? { agenda.first?.deadline }

    /// Runs `body` at `time` (or at `now`, if `time` has passed). Events at the same instant run
    /// in the order they were scheduled. `label` names the event in traces and errors.
    @discardableResult
    public func schedule(at time: Instant, label: String = "event", _ body: @escaping () -> Void) -> SimulationEventID {
        enqueue(.action(label: label, body: body), at: time)
    }

    /// Runs `body` once `delay` has passed from `now`.
    @discardableResult
    public func schedule(after delay: Duration, label: String = "event", _ body: @escaping () -> Void) -> SimulationEventID {
        enqueue(.action(label: label, body: body), at: now + delay)
    }

    /// Takes a scheduled event off the agenda; it will not run. Cancelling an event that has run
    /// already does nothing.
    public func cancel(_ event: SimulationEventID) {
        guard event.sequence < nextSequence else { return }
        cancelled.insert(event.sequence)
    }

    @discardableResult
    func enqueue(_ event: Event, at time: Instant) -> SimulationEventID {
        let sequence = nextSequence
        nextSequence += 1
        agenda.insert(deadline: max(time, now), sequence: sequence, payload: event)
        return SimulationEventID(sequence: sequence)
    }

    // MARK: Nodes

    /// Registers `node`: its timer is armed now from `nextDeadline()` and re-armed after every
    /// event that touches it. The simulation keeps the node alive.
    @discardableResult
    public func add(_ node: any SimNode, name: String) -> SimNodeID {
        nodes.append(NodeRecord(node: node, name: name, timerLabel: "timer:\(name)"))
        let id = SimNodeID(rawValue: nodes.count - 1)
        touch(id)
        return id
    }

    /// Says that something happened to `node` (a frame arrived, an action was performed): after
    /// the current event its `nextDeadline()` is read again and its timer re-armed. Outside an
    /// event, that happens before the next event runs.
    public func touch(_ node: SimNodeID) {
        let i = node.rawValue
        guard !nodes[i].dirty else { return }
        nodes[i].dirty = true
        dirtyNodes.append(i)
    }

    /// The id the next `add(_:name:)` returns.
    var nextNodeID: SimNodeID { SimNodeID(rawValue: nodes.count) }

    /// The name `node` was registered under.
    public func name(of node: SimNodeID) -> String { nodes[node.rawValue].name }

    /// The deadline of `node`'s live timer, if any.
    public func armedDeadline(of node: SimNodeID) -> Instant? { nodes[node.rawValue].armed }

    /// The nodes the last event run by `step()`/`run` touched, in touch order: a driver that
    /// watches some nodes' state checks only these after each event, so its cost per event does
    /// not grow with the number of nodes.
    public var touchedByLastEvent: some Collection<SimNodeID> { lastTouched.lazy.map { SimNodeID(rawValue: $0) } }

    private func rearmTouchedNodes() {
        guard !dirtyNodes.isEmpty else { return }
        for i in dirtyNodes {
            nodes[i].dirty = false
            var deadline = nodes[i].node.nextDeadline()
            if deadline == .distantFuture { deadline = nil }
            guard deadline != nodes[i].armed else { continue }
            nodes[i].generation &+= 1
            nodes[i].armed = deadline
            if let deadline { enqueue(.nodeTimer(node: i, generation: nodes[i].generation), at: deadline) }
        }
        dirtyNodes.removeAll(keepingCapacity: true)
    }

    // MARK: Running

    /// Runs the next event if it is due by `end`. Returns false when there is none.
    private func runNext(until end: Instant) throws(SimulationError) -> Bool {
        rearmTouchedNodes()
        while let first = agenda.first, first.deadline <= end {
            let entry = agenda.popFirst()!
            if !cancelled.isEmpty, cancelled.remove(entry.sequence) != nil { continue }
            if case .nodeTimer(let i, let generation) = entry.payload, nodes[i].generation != generation { continue }

            if entry.deadline > now { advanceClock(to: entry.deadline) }
            eventsAtThisInstant += 1
            if eventsAtThisInstant > sameInstantLimit - Self.recentLabelCount {
                if eventsAtThisInstant > sameInstantLimit {
                    throw .stuck(at: now, events: sameInstantLimit, recent: recentLabels)
                }
                recentLabels.append(label(of: entry.payload))
            }
            eventCount += 1
            eventObserver?(SimulationEventRecord(time: now, sequence: entry.sequence, label: label(of: entry.payload)))

            switch entry.payload {
            case .action(_, let body):
                body()
            case .nodeTimer(let i, _):
                nodes[i].armed = nil
                nodes[i].node.poll(now: now)
                touch(SimNodeID(rawValue: i))
            case .delivery(let direction, let frame, let epoch):
                direction.deliver(frame, epoch: epoch, now: now)
            }
            lastTouched.removeAll(keepingCapacity: true)
            lastTouched.append(contentsOf: dirtyNodes)
            rearmTouchedNodes()
            return true
        }
        return false
    }

    private func advanceClock(to time: Instant) {
        now = time
        eventsAtThisInstant = 0
        recentLabels.removeAll(keepingCapacity: true)
    }

    private func label(of event: Event) -> String {
        switch event {
        case .action(let label, _): label
        case .nodeTimer(let i, _): nodes[i].timerLabel
        case .delivery(let direction, _, _): direction.label
        }
    }

    /// Runs the earliest event. Returns false when the agenda is empty.
    @discardableResult
    public func step() throws(SimulationError) -> Bool {
        try runNext(until: .distantFuture)
    }

    /// Runs every event due up to and including `end`, then sets the clock to `end`.
    public func run(until end: Instant) throws(SimulationError) {
        while try runNext(until: end) {}
        if end > now, end != .distantFuture { advanceClock(to: end) }
    }

    /// Runs for `duration` of virtual time from `now`.
    public func run(for duration: Duration) throws(SimulationError) {
        try run(until: now + duration)
    }

    /// Runs events until none is left or the next is after `limit`. Returns true if the agenda
    /// emptied (the clock then stays at the last event), false if `limit` was reached (the clock is
    /// then at `limit`). Nodes with periodic timers never go quiet: give a limit.
    @discardableResult
    public func runUntilQuiet(limit: Instant) throws(SimulationError) -> Bool {
        while try runNext(until: limit) {}
        if agenda.isEmpty { return true }
        if limit > now, limit != .distantFuture { advanceClock(to: limit) }
        return false
    }
}
