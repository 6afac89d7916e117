// A simulated cable: two endpoints A and B, and one independent direction each way with its own
// impairments, counters, up/down state and random streams.
//
// Per frame, a direction decides everything at send time, in this order: down? → MTU → rate
// limiter (departure time, or tail drop) → loss → corruption → duplication → reordering → delay and
// jitter. Each decision draws from its own generator, split from `link:<name>:<direction>`, so
// turning one impairment on or off does not shift the others' random choices.
//
// Cost: each hop copies the frame into one of the simulation's frame buffers (`storeFrame`), held
// until delivery and then reused: in steady state a hop allocates nothing.

import Basics

/// A link between endpoints A and B. Wire each end with `attachA` / `attachB` (what arrives
/// there), and send with `aToB.send(_:)` / `bToA.send(_:)`.
public final class Link {
    /// For reports and random streams.
    public let name: String
    /// Frames from A to B.
    public let aToB: LinkDirection
    /// Frames from B to A.
    public let bToA: LinkDirection

    /// A link with `impairments` from A to B and `reverse` (default: the same) from B to A.
    /// Each direction draws from `simulation.random("link:<name>:a>b")` / `"…:b>a"`.
    public init(_ simulation: Simulation, name: String, impairments: LinkImpairments = LinkImpairments(),
                reverse: LinkImpairments? = nil) {
        self.name = name
        aToB = LinkDirection(simulation, label: "link:\(name):a>b", impairments: impairments)
        bToA = LinkDirection(simulation, label: "link:\(name):b>a", impairments: reverse ?? impairments)
    }

    /// Whether both directions are up. Setting it sets both ("cable plugged in").
    public var isUp: Bool {
        get { aToB.isUp && bToA.isUp }
        set { aToB.isUp = newValue; bToA.isUp = newValue }
    }

    /// Sets the same impairments on both directions.
    public func setImpairments(_ impairments: LinkImpairments) {
        aToB.impairments = impairments
        bToA.impairments = impairments
    }

    /// What endpoint A does with frames arriving from B; `node` (if any) is touched after each,
    /// so its timer is re-armed.
    public func attachA(touching node: SimNodeID? = nil, _ receive: @escaping (UnsafeRawBufferPointer, Instant) -> Void) {
        bToA.receiver = receive
        bToA.receiverNode = node
    }

    /// What endpoint B does with frames arriving from A; `node` (if any) is touched after each.
    public func attachB(touching node: SimNodeID? = nil, _ receive: @escaping (UnsafeRawBufferPointer, Instant) -> Void) {
        aToB.receiver = receive
        aToB.receiverNode = node
    }
}

/// One direction of a link: impairments, counters, state, and the far end's receiver.
public final class LinkDirection {
    /// `link:<name>:a>b` or `…:b>a` — its trace label and random stream name.
    public let label: String
    /// What the direction does to frames; change it at any time (for example from an event on the
    /// timeline). Frames already on the wire keep the fate they were given.
    @exclusivity(unchecked) public var impairments: LinkImpairments
    /// What happened so far. (Unchecked exclusivity, like the per-frame state below: one thread,
    /// and no access is held across the call to `receiver`.)
    @exclusivity(unchecked) public private(set) var counters = LinkCounters()
    /// Called with each frame arriving at the far end, at its delivery time.
    @exclusivity(unchecked) public var receiver: ((UnsafeRawBufferPointer, Instant) -> Void)?
    /// Touched after each delivery, so the receiving node's timer is re-armed.
    @exclusivity(unchecked) public var receiverNode: SimNodeID?

    /// Whether the direction carries frames. Taking it down drops every frame queued or on the
    /// wire (counted in `downDrops` when each would have arrived) and every frame sent while down;
    /// bringing it up again carries new frames only.
    @exclusivity(unchecked) public var isUp = true {
        didSet {
            guard oldValue, !isUp else { return }
            epoch &+= 1
            let now = simulation.now
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
            waitingBytes = 0
            lastDeparture = now
            creditAt = now
            credit = .max
            lastArrival = now
        }
    }

    unowned let simulation: Simulation
    /// This direction's index in the simulation (what its deliveries carry).
    @exclusivity(unchecked) private var index = 0
    /// Bumped when the direction goes down; frames carry the epoch they were sent in.
    @exclusivity(unchecked) var epoch: UInt64 = 0

    // Random streams, one per decision.
    @exclusivity(unchecked) var lossRandom: SeededRandom
    @exclusivity(unchecked) var corruptRandom: SeededRandom
    @exclusivity(unchecked) var duplicateRandom: SeededRandom
    @exclusivity(unchecked) var reorderRandom: SeededRandom
    @exclusivity(unchecked) var jitterRandom: SeededRandom
    /// Gilbert–Elliott channel state.
    @exclusivity(unchecked) var channelIsBad = false

    /// Arrival time of the last in-order frame (the FIFO clamp).
    @exclusivity(unchecked) var lastArrival: Instant = .zero

    // Token bucket. Credit is in nanobits (10⁻⁹ bit): a rate of R bit/s adds R per nanosecond.
    @exclusivity(unchecked) var credit: UInt64 = .max
    @exclusivity(unchecked) var creditAt: Instant = .zero
    @exclusivity(unchecked) var lastDeparture: Instant = .zero
    /// Departure times and sizes of frames waiting in the rate limiter's queue, oldest first
    /// (entries before `waitingHead` have left).
    @exclusivity(unchecked) var waiting: [(departure: Instant, bytes: Int)] = []
    @exclusivity(unchecked) var waitingHead = 0
    @exclusivity(unchecked) var waitingBytes = 0

    init(_ simulation: Simulation, label: String, impairments: LinkImpairments) {
        self.simulation = simulation
        self.label = label
        self.impairments = impairments
        var base = simulation.random(label)
        lossRandom = base.split("loss")
        corruptRandom = base.split("corrupt")
        duplicateRandom = base.split("duplicate")
        reorderRandom = base.split("reorder")
        jitterRandom = base.split("jitter")
        index = simulation.register(self)
    }

    /// Frames waiting in the rate limiter's queue at `now`.
    public var queuedFrames: Int {
        waiting[waitingHead...].count { $0.departure > simulation.now }
    }

    // MARK: Sending

    /// Offers a frame (an Ethernet frame without FCS) to the direction at the simulation's `now`.
    public func send(_ frame: UnsafeRawBufferPointer) {
        let now = simulation.now
        counters.sent += 1
        counters.sentBytes += frame.count
        guard isUp else { counters.downDrops += 1; return }
        let i = impairments
        if let mtu = i.mtu, frame.count > mtu + LinkImpairments.ethernetHeaderLength {
            counters.mtuDrops += 1
            return
        }
        var departure = now
        if let rate = i.rate {
            guard let d = admit(frame.count, rate: rate, now: now) else { counters.queueDrops += 1; return }
            departure = d
        }
        if isLost(i.loss) { counters.lost += 1; return }

        let slot = simulation.storeFrame(frame)
        if i.corrupt > 0, corruptRandom.nextUnit() < i.corrupt, !frame.isEmpty {
            let spare = i.corruptionSparesEthernetHeader && frame.count > LinkImpairments.ethernetHeaderLength
                ? LinkImpairments.ethernetHeaderLength : 0
            let byte = spare + Int(corruptRandom.next() % UInt64(frame.count - spare))
            simulation.flipBit(Int(corruptRandom.next() % 8), ofByte: byte, inFrame: slot)
            counters.corrupted += 1
        }
        let copies = i.duplicate > 0 && duplicateRandom.nextUnit() < i.duplicate ? 2 : 1
        counters.duplicated += copies - 1

        var arrival = departure + .nanoseconds(max(0, i.delay.nanosecondsClamped &+ jitterOffset(i.jitter)))
        if i.reorder > 0, reorderRandom.nextUnit() < i.reorder {
            // Sent out of turn: exempt from the FIFO clamp, and held back (later frames pass it)
            // or, with a negative reorderDelay, sped up (it passes earlier ones) — never before
            // it left.
            arrival = max(departure, arrival + i.reorderDelay)
            counters.reordered += 1
        } else {
            arrival = max(arrival, lastArrival)
            lastArrival = arrival
        }
        for copy in 0..<copies {
            counters.inFlight += 1
            let s = copy == 0 ? slot : simulation.copyFrame(slot)
            simulation.enqueue(.delivery(direction: index, slot: s, epoch: epoch), at: arrival)
        }
    }

    /// Offers a frame held in an array.
    public func send(_ frame: [UInt8]) {
        frame.withUnsafeBytes { send($0) }
    }

    /// The loss model's verdict on the next frame.
    private func isLost(_ model: LossModel) -> Bool {
        switch model {
        case .none:
            return false
        case .random(let p):
            return p > 0 && lossRandom.nextUnit() < p
        case .gilbertElliott(let goodToBad, let badToGood, let lossInGood, let lossInBad):
            let move = lossRandom.nextUnit()
            channelIsBad = channelIsBad ? !(move < badToGood) : move < goodToBad
            return lossRandom.nextUnit() < (channelIsBad ? lossInBad : lossInGood)
        }
    }

    /// A signed jitter draw in nanoseconds.
    private func jitterOffset(_ jitter: Jitter) -> Int64 {
        switch jitter {
        case .none:
            return 0
        case .uniform(let d):
            let span = Double(d.nanosecondsClamped)
            return Int64((jitterRandom.nextUnit() * 2 - 1) * span)
        case .normal(let sd):
            // Irwin–Hall: the sum of 12 uniforms on [0, 1) has mean 6 and variance 1.
            var sum = 0.0
            for _ in 0..<12 { sum += jitterRandom.nextUnit() }
            return Int64((sum - 6) * Double(sd.nanosecondsClamped))
        }
    }

    /// The token bucket: when a frame of `size` bytes offered at `now` leaves, or nil if it would
    /// have to wait and the queue is full.
    private func admit(_ size: Int, rate: RateLimit, now: Instant) -> Instant? {
        while waitingHead < waiting.count, waiting[waitingHead].departure <= now {
            waitingBytes -= waiting[waitingHead].bytes
            waitingHead += 1
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        } else if waitingHead > 1024, waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }

        let perNanosecond = rate.bitsPerSecond
        let (cost, costOverflow) = UInt64(size).multipliedReportingOverflow(by: 8_000_000_000)
        let (depth, depthOverflow) = UInt64(max(size, rate.burst)).multipliedReportingOverflow(by: 8_000_000_000)
        let frameCost = costOverflow ? UInt64.max : cost
        let capacity = depthOverflow ? UInt64.max : depth
        // Frames leave in order: not before the previous one.
        let start = max(now, lastDeparture)
        let elapsed = (start - creditAt).nanosecondsClamped
        let (earned, earnedOverflow) = UInt64(max(elapsed, 0)).multipliedReportingOverflow(by: perNanosecond)
        let (sum, sumOverflow) = credit.addingReportingOverflow(earnedOverflow ? .max : earned)
        let available = min(capacity, sumOverflow ? .max : sum)

        let departure: Instant
        let remaining: UInt64
        if available >= frameCost {
            departure = start
            remaining = available - frameCost
        } else {
            let shortfall = frameCost - available
            let wait = (shortfall + perNanosecond - 1) / perNanosecond
            departure = start + .nanoseconds(Int64(clamping: wait))
            remaining = available + wait * perNanosecond - frameCost
        }
        if departure > now {
            let waitingFrames = waiting.count - waitingHead
            switch rate.queueLimit {
            case .packets(let limit): if waitingFrames >= limit { return nil }
            case .bytes(let limit): if waitingBytes + size > limit { return nil }
            }
            waiting.append((departure, size))
            waitingBytes += size
        }
        credit = remaining
        creditAt = departure
        lastDeparture = departure
        return departure
    }

    // MARK: Delivering

    /// Runs at a frame's arrival time (from the simulation's agenda).
    func deliver(_ frame: [UInt8], epoch: UInt64, now: Instant) {
        counters.inFlight -= 1
        guard isUp, epoch == self.epoch else { counters.downDrops += 1; return }
        counters.delivered += 1
        counters.deliveredBytes += frame.count
        if let receiver { frame.withUnsafeBytes { receiver($0, now) } }
        if let receiverNode { simulation.touch(receiverNode) }
    }
}
