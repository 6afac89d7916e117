// The IPv6 neighbour cache of RFC 4861 §7.3: neighbour unreachability detection's five states
// (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE; the transitions of Appendix C), address resolution
// with a bounded queue of packets per entry (§7.2.2), and its timers as deadlines. Sans-IO: the
// caller hands in time and events (a packet to send, an advertisement, a link-layer address seen
// in an NS/RS/RA/Redirect, an upper-layer reachability hint) and carries out the actions it gets
// back (send a solicitation, transmit or drop a queued packet). Packets are the caller's tokens
// (e.g. packet-pool slots): the cache never touches bytes.
//
// Not wired into the router yet (issue 16 item 2).
import Basics
import Wire

/// The protocol constants of RFC 4861 §10 and a capacity, all settable for tests.
struct NeighborCacheConfiguration: Sendable {
    /// Entries at most; a new neighbour past it replaces the least recently used STALE entry
    /// with nothing queued, or is refused.
    var capacity = 256
    /// Packets queued per INCOMPLETE entry (§7.2.2: "at least one"; the oldest gives way).
    var queuePerEntry = 3
    /// MAX_MULTICAST_SOLICIT: solicitations while INCOMPLETE.
    var maxMulticastSolicit = 3
    /// MAX_UNICAST_SOLICIT: probes while PROBE.
    var maxUnicastSolicit = 3
    /// RetransTimer (RETRANS_TIMER 1 s, or an RA's Retrans Timer).
    var retransTimer: Duration = .seconds(1)
    /// ReachableTime. RFC 4861 §6.3.2 draws it uniformly from 0.5–1.5 × BaseReachableTime (30 s);
    /// randomness is an input here, so the caller draws it and sets this.
    var reachableTime: Duration = .seconds(30)
    /// DELAY_FIRST_PROBE_TIME.
    var delayFirstProbeTime: Duration = .seconds(5)
}

/// RFC 4861 §7.3.2.
enum NeighborState: Sendable, Equatable {
    /// "Address resolution is being performed and the link-layer address of the neighbor has not
    /// yet been determined."
    case incomplete
    /// "Positive confirmation was received within the last ReachableTime milliseconds."
    case reachable
    /// "More than ReachableTime milliseconds have elapsed since the last positive confirmation."
    case stale
    /// "... a packet was sent within the last DELAY_FIRST_PROBE_TIME seconds."
    case delay
    /// "A reachability confirmation is actively sought by retransmitting Neighbor Solicitations
    /// every RetransTimer milliseconds."
    case probe
}

/// What the caller must do after an event.
enum NeighborAction: Sendable, Equatable {
    /// Send a Neighbor Solicitation for `target`: to its solicited-node group when `unicastTo`
    /// is nil (address resolution), else to that link-layer address (a probe, §7.3.3).
    case solicit(target: IPv6Address, unicastTo: MACAddress?)
    /// Send the packet `token` to link-layer address `mac`.
    case transmit(token: Int, mac: MACAddress)
    /// Drop the packet `token` (count it; after `.resolutionFailed` the router owes the sender
    /// an ICMPv6 Destination Unreachable, code 3, §7.2.2).
    case drop(token: Int, reason: NeighborDropReason)
}

enum NeighborDropReason: Sendable, Equatable {
    /// The entry's queue was full: the oldest packet gave way to the new one.
    case queueOverflow
    /// Address resolution failed after MAX_MULTICAST_SOLICIT solicitations.
    case resolutionFailed
    /// The cache was full of entries it may not replace.
    case cacheFull
}

struct NeighborCache {
    struct Entry: Sendable, Equatable {
        var state: NeighborState
        var mac: MACAddress?
        /// The IsRouter flag (§7.2.5).
        var isRouter = false
        /// When the current state's timer fires (`distantFuture`: none).
        var deadline: Instant
        /// Solicitations sent in INCOMPLETE or PROBE.
        var solicitations = 0
        /// Tokens waiting for resolution, oldest first (INCOMPLETE only).
        var queue: [Int] = []
        /// Last time a packet was sent to it (for replacing entries).
        var lastUsed: Instant
    }

    let configuration: NeighborCacheConfiguration
    private(set) var entries: [IPv6Address: Entry] = [:]

    init(configuration: NeighborCacheConfiguration = NeighborCacheConfiguration()) {
        self.configuration = configuration
        entries.reserveCapacity(configuration.capacity)
    }

    /// The entry for `address`, if any.
    func entry(_ address: IPv6Address) -> Entry? { entries[address] }

    /// The earliest timer of any entry (`distantFuture`: none).
    var nextDeadline: Instant { entries.values.reduce(Instant.distantFuture) { min($0, $1.deadline) } }

    // MARK: Sending (§7.2.2, §7.3.3)

    /// The caller has packet `token` for on-link neighbour `address`.
    mutating func send(token: Int, to address: IPv6Address, now: Instant, actions: inout [NeighborAction]) {
        guard var e = entries[address] else {
            guard makeRoom(now: now) else { actions.append(.drop(token: token, reason: .cacheFull)); return }
            // "the sender creates a new entry in the INCOMPLETE state ... initiates address
            // resolution" and queues the packet.
            entries[address] = Entry(state: .incomplete, mac: nil, deadline: now + configuration.retransTimer,
                                     solicitations: 1, queue: [token], lastUsed: now)
            actions.append(.solicit(target: address, unicastTo: nil))
            return
        }
        e.lastUsed = now
        switch e.state {
        case .incomplete:
            if e.queue.count >= max(1, configuration.queuePerEntry) {
                // §7.2.2: "the new arrival SHOULD replace the oldest entry".
                actions.append(.drop(token: e.queue.removeFirst(), reason: .queueOverflow))
            }
            e.queue.append(token)
        case .stale:
            // §7.3.3: "the first time a node sends a packet to a neighbor whose entry is STALE,
            // the sender changes the state to DELAY and sets a timer to expire in
            // DELAY_FIRST_PROBE_TIME seconds."
            e.state = .delay
            e.deadline = now + configuration.delayFirstProbeTime
            actions.append(.transmit(token: token, mac: e.mac!))
        case .reachable, .delay, .probe:
            actions.append(.transmit(token: token, mac: e.mac!))
        }
        entries[address] = e
    }

    /// Frees a slot for a new entry: true if there is room (after replacing, if need be, the least
    /// recently used STALE entry).
    private mutating func makeRoom(now: Instant) -> Bool {
        if entries.count < configuration.capacity { return true }
        var victim: IPv6Address?
        var oldest = Instant.distantFuture
        for (address, e) in entries where e.state == .stale && e.lastUsed <= oldest {
            if e.lastUsed < oldest || victim.map({ address < $0 }) == true { victim = address; oldest = e.lastUsed }
        }
        guard let victim else { return false }
        entries[victim] = nil
        return true
    }

    // MARK: Receiving (§7.2.3–§7.2.5, §6.3.4, §8.3)

    /// A Neighbor Advertisement for `target` (§7.2.5), already validated (NDPMessage).
    mutating func receiveAdvertisement(
        target: IPv6Address, linkLayer: MACAddress?, solicited: Bool, override: Bool, router: Bool,
        now: Instant, actions: inout [NeighborAction]
    ) {
        // "If no entry exists, the advertisement SHOULD be silently discarded."
        guard var e = entries[target] else { return }
        if e.state == .incomplete {
            // "If the advertisement's Target Link-Layer Address option is absent, the receiving
            // node SHOULD silently discard the received advertisement."
            guard let mac = linkLayer else { return }
            e.mac = mac
            e.isRouter = router
            e.solicitations = 0
            if solicited { e.state = .reachable; e.deadline = now + configuration.reachableTime }
            else { e.state = .stale; e.deadline = .distantFuture }
            for token in e.queue { actions.append(.transmit(token: token, mac: mac)) }
            e.queue = []
            entries[target] = e
            return
        }
        let differs = linkLayer != nil && linkLayer != e.mac
        if !override && differs {
            // "If the Override flag is clear and the supplied link-layer address differs from that
            // in the cache ... if its state is REACHABLE, set it to STALE, but do not update the
            // entry in any other way. b. Otherwise, the received advertisement should be ignored."
            if e.state == .reachable { e.state = .stale; e.deadline = .distantFuture; entries[target] = e }
            return
        }
        if let mac = linkLayer { e.mac = mac }
        if solicited {
            e.state = .reachable
            e.deadline = now + configuration.reachableTime
            e.solicitations = 0
        } else if differs {
            e.state = .stale
            e.deadline = .distantFuture
        }
        e.isRouter = router
        entries[target] = e
    }

    /// A link-layer address for `address` learned from a Neighbor Solicitation, Router
    /// Solicitation, Router Advertisement or Redirect (§7.2.3, §6.2.6, §6.3.4, §8.3): create or
    /// update the entry as STALE when the address is new or different.
    mutating func learn(address: IPv6Address, mac: MACAddress, now: Instant, actions: inout [NeighborAction]) {
        guard var e = entries[address] else {
            guard makeRoom(now: now) else { return }
            entries[address] = Entry(state: .stale, mac: mac, deadline: .distantFuture, lastUsed: now)
            return
        }
        if e.state == .incomplete {
            e.state = .stale; e.mac = mac; e.deadline = .distantFuture; e.solicitations = 0
            for token in e.queue { actions.append(.transmit(token: token, mac: mac)) }
            e.queue = []
        } else if e.mac != mac {
            e.state = .stale; e.mac = mac; e.deadline = .distantFuture
        }
        entries[address] = e
    }

    /// Forward progress from an upper layer (§7.3.1): a REACHABLE confirmation without an NA.
    mutating func confirmReachability(_ address: IPv6Address, now: Instant) {
        guard var e = entries[address], e.state != .incomplete else { return }
        e.state = .reachable
        e.deadline = now + configuration.reachableTime
        e.solicitations = 0
        entries[address] = e
    }

    /// Forgets `address` (an interface going away, a reconfiguration); its queued packets are dropped.
    mutating func remove(_ address: IPv6Address, actions: inout [NeighborAction]) {
        guard let e = entries.removeValue(forKey: address) else { return }
        for token in e.queue { actions.append(.drop(token: token, reason: .resolutionFailed)) }
    }

    // MARK: Timers

    /// Runs every timer due at `now`, in address order (so the actions are deterministic).
    mutating func service(now: Instant, actions: inout [NeighborAction]) {
        let due = entries.filter { $0.value.deadline <= now }.keys.sorted()
        for address in due {
            guard var e = entries[address] else { continue }
            switch e.state {
            case .incomplete:
                if e.solicitations < configuration.maxMulticastSolicit {
                    e.solicitations += 1
                    e.deadline = now + configuration.retransTimer
                    actions.append(.solicit(target: address, unicastTo: nil))
                } else {
                    // §7.2.2: resolution failed; the queued packets are dropped (and reported).
                    for token in e.queue { actions.append(.drop(token: token, reason: .resolutionFailed)) }
                    entries[address] = nil
                    continue
                }
            case .reachable:
                e.state = .stale
                e.deadline = .distantFuture
            case .delay:
                // "If the entry is still in the DELAY state when the timer expires, the entry's
                // state changes to PROBE" and the first probe goes out.
                e.state = .probe
                e.solicitations = 1
                e.deadline = now + configuration.retransTimer
                actions.append(.solicit(target: address, unicastTo: e.mac))
            case .probe:
                if e.solicitations < configuration.maxUnicastSolicit {
                    e.solicitations += 1
                    e.deadline = now + configuration.retransTimer
                    actions.append(.solicit(target: address, unicastTo: e.mac))
                } else {
                    // §7.3.3: "If no response is received after waiting RetransTimer milliseconds
                    // after sending the MAX_UNICAST_SOLICIT solicitations, retransmissions cease
                    // and the entry SHOULD be deleted."
                    entries[address] = nil
                    continue
                }
            case .stale:
                e.deadline = .distantFuture
            }
            entries[address] = e
        }
    }
}
