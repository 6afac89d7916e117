// The NAT's state: mappings, sessions, and (for address-dependent filtering) permits, in fixed
// arrays sized at start and never grown, so translating a packet never allocates.
//
//   mapping  (protocol, internal address, internal port) ↔ external port   — endpoint-independent
//   session  (mapping, remote address, remote port), with a state and an idle timer
//   permit   (mapping, remote address) with a count of sessions — "this mapping has sent to that
//            address", which is what address-dependent filtering asks (RFC 4787 §5)
//
// A mapping lives as long as it has a session: its timer is its sessions' timers (RFC 4787 REQ-6:
// outbound traffic refreshes it; inbound traffic does too, which REQ-6a allows). A session with
// the same remote port to a second destination never changes the external port (REQ-1).
//
// Timers: sessions sit in one of four lists, one per timeout (UDP, ICMP query, TCP transitory,
// TCP established), oldest activity first. Every refresh moves a session to the newest end, so
// each list is in deadline order and expiry looks only at list heads: O(1) per packet and per
// expired session, and deterministic (never hash order).
import Basics
import Wire

final class NATTable {
    static let none: Int32 = -1

    struct Mapping {
        var proto: NATProtocol
        var internalAddress: UInt32
        var internalPort: UInt16
        var externalPort: UInt16
        /// Live sessions; 0 when the entry is free.
        var sessions: Int32
        var hash: UInt32
        var nextFree: Int32
    }

    struct Session {
        /// The mapping; `none` when the entry is free.
        var mapping: Int32
        var remoteAddress: UInt32
        var remotePort: UInt16
        var state: NATSessionState
        /// TCP: bit 0 a SYN went out, bit 1 a SYN came in.
        var syns: UInt8
        var lastActive: Instant
        var hash: UInt32
        var permit: Int32
        var older: Int32
        /// Next newer in its timer list; next free when free.
        var newer: Int32
    }

    struct Permit {
        var mapping: Int32
        var remoteAddress: UInt32
        var sessions: Int32
        var hash: UInt32
        var nextFree: Int32
    }

    /// Timer list of each state.
    @inline(__always) static func timerList(_ state: NATSessionState) -> Int {
        switch state {
        case .udp: 0
        case .icmpQuery: 1
        case .tcpOpening, .tcpClosing: 2
        case .tcpEstablished: 3
        }
    }

    let capacity: Int
    let seed: UInt64
    let trackPermits: Bool
    /// Idle timeout of each timer list, in nanoseconds.
    let timeouts: UnsafeMutableBufferPointer<UInt64>

    // Storage is allocated once here and freed in `deinit`: a final class over raw buffers, so a
    // lookup neither copies a struct of arrays (retain/release per array) nor checks uniqueness.
    // Entry numbers come from the table itself, never from packet bytes.
    let mappings: UnsafeMutableBufferPointer<Mapping>
    let sessions: UnsafeMutableBufferPointer<Session>
    private let permits: UnsafeMutableBufferPointer<Permit>
    private let mappingIndex: NATIndex
    private let sessionIndex: NATIndex
    private let permitIndex: NATIndex
    /// Oldest and newest session of each timer list.
    private let oldest: UnsafeMutableBufferPointer<Int32>
    private let newest: UnsafeMutableBufferPointer<Int32>
    @exclusivity(unchecked) private var freeMapping: Int32 = 0
    @exclusivity(unchecked) private var freeSession: Int32 = 0
    @exclusivity(unchecked) private var freePermit: Int32 = 0
    @exclusivity(unchecked) private(set) var mappingCount = 0
    @exclusivity(unchecked) private(set) var sessionCount = 0
    @exclusivity(unchecked) var ports: NATPortPool

    init(capacity: Int, timeouts: NATTimeouts, trackPermits: Bool, ports: NATPortPool, seed: UInt64) {
        self.capacity = capacity
        self.seed = seed
        self.trackPermits = trackPermits
        self.ports = ports
        func ns(_ d: Duration) -> UInt64 { UInt64(max(1, d.nanosecondsClamped)) }
        self.timeouts = .allocate(capacity: 4)
        for (list, d) in [timeouts.udp, timeouts.icmpQuery, timeouts.tcpTransitory, timeouts.tcpEstablished].enumerated() {
            self.timeouts.initializeElement(at: list, to: ns(d))
        }
        func next(_ i: Int, _ count: Int) -> Int32 { i + 1 < count ? Int32(i + 1) : Self.none }
        mappings = .allocate(capacity: capacity)
        sessions = .allocate(capacity: capacity)
        for i in 0..<capacity {
            mappings.initializeElement(at: i, to: Mapping(proto: .udp, internalAddress: 0, internalPort: 0, externalPort: 0,
                                                          sessions: 0, hash: 0, nextFree: next(i, capacity)))
            sessions.initializeElement(at: i, to: Session(mapping: Self.none, remoteAddress: 0, remotePort: 0, state: .udp,
                                                          syns: 0, lastActive: .zero, hash: 0, permit: Self.none,
                                                          older: Self.none, newer: next(i, capacity)))
        }
        let permitCount = trackPermits ? capacity : 0
        permits = .allocate(capacity: max(1, permitCount))
        for i in 0..<max(1, permitCount) {
            permits.initializeElement(at: i, to: Permit(mapping: Self.none, remoteAddress: 0, sessions: 0, hash: 0,
                                                        nextFree: next(i, permitCount)))
        }
        if permitCount == 0 { freePermit = Self.none }
        mappingIndex = NATIndex(capacity: capacity)
        sessionIndex = NATIndex(capacity: capacity)
        permitIndex = NATIndex(capacity: permitCount)
        oldest = .allocate(capacity: 4)
        oldest.initialize(repeating: Self.none)
        newest = .allocate(capacity: 4)
        newest.initialize(repeating: Self.none)
    }

    deinit {
        timeouts.deallocate()
        mappings.deallocate()
        sessions.deallocate()
        permits.deallocate()
        mappingIndex.deallocate()
        sessionIndex.deallocate()
        permitIndex.deallocate()
        oldest.deallocate()
        newest.deallocate()
        ports.deallocate()
    }

    var isFull: Bool { sessionCount == capacity }

    // MARK: Lookup

    /// The mapping of an internal endpoint, or `none`.
    @inline(__always) func mapping(_ proto: NATProtocol, internal address: UInt32, port: UInt16) -> Int32 {
        let h = NATHash.endpoint(proto, address, port, seed: seed)
        return mappingIndex.find(h) { m in
            let e = mappings[Int(m)]
            return e.internalAddress == address && e.internalPort == port && e.proto == proto
        }
    }

    /// The session of mapping `m` with a remote endpoint, or `none`.
    @inline(__always) func session(_ m: Int32, remote address: UInt32, port: UInt16) -> Int32 {
        let h = NATHash.remote(m, address, port, seed: seed)
        return sessionIndex.find(h) { s in
            let e = sessions[Int(s)]
            return e.remoteAddress == address && e.remotePort == port && e.mapping == m
        }
    }

    /// True if mapping `m` has a session with `address` on any port (address-dependent filtering).
    @inline(__always) func hasPermit(_ m: Int32, remote address: UInt32) -> Bool {
        permit(m, address) != Self.none
    }

    private func permit(_ m: Int32, _ address: UInt32) -> Int32 {
        let h = NATHash.remote(m, address, 0, seed: seed ^ 0x5045_524D)
        return permitIndex.find(h) { p in
            let e = permits[Int(p)]
            return e.remoteAddress == address && e.mapping == m
        }
    }

    /// When session `s` times out unless refreshed.
    @inline(__always) func deadline(_ s: Int32) -> Instant {
        let e = sessions[Int(s)]
        let (t, overflow) = e.lastActive.nanoseconds.addingReportingOverflow(timeouts[Self.timerList(e.state)])
        return Instant(nanoseconds: overflow ? .max : t)
    }

    /// The earliest session deadline, or nil when there are no sessions.
    func nextDeadline() -> Instant? {
        var best: Instant?
        for list in 0..<4 where oldest[list] != Self.none {
            let d = deadline(oldest[list])
            if best == nil || d < best! { best = d }
        }
        return best
    }

    // MARK: Changes

    /// Adds a mapping (the internal endpoint must have none) holding external port `port`, which
    /// the caller chose from `ports`. Needs a free session too (the caller checked `isFull`):
    /// a mapping without a session is never left behind.
    func addMapping(_ proto: NATProtocol, internal address: UInt32, port: UInt16, external: UInt16) -> Int32 {
        let m = freeMapping
        precondition(m != Self.none, "NATTable: no free mapping")
        freeMapping = mappings[Int(m)].nextFree
        let h = NATHash.endpoint(proto, address, port, seed: seed)
        mappings[Int(m)] = Mapping(proto: proto, internalAddress: address, internalPort: port, externalPort: external,
                                   sessions: 0, hash: h, nextFree: Self.none)
        mappingIndex.insert(h, m)
        ports.assign(proto, external, to: m)
        mappingCount += 1
        return m
    }

    /// Adds a session of mapping `m` (which must have none with this remote endpoint), newest in its timer list.
    func addSession(_ m: Int32, remote address: UInt32, port: UInt16, state: NATSessionState, syns: UInt8,
                             now: Instant) -> Int32 {
        let s = freeSession
        precondition(s != Self.none, "NATTable: no free session")
        freeSession = sessions[Int(s)].newer
        var p = Self.none
        if trackPermits {
            p = permit(m, address)
            if p == Self.none {
                p = freePermit
                freePermit = permits[Int(p)].nextFree
                let h = NATHash.remote(m, address, 0, seed: seed ^ 0x5045_524D)
                permits[Int(p)] = Permit(mapping: m, remoteAddress: address, sessions: 0, hash: h, nextFree: Self.none)
                permitIndex.insert(h, p)
            }
            permits[Int(p)].sessions += 1
        }
        let h = NATHash.remote(m, address, port, seed: seed)
        sessions[Int(s)] = Session(mapping: m, remoteAddress: address, remotePort: port, state: state, syns: syns,
                                   lastActive: now, hash: h, permit: p, older: Self.none, newer: Self.none)
        sessionIndex.insert(h, s)
        mappings[Int(m)].sessions += 1
        linkNewest(s)
        sessionCount += 1
        return s
    }

    /// Marks session `s` active at `now`, in state `state`, having seen `syns`.
    @inline(__always) func refresh(_ s: Int32, state: NATSessionState, syns: UInt8, now: Instant) {
        let old = sessions[Int(s)]
        let moves = Self.timerList(old.state) != Self.timerList(state) || newest[Self.timerList(state)] != s
        if moves { unlink(s) }
        sessions[Int(s)].state = state
        sessions[Int(s)].syns = syns
        sessions[Int(s)].lastActive = max(old.lastActive, now)
        if moves { linkNewest(s) }
    }

    /// `now`, or the newest activity already in `list` if that is later: a clock that steps back
    /// must not put a list out of deadline order (the session lives a little longer instead).
    @inline(__always) private func monotonic(_ now: Instant, list: Int) -> Instant {
        let last = newest[list]
        guard last != Self.none else { return now }
        return max(now, sessions[Int(last)].lastActive)
    }

    /// Removes session `s`, and its mapping if it was the last. Returns true if the mapping went.
    @discardableResult
    func removeSession(_ s: Int32, timedOut: Bool) -> Bool {
        let e = sessions[Int(s)]
        unlink(s)
        sessionIndex.remove(e.hash, s)
        if e.permit != Self.none {
            permits[Int(e.permit)].sessions -= 1
            if permits[Int(e.permit)].sessions == 0 {
                permitIndex.remove(permits[Int(e.permit)].hash, e.permit)
                permits[Int(e.permit)].mapping = Self.none
                permits[Int(e.permit)].nextFree = freePermit
                freePermit = e.permit
            }
        }
        sessions[Int(s)].mapping = Self.none
        sessions[Int(s)].permit = Self.none
        sessions[Int(s)].newer = freeSession
        freeSession = s
        sessionCount -= 1

        let m = e.mapping
        mappings[Int(m)].sessions -= 1
        guard mappings[Int(m)].sessions == 0 else { return false }
        let mapping = mappings[Int(m)]
        mappingIndex.remove(mapping.hash, m)
        ports.release(mapping.proto, mapping.externalPort, timedOut: timedOut)
        mappings[Int(m)].nextFree = freeMapping
        freeMapping = m
        mappingCount -= 1
        return true
    }

    /// Removes every session whose deadline is at or before `now`. Returns the sessions and
    /// mappings removed.
    func expire(now: Instant) -> (sessions: Int, mappings: Int) {
        var removed = (sessions: 0, mappings: 0)
        for list in 0..<4 {
            while oldest[list] != Self.none, deadline(oldest[list]) <= now {
                removed.sessions += 1
                if removeSession(oldest[list], timedOut: true) { removed.mappings += 1 }
            }
        }
        return removed
    }

    /// True if some session is due at `now` (cheap: four comparisons).
    @inline(__always) func hasDue(now: Instant) -> Bool {
        for list in 0..<4 where oldest[list] != Self.none {
            if deadline(oldest[list]) <= now { return true }
        }
        return false
    }

    // MARK: Timer lists

    private func unlink(_ s: Int32) {
        let list = Self.timerList(sessions[Int(s)].state)
        let older = sessions[Int(s)].older, newer = sessions[Int(s)].newer
        if older != Self.none { sessions[Int(older)].newer = newer } else { oldest[list] = newer }
        if newer != Self.none { sessions[Int(newer)].older = older } else { newest[list] = older }
        sessions[Int(s)].older = Self.none
        sessions[Int(s)].newer = Self.none
    }

    /// Appends `s` to its timer list, first raising its last activity to the list's newest.
    private func linkNewest(_ s: Int32) {
        let list = Self.timerList(sessions[Int(s)].state)
        sessions[Int(s)].lastActive = monotonic(sessions[Int(s)].lastActive, list: list)
        sessions[Int(s)].older = newest[list]
        sessions[Int(s)].newer = Self.none
        if newest[list] != Self.none { sessions[Int(newest[list])].newer = s } else { oldest[list] = s }
        newest[list] = s
    }
}
