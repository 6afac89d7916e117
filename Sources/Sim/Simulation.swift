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
    /// What can be on the agenda: plain numbers, so the heap moves entries without reference
    /// counting; what they name lives in the tables below.
    enum Event {
        /// A closure scheduled by a caller: `actions[slot]`.
        case action(slot: Int)
        /// Node `node`'s timer, valid while the node's generation is still `generation`.
        case nodeTimer(node: Int, generation: UInt64)
        /// The frame in `frames[slot]` arriving at the far end of `directions[direction]`.
        case delivery(direction: Int, slot: Int, epoch: UInt64)
    }

    struct ScheduledAction {
        let label: String
        let body: () -> Void
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
    /// The virtual clock. Starts at `.zero`; only moves forward. (Unchecked exclusivity: see
    /// the per-event state below.)
    @exclusivity(unchecked) public private(set) var now: Instant = .zero
    /// Events run so far (superseded node timers and cancelled events are not counted).
    @exclusivity(unchecked) public private(set) var eventCount = 0
    /// Events allowed at one instant before a run is declared stuck.
    @exclusivity(unchecked) public var sameInstantLimit = 1_000_000
    /// Called with each event just before it runs (for traces and determinism checks).
    @exclusivity(unchecked) public var eventObserver: ((SimulationEventRecord) -> Void)?

    // Unchecked exclusivity (on the per-event state, whose dynamic checks cost about a tenth of
    // a TCP run): the simulation runs on one thread, and no access to these properties is held
    // across a call out (a node's poll, an action's body, a receiver): each is read or written
    // and released before the call, so the dynamic check could never fire.
    @exclusivity(unchecked) private var agenda = EventHeap<Event>()
    @exclusivity(unchecked) private var nextSequence: UInt64 = 0
    @exclusivity(unchecked) private var cancelled: Set<UInt64> = []  // looked up, never iterated
    @exclusivity(unchecked) private var nodes: [NodeRecord] = []
    /// Nodes touched since the last re-arm, in touch order.
    @exclusivity(unchecked) private var dirtyNodes: [Int] = []
    /// Nodes the last event touched, in touch order (see `touchedByLastEvent`).
    @exclusivity(unchecked) private var lastTouched: [Int] = []
    /// Scheduled closures by slot (nil: free), and the free slots.
    @exclusivity(unchecked) private var actions: [ScheduledAction?] = []
    @exclusivity(unchecked) private var freeActions: [Int] = []
    /// Frames on the wire by slot: each buffer is reused by later frames once delivered, so in
    /// steady state a hop allocates nothing. `freeFrames`: the slots not in use.
    @exclusivity(unchecked) private var frames: [[UInt8]] = []
    @exclusivity(unchecked) private var freeFrames: [Int] = []
    /// Every link direction, by the index its deliveries carry.
    @exclusivity(unchecked) private var directions: [LinkDirection] = []
    @exclusivity(unchecked) private var eventsAtThisInstant = 0
    @exclusivity(unchecked) private var recentLabels: [String] = []
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
        enqueue(.action(slot: storeAction(label: label, body: body)), at: time)
    }

    /// Runs `body` once `delay` has passed from `now`.
    @discardableResult
    public func schedule(after delay: Duration, label: String = "event", _ body: @escaping () -> Void) -> SimulationEventID {
        enqueue(.action(slot: storeAction(label: label, body: body)), at: now + delay)
    }

    /// Takes a scheduled event off the agenda; it will not run. Cancelling an event that has run
    /// already does nothing.
    public func cancel(_ event: SimulationEventID) {
        guard event.sequence < nextSequence else { return }
        cancelled.insert(event.sequence)
    }

    private func storeAction(label: String, body: @escaping () -> Void) -> Int {
        let action = ScheduledAction(label: label, body: body)
        if let slot = freeActions.popLast() {
            actions[slot] = action
            return slot
        }
        actions.append(action)
        return actions.count - 1
    }

    /// Registers a link direction: its deliveries name it by the index returned.
    func register(_ direction: LinkDirection) -> Int {
        directions.append(direction)
        return directions.count - 1
    }

    /// Copies `frame` into a free frame buffer; returns its slot, for a `.delivery`.
    func storeFrame(_ frame: UnsafeRawBufferPointer) -> Int {
        if let slot = freeFrames.popLast() {
            frames[slot].removeAll(keepingCapacity: true)
            frames[slot].append(contentsOf: frame)
            return slot
        }
        frames.append(Array(frame))
        return frames.count - 1
    }

    /// A second slot holding the frame in `slot` (a duplicate).
    func copyFrame(_ slot: Int) -> Int {
        let bytes = frames[slot]
        return bytes.withUnsafeBytes { storeFrame($0) }
    }

    /// Flips bit `bit` of byte `byte` of the frame in `slot` (corruption on the wire).
    func flipBit(_ bit: Int, ofByte byte: Int, inFrame slot: Int) {
        frames[slot][byte] ^= UInt8(1) << (bit & 7)
    }

    /// Frees what an event that will not run holds.
    private func discard(_ event: Event) {
        switch event {
        case .action(let slot): actions[slot] = nil; freeActions.append(slot)
        case .nodeTimer: break
        case .delivery(_, let slot, _): freeFrames.append(slot)
        }
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
            if !cancelled.isEmpty, cancelled.remove(entry.sequence) != nil { discard(entry.payload); continue }
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
            case .action(let slot):
                let body = actions[slot]!.body
                actions[slot] = nil
                freeActions.append(slot)
                body()
            case .nodeTimer(let i, _):
                nodes[i].armed = nil
                let node = nodes[i].node
                node.poll(now: now)
                touch(SimNodeID(rawValue: i))
            case .delivery(let d, let slot, let epoch):
                // The buffer is moved out of the table while the receiver runs (which may store
                // frames of its own, growing the table), then put back and its slot freed.
                var frame: [UInt8] = []
                swap(&frame, &frames[slot])
                let direction = directions[d]
                direction.deliver(frame, epoch: epoch, now: now)
                swap(&frame, &frames[slot])
                freeFrames.append(slot)
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
        case .action(let slot): actions[slot]?.label ?? "event"
        case .nodeTimer(let i, _): nodes[i].timerLabel
        case .delivery(let d, _, _): directions[d].label
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
