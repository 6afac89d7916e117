// The Babel router (RFC 8966 with the RTT extension of RFC 9616), a subset for the mesh: neighbours are peers over
// encrypted point-to-point sessions, so every packet is unicast and there is no multicast, no link-local address
// and no Next Hop handling (the next hop is the neighbour a route came from). Sans-IO, a value type: packets in
// with the neighbour they came from and `now`; timer ticks; actions out (packets to send, route changes), and
// `nextDeadline()`. No clock, no randomness: the same inputs give the same bytes.
//
// Usage (the mesh node):
//
//     var router = BabelRouter(routerID: RouterID(publicKey: myKey), now: now) { originator, prefix in
//         certificate(of: originator)?.allows(prefix) ?? false }
//     perform(router.originate(prefix: BabelPrefix(myOverlayNetwork), now: now))
//     perform(router.neighbourUp(peerIndex, now: now))          // a session came up
//     perform(router.receive(decryptedBabelPacket, from: peerIndex, now: now))
//     perform(router.tick(now: now))                            // at or after router.nextDeadline()
//     router.nextHop(for: destination)                          // forwarding

import Basics
import Wire

public struct BabelRouter: Sendable {
    /// Whether `originator` may announce `prefix` (the node asks the originator's certificate). Updates it refuses
    /// are dropped and counted (`BabelDropReason.unauthorizedPrefix`).
    public typealias Authorizer = @Sendable (_ originator: RouterID, _ prefix: BabelPrefix) -> Bool

    public let routerID: RouterID
    public internal(set) var configuration: BabelConfiguration
    let authorize: Authorizer
    /// Our seqno for the prefixes we originate (§3.2.2).
    public private(set) var seqno: UInt16 = 0
    /// Prefixes originated here, sorted.
    public private(set) var originated: [BabelPrefix] = []
    var neighbours: [NeighbourID: BabelNeighbour] = [:]
    /// Neighbour ids in order (iteration order must not depend on hashing).
    var neighbourOrder: [NeighbourID] = []
    var sources = SourceTable()
    var table = RouteTable()
    /// Seqno requests forwarded recently (§3.8.1.2 duplicate suppression).
    var forwarded: [ForwardedRequest: Instant] = [:]
    /// The IPv4 selected routes, longest prefix first, rebuilt at the end of any call that changed a selection.
    var forwarding: [BabelSelectedRoute] = []
    var forwardingDirty = false
    /// Routes held, over all prefixes (bounded by `maxRoutes`).
    public private(set) var routeCount = 0
    public private(set) var counters = BabelCounters()
    var nextUpdate: Instant
    var nextSweep: Instant
    /// Prefixes whose change is announced to every neighbour at the end of the current call.
    var triggered: Set<BabelPrefix> = []
    var actions: [BabelAction] = []

    struct ForwardedRequest: Hashable, Sendable {
        var prefix: BabelPrefix
        var routerID: RouterID
        var seqno: UInt16
    }

    public init(routerID: RouterID, configuration: BabelConfiguration = BabelConfiguration(), now: Instant,
                authorize: @escaping Authorizer = { _, _ in true }) {
        self.routerID = routerID
        self.configuration = configuration
        self.authorize = authorize
        nextUpdate = now + configuration.updateInterval
        nextSweep = now + configuration.sweepInterval
    }

    // MARK: queries

    /// The selected route for the longest prefix containing `destination`: originated here (nextHop nil) or
    /// through a neighbour. nil when unreachable.
    /// Scans the forwarding table (IPv4 selected routes, longest prefix first): no allocation, no hashing.
    public func route(for destination: IPv4Address) -> BabelSelectedRoute? {
        for r in forwarding where r.prefix.contains(destination) { return r }
        return nil
    }

    /// The neighbour to forward a packet for `destination` to; nil when it is unreachable or local.
    public func nextHop(for destination: IPv4Address) -> NeighbourID? { route(for: destination)?.nextHop }

    /// A neighbour other than `avoiding` with a usable route toward `destination` (longest prefix first; feasible
    /// routes before unfeasible ones, then the smallest metric): where to fail over when the path through `avoiding`
    /// silently stopped carrying data before the Hellos noticed. nil when there is none.
    public func alternateHop(for destination: IPv4Address, avoiding: NeighbourID) -> NeighbourID? {
        var bestPrefix: BabelPrefix?
        var best: (feasible: Bool, metric: UInt16, neighbour: NeighbourID)?
        for p in table.sortedPrefixes where p.contains(destination) {
            guard let entry = table.prefixes[p] else { continue }
            for r in entry.routes where r.neighbour != avoiding && r.metric != BabelWire.infinity {
                let feasible = sources.isFeasible(p, r.routerID, seqno: r.seqno, metric: r.receivedMetric)
                let candidate = (feasible, r.metric, r.neighbour)
                if let bp = bestPrefix, bp.length > p.length { continue }
                if let b = best, bestPrefix == p,
                   (b.feasible && !feasible) || (b.feasible == feasible && (b.metric, b.neighbour) <= (r.metric, r.neighbour)) {
                    continue
                }
                bestPrefix = p; best = candidate
            }
        }
        return best?.neighbour
    }

    /// Every selected route, originated ones first, in prefix order (for status).
    public var selectedRoutes: [BabelSelectedRoute] {
        originated.map { BabelSelectedRoute(prefix: $0, nextHop: nil, metric: 0, routerID: routerID, seqno: seqno) }
            + table.sortedPrefixes.compactMap { p in
                guard !originated.contains(p), let r = table.prefixes[p]?.selectedRoute else { return nil }
                return BabelSelectedRoute(prefix: p, nextHop: r.neighbour, metric: r.metric, routerID: r.routerID, seqno: r.seqno)
            }
    }

    /// Every route learned, in prefix then neighbour order (for status and tests).
    public var allRoutes: [BabelRoute] {
        table.sortedPrefixes.flatMap { p in (table.prefixes[p]?.routes ?? []).sorted { $0.neighbour < $1.neighbour } }
    }

    /// The neighbours that are up, in order.
    public var neighbourIDs: [NeighbourID] { neighbourOrder }

    /// A neighbour's link cost (infinite while the link is down), and its smoothed RTT.
    public func linkCost(_ n: NeighbourID) -> UInt16 { neighbours[n]?.cost ?? BabelWire.infinity }
    public func smoothedRTT(_ n: NeighbourID) -> Duration? {
        neighbours[n]?.smoothedRTT.map { .microseconds(Int64(clamping: $0)) }
    }

    /// The earliest instant `tick` has work to do.
    public func nextDeadline() -> Instant {
        var d = min(nextUpdate, nextSweep)
        for n in neighbours.values { d = min(d, n.nextDeadline) }
        return d
    }

    // MARK: inputs

    /// Starts announcing `prefix` (metric 0, our router-id and seqno).
    public mutating func originate(prefix: BabelPrefix, now: Instant) -> [BabelAction] {
        if !originated.contains(prefix) {
            originated.append(prefix); originated.sort()
            triggered.insert(prefix)
            forwardingDirty = true
        }
        return finish(now)
    }

    /// Stops announcing `prefix` (a retraction, unless a route from elsewhere remains).
    public mutating func withdraw(prefix: BabelPrefix, now: Instant) -> [BabelAction] {
        if let i = originated.firstIndex(of: prefix) {
            originated.remove(at: i)
            triggered.insert(prefix)
            forwardingDirty = true
        }
        return finish(now)
    }

    /// A session to neighbour `n` came up (again): Hellos start at once.
    public mutating func neighbourUp(_ n: NeighbourID, now: Instant) -> [BabelAction] {
        if neighbours[n] != nil { dropNeighbour(n, now: now) }
        neighbours[n] = BabelNeighbour(now: now)
        let i = neighbourOrder.firstIndex { $0 > n } ?? neighbourOrder.endIndex
        neighbourOrder.insert(n, at: i)
        sendHello(to: n, now: now)
        return finish(now)
    }

    /// The session to `n` is gone (signalled): its routes are dropped at once and alternatives selected.
    public mutating func neighbourDown(_ n: NeighbourID, now: Instant) -> [BabelAction] {
        dropNeighbour(n, now: now)
        return finish(now)
    }

    /// A Babel packet from neighbour `from` (already decrypted by its session).
    public mutating func receive(_ bytes: some Collection<UInt8>, from: NeighbourID, now: Instant) -> [BabelAction] {
        counters.packetsReceived &+= 1
        guard var nb = neighbours[from] else { counters.count(.unknownNeighbour); return [] }
        let packet: BabelPacket
        do throws(BabelWireError) {
            packet = try BabelPacket(parsing: Array(bytes))
        } catch {
            switch error {
            case .badMagic: counters.count(.badMagic)
            case .badVersion: counters.count(.badVersion)
            default: counters.count(.truncated)
            }
            return []
        }
        for _ in 0..<packet.malformedTLVs { counters.count(.malformedTLV) }
        for _ in 0..<packet.unknownTLVs { counters.count(.unknownTLV) }

        let micros = Self.micros(now)
        var helloTimestamp: UInt32?
        for case .hello(let h) in packet.tlvs { helloTimestamp = h.timestamp; break }
        let wasDown = nb.rxcost(configuration) == BabelWire.infinity
        var routerIDInForce: RouterID?
        var rest: [(BabelTLV, RouterID?)] = []
        for tlv in packet.tlvs {
            switch tlv {
            case .hello(let h): nb.heard(h, now: now, micros: micros)
            case .ihu(let i): nb.heard(i, helloTimestamp: helloTimestamp, now: now, micros: micros, configuration)
            case .routerID(let id): routerIDInForce = id
            case .update(let u):
                if let id = u.routerIDFromPrefix { routerIDInForce = id }
                rest.append((tlv, routerIDInForce))
            case .routeRequest, .seqnoRequest, .ackRequest: rest.append((tlv, nil))
            case .pad1, .padN, .ack, .nextHop: break
            }
        }
        let isDown = nb.rxcost(configuration) == BabelWire.infinity
        neighbours[from] = nb
        if wasDown != isDown {
            // We started (or stopped) hearing them: tell them now rather than at the next IHU.
            neighbours[from]!.ihuDue = true
            sendHello(to: from, now: now)
        }
        refreshCost(from, now: now)

        for (tlv, id) in rest {
            switch tlv {
            case .update(let u): handleUpdate(u, routerID: id, from: from, now: now)
            case .routeRequest(let p): handleRouteRequest(p, from: from, now: now)
            case .seqnoRequest(let r): handleSeqnoRequest(r, from: from, now: now)
            case .ackRequest(let opaque, _): sendPacket([.ack(opaque: opaque)], to: from)
            default: break
            }
        }
        return finish(now)
    }

    /// Timers: Hellos due, missed Hellos, IHUs expired, the periodic full update, route expiry and request resends.
    public mutating func tick(now: Instant) -> [BabelAction] {
        for n in neighbourOrder {
            guard var nb = neighbours[n] else { continue }
            let wasDown = nb.rxcost(configuration) == BabelWire.infinity
            var misses = 0
            while let t = nb.helloTimeout, t <= now, misses <= 16 { nb.missedHello(now: t); misses += 1 }
            if let e = nb.ihuExpiry, e <= now { nb.txcost = BabelWire.infinity; nb.ihuExpiry = nil }
            if (nb.rxcost(configuration) == BabelWire.infinity) != wasDown { nb.ihuDue = true }
            neighbours[n] = nb
            if nb.nextHello <= now { sendHello(to: n, now: now) }
            refreshCost(n, now: now)
        }
        if now >= nextUpdate {
            for n in neighbourOrder { sendFullTable(to: n, now: now) }
            nextUpdate = max(nextUpdate + configuration.updateInterval, now + .milliseconds(1))
        }
        if now >= nextSweep {
            sweep(now: now)
            nextSweep = max(nextSweep + configuration.sweepInterval, now + .milliseconds(1))
        }
        return finish(now)
    }

    // MARK: neighbours

    static func micros(_ now: Instant) -> UInt32 { UInt32(truncatingIfNeeded: now.nanoseconds / 1000) }

    var ihuEvery: Int {
        let h = max(1, configuration.helloInterval.nanosecondsClamped)
        return max(1, Int(configuration.ihuInterval.nanosecondsClamped / h))
    }

    /// A unicast Hello with our transmit timestamp, and an IHU (echoing their last Hello's timestamps) when due.
    mutating func sendHello(to n: NeighbourID, now: Instant) {
        guard var nb = neighbours[n] else { return }
        nb.helloSeqno &+= 1
        var tlvs: [BabelTLV] = [.hello(BabelHello(seqno: nb.helloSeqno,
                                                   interval: BabelConfiguration.centiseconds(configuration.helloInterval),
                                                   timestamp: Self.micros(now)))]
        nb.hellosSinceIHU += 1
        if nb.ihuDue || nb.hellosSinceIHU >= ihuEvery {
            let stamped = nb.lastHelloTimestamp != nil
            tlvs.append(.ihu(BabelIHU(rxcost: nb.rxcost(configuration),
                                      interval: BabelConfiguration.centiseconds(configuration.ihuInterval),
                                      origin: stamped ? nb.lastHelloTimestamp : nil,
                                      receive: stamped ? nb.lastHelloHeardAt : nil)))
            nb.hellosSinceIHU = 0
            nb.ihuDue = false
        }
        nb.nextHello = now + configuration.helloInterval
        neighbours[n] = nb
        sendPacket(tlvs, to: n)
    }

    /// Recomputes `n`'s link cost; when it changed, every prefix with a route through `n` is reselected. A link that
    /// comes (back) up is asked for its full table.
    mutating func refreshCost(_ n: NeighbourID, now: Instant) {
        guard var nb = neighbours[n] else { return }
        let cost = nb.computeCost(configuration)
        guard cost != nb.cost else { return }
        let old = nb.cost
        nb.cost = cost
        neighbours[n] = nb
        for p in table.sortedPrefixes where table.prefixes[p]!.routes.contains(where: { $0.neighbour == n }) {
            reselect(p, now: now)
        }
        if old == BabelWire.infinity { sendPacket([.routeRequest(nil)], to: n) }
    }

    mutating func dropNeighbour(_ n: NeighbourID, now: Instant) {
        neighbours[n] = nil
        neighbourOrder.removeAll { $0 == n }
        for p in table.sortedPrefixes {
            guard var entry = table.prefixes[p], entry.routes.contains(where: { $0.neighbour == n }) else { continue }
            let held = entry.routes.count
            entry.routes.removeAll { $0.neighbour == n }
            routeCount -= held - entry.routes.count
            table.prefixes[p] = entry
            // The selected route may be among those removed: `reselect` then sees none before or after, so the
            // forwarding table is marked stale here.
            forwardingDirty = true
            reselect(p, now: now)
        }
    }

    // MARK: updates (§3.5)

    mutating func handleUpdate(_ u: BabelUpdate, routerID id: RouterID?, from n: NeighbourID, now: Instant) {
        counters.updatesReceived &+= 1
        guard let prefix = u.prefix else {
            // AE 0: every route from this neighbour is retracted.
            for p in table.sortedPrefixes {
                guard var entry = table.prefixes[p], let i = entry.routes.firstIndex(where: { $0.neighbour == n }) else { continue }
                entry.routes[i].receivedMetric = BabelWire.infinity
                table.prefixes[p] = entry
                reselect(p, now: now)
            }
            return
        }
        guard let id else {
            // A retraction needs no router-id: it withdraws this neighbour's route, whatever its source.
            if u.metric == BabelWire.infinity, var entry = table.prefixes[prefix],
               let i = entry.routes.firstIndex(where: { $0.neighbour == n }) {
                entry.routes[i].receivedMetric = BabelWire.infinity
                table.prefixes[prefix] = entry
                reselect(prefix, now: now)
            } else if u.metric != BabelWire.infinity {
                counters.count(.missingRouterID)
            }
            return
        }
        if id == routerID {
            // Our own announcement come back. A newer seqno than ours means we restarted: jump past it (§3.8.1.2).
            if originated.contains(prefix), Seqno.isNewer(u.seqno, than: seqno) {
                seqno = u.seqno &+ 1
                for p in originated { triggered.insert(p) }
                forwardingDirty = true
            }
            return
        }
        if u.metric != BabelWire.infinity && !authorize(id, prefix) { counters.count(.unauthorizedPrefix); return }
        let feasible = sources.isFeasible(prefix, id, seqno: u.seqno, metric: u.metric)
        var entry = table.prefixes[prefix] ?? PrefixRoutes()
        let interval = u.interval == 0 ? BabelConfiguration.centiseconds(configuration.updateInterval) : u.interval
        let expiry = now + BabelConfiguration.routeHold(interval: interval)
        if !feasible, u.metric != BabelWire.infinity, entry.selected == nil {
            // A starving prefix asks the sender of an unfeasible update for a newer seqno (§3.8.2.2).
            requestSeqno(prefix, routerID: id, entry: &entry, to: n, now: now)
        }
        if let i = entry.routes.firstIndex(where: { $0.neighbour == n }) {
            entry.routes[i].routerID = id
            entry.routes[i].seqno = u.seqno
            entry.routes[i].receivedMetric = u.metric
            entry.routes[i].interval = interval
            entry.routes[i].expiry = expiry
        } else {
            guard u.metric != BabelWire.infinity else { return }
            guard routeCount < configuration.maxRoutes else {
                counters.count(.routeTableFull)
                if table.prefixes[prefix] != nil || entry.request != nil { table.prefixes[prefix] = entry }
                return
            }
            // Kept even when unfeasible, but never selected while it is (it can become feasible with a newer seqno,
            // and it is a failover hint for `alternateHop`).
            if !feasible { counters.count(.unfeasibleUpdate) }
            routeCount += 1
            entry.routes.append(BabelRoute(prefix: prefix, neighbour: n, routerID: id, seqno: u.seqno,
                                           receivedMetric: u.metric, metric: BabelWire.infinity,
                                           interval: interval, expiry: expiry))
        }
        table.prefixes[prefix] = entry
        reselect(prefix, now: now)
    }

    /// Selects the route for `prefix` again and records what follows: a route change action, a triggered update,
    /// a seqno request when the prefix starves (§3.8.2.1).
    mutating func reselect(_ prefix: BabelPrefix, now: Instant) {
        guard var entry = table.prefixes[prefix] else { return }
        let before = entry.selected
        let beforeRoute = entry.selectedRoute
        let costs = neighbours
        var counts = counters
        RouteTable.select(&entry, prefix: prefix, now: now, cost: { costs[$0]?.cost ?? BabelWire.infinity },
                          sources: sources, configuration, counters: &counts)
        counters = counts
        let after = entry.selectedRoute
        if beforeRoute?.neighbour != after?.neighbour || beforeRoute?.metric != after?.metric
            || beforeRoute?.routerID != after?.routerID || beforeRoute?.seqno != after?.seqno {
            forwardingDirty = true
        }
        if before != after?.neighbour {
            counters.routeSwitches &+= 1
            if !originated.contains(prefix) {
                actions.append(.routeChanged(prefix: prefix, nextHop: after?.neighbour, metric: after?.metric ?? BabelWire.infinity))
            }
        }
        if let a = after {
            entry.lastRouterID = a.routerID
            entry.lastSeqno = a.seqno
            entry.request = nil
        } else if let id = before != nil ? entry.lastRouterID
                    : entry.routes.first(where: { $0.metric != BabelWire.infinity })?.routerID {
            // Starving: no feasible route, but one was held or one is offered. Ask the source for a newer seqno.
            requestSeqno(prefix, routerID: id, entry: &entry, to: nil, now: now)
        }
        if !originated.contains(prefix) {
            let current = after.map { Announcement(routerID: $0.routerID, seqno: $0.seqno, metric: $0.metric) }
            // A new next hop is announced too: the old one never heard this route (split horizon).
            if before != after?.neighbour || Self.needsTrigger(from: entry.announced, to: current, configuration) {
                triggered.insert(prefix)
            }
        }
        table.prefixes[prefix] = entry
    }

    /// §3.7.2: announce at once a new or lost route, a new source or seqno, or a metric that moved by half a hop.
    static func needsTrigger(from old: Announcement?, to new: Announcement?, _ c: BabelConfiguration) -> Bool {
        switch (old, new) {
        case (nil, nil): return false
        case (nil, _), (_, nil): return true
        case let (o?, n?):
            if o.routerID != n.routerID || o.seqno != n.seqno { return true }
            let d = o.metric > n.metric ? o.metric - n.metric : n.metric - o.metric
            return d >= c.nominalCost / 2
        }
    }

    // MARK: requests (§3.8)

    /// Sends a seqno request for (prefix, router-id) one past our feasibility distance, to `to` or to every
    /// neighbour, unless the same request is already outstanding (the sweep resends it up to three times; after
    /// that, a new reason to ask — an unfeasible update, a lost route — starts it over, at most once a resend
    /// interval).
    mutating func requestSeqno(_ prefix: BabelPrefix, routerID id: RouterID, entry: inout PrefixRoutes, to: NeighbourID?,
                               now: Instant) {
        let wanted = (sources.distance(prefix, id)?.seqno ?? entry.lastSeqno) &+ 1
        if to == nil, let r = entry.request, r.routerID == id, r.seqno == wanted,
           r.attempts < 3 || now < r.sentAt + configuration.requestResendInterval { return }
        entry.request = (id, wanted, now, 1)
        let tlv = BabelTLV.seqnoRequest(BabelSeqnoRequest(prefix: prefix, seqno: wanted,
                                                          hopCount: configuration.requestHopCount, routerID: id))
        counters.seqnoRequestsSent &+= 1
        if let to { sendPacket([tlv], to: to) } else { sendPacketToAll([tlv]) }
    }

    mutating func handleRouteRequest(_ prefix: BabelPrefix?, from n: NeighbourID, now: Instant) {
        guard let prefix else { sendFullTable(to: n, now: now); return }
        var stream = UpdateStream(maxSize: configuration.maxPacketSize)
        addAnnouncement(prefix, to: &stream, retractIfNone: true, now: now)
        for p in stream.finish() { actions.append(.send(p, to: n)); counters.packetsSent &+= 1 }
    }

    /// §3.8.1.2: the source answers by bumping its seqno; a node whose route already satisfies the request answers
    /// with it; otherwise the request goes on toward the source along the selected route, hop count decreased.
    mutating func handleSeqnoRequest(_ r: BabelSeqnoRequest, from n: NeighbourID, now: Instant) {
        if r.routerID == routerID {
            guard originated.contains(r.prefix) else { counters.count(.requestNotForwarded); return }
            if Seqno.isNewer(r.seqno, than: seqno) {
                seqno = Seqno.isNewer(r.seqno, than: seqno &+ 1) ? r.seqno : seqno &+ 1
                for p in originated { triggered.insert(p) }
                forwardingDirty = true
            } else {
                handleRouteRequest(r.prefix, from: n, now: now)
            }
            return
        }
        guard let entry = table.prefixes[r.prefix] else { counters.count(.requestNotForwarded); return }
        if let s = entry.selectedRoute, s.metric != BabelWire.infinity,
           s.routerID != r.routerID || !Seqno.isNewer(r.seqno, than: s.seqno) {
            handleRouteRequest(r.prefix, from: n, now: now)
            return
        }
        // Forward toward the source: along the selected route, or (starving) the best route offered.
        let via = entry.selectedRoute ?? entry.routes.filter { $0.metric != BabelWire.infinity && $0.neighbour != n }
            .min { ($0.metric, $0.neighbour) < ($1.metric, $1.neighbour) }
        let key = ForwardedRequest(prefix: r.prefix, routerID: r.routerID, seqno: r.seqno)
        guard r.hopCount >= 2, let via, via.neighbour != n, forwarded[key] == nil else {
            counters.count(.requestNotForwarded); return
        }
        forwarded[key] = now
        counters.seqnoRequestsForwarded &+= 1
        var fwd = r
        fwd.hopCount -= 1
        sendPacket([.seqnoRequest(fwd)], to: via.neighbour)
    }

    // MARK: sending

    mutating func sendPacket(_ tlvs: [BabelTLV], to n: NeighbourID) {
        var b = BabelPacketBuilder(maxSize: configuration.maxPacketSize)
        for t in tlvs { _ = b.append(t) }
        actions.append(.send(b.finished(), to: n))
        counters.packetsSent &+= 1
    }

    mutating func sendPacketToAll(_ tlvs: [BabelTLV]) {
        var b = BabelPacketBuilder(maxSize: configuration.maxPacketSize)
        for t in tlvs { _ = b.append(t) }
        actions.append(.sendToAll(b.finished()))
        counters.packetsSent &+= UInt64(neighbourOrder.count)
    }

    /// What we announce for `prefix`: our own origination, the selected route, or nothing.
    func announcement(_ prefix: BabelPrefix) -> Announcement? {
        if originated.contains(prefix) { return Announcement(routerID: routerID, seqno: seqno, metric: 0) }
        guard !configuration.leaf, let r = table.prefixes[prefix]?.selectedRoute else { return nil }
        return Announcement(routerID: r.routerID, seqno: r.seqno, metric: r.metric)
    }

    /// Adds the announcement for `prefix` to `stream` (or a retraction) and records it in the source table (§3.7.3).
    mutating func addAnnouncement(_ prefix: BabelPrefix, to stream: inout UpdateStream, retractIfNone: Bool, now: Instant) {
        if configuration.leaf && !originated.contains(prefix) { return }  // a leaf neither announces nor retracts
        let interval = BabelConfiguration.centiseconds(configuration.updateInterval)
        if let a = announcement(prefix) {
            stream.add(BabelUpdate(prefix: prefix, interval: interval, seqno: a.seqno, metric: a.metric), routerID: a.routerID)
            sources.advertised(prefix, a.routerID, seqno: a.seqno, metric: a.metric, now: now)
            if table.prefixes[prefix] != nil { table.prefixes[prefix]!.announced = a }
        } else if retractIfNone {
            let entry = table.prefixes[prefix]
            stream.add(BabelUpdate(prefix: prefix, interval: interval, seqno: entry?.lastSeqno ?? seqno,
                                   metric: BabelWire.infinity), routerID: entry?.lastRouterID ?? routerID)
            if entry != nil { table.prefixes[prefix]!.announced = nil }
        }
    }

    /// The full table to one neighbour (periodic, or a wildcard route request), with split horizon: a route is not
    /// announced to the neighbour it goes through.
    mutating func sendFullTable(to n: NeighbourID, now: Instant) {
        var stream = UpdateStream(maxSize: configuration.maxPacketSize)
        var prefixes = originated
        for p in table.sortedPrefixes where !originated.contains(p) && table.prefixes[p]?.selected != n { prefixes.append(p) }
        for p in prefixes { addAnnouncement(p, to: &stream, retractIfNone: false, now: now) }
        for p in stream.finish() { actions.append(.send(p, to: n)); counters.packetsSent &+= 1 }
    }

    /// Announces every triggered prefix to all neighbours, then returns the actions of this call.
    mutating func finish(_ now: Instant) -> [BabelAction] {
        if !triggered.isEmpty {
            var stream = UpdateStream(maxSize: configuration.maxPacketSize)
            for p in triggered.sorted() { addAnnouncement(p, to: &stream, retractIfNone: true, now: now) }
            triggered.removeAll(keepingCapacity: true)
            for p in stream.finish() {
                actions.append(.sendToAll(p)); counters.packetsSent &+= UInt64(neighbourOrder.count)
            }
        }
        if forwardingDirty {
            forwarding = selectedRoutes.filter { $0.prefix.family == 4 }
                .sorted { ($0.prefix.length, $1.prefix) > ($1.prefix.length, $0.prefix) }
            forwardingDirty = false
        }
        defer { actions.removeAll(keepingCapacity: true) }
        return actions
    }

    // MARK: expiry (§3.5.5)

    /// Routes past their expiry become retractions, retractions past it are flushed; held-back switches are
    /// reconsidered; unanswered seqno requests resent (three times); stale request and source entries dropped.
    mutating func sweep(now: Instant) {
        for p in table.sortedPrefixes {
            guard var entry = table.prefixes[p] else { continue }
            var changed = entry.switchHeld
            var kept: [BabelRoute] = []
            for var r in entry.routes {
                if now >= r.expiry {
                    changed = true
                    if r.receivedMetric == BabelWire.infinity { continue }
                    r.receivedMetric = BabelWire.infinity
                    r.expiry = now + BabelConfiguration.routeHold(interval: r.interval)
                }
                kept.append(r)
            }
            routeCount -= entry.routes.count - kept.count
            entry.routes = kept
            table.prefixes[p] = entry
            if changed { reselect(p, now: now); entry = table.prefixes[p]! }
            if entry.selected == nil, let r = entry.request, r.attempts < 3, now >= r.sentAt + configuration.requestResendInterval {
                entry.request = (r.routerID, r.seqno, now, r.attempts + 1)
                counters.seqnoRequestsSent &+= 1
                sendPacketToAll([.seqnoRequest(BabelSeqnoRequest(prefix: p, seqno: r.seqno,
                                                                 hopCount: configuration.requestHopCount, routerID: r.routerID))])
            }
            if entry.routes.isEmpty, entry.selected == nil, entry.announced == nil, !triggered.contains(p) {
                table.prefixes[p] = nil
            } else {
                table.prefixes[p] = entry
            }
        }
        forwarded = forwarded.filter { now < $0.value + configuration.requestDuplicateWindow }
        sources.collect(now: now, age: configuration.sourceGCTime)
    }
}

/// Updates packed into packets of at most `maxSize`, each starting with the Router-Id its first update needs.
struct UpdateStream {
    var builder: BabelPacketBuilder
    var routerID: RouterID?
    var packets: [[UInt8]] = []

    init(maxSize: Int) { builder = BabelPacketBuilder(maxSize: maxSize) }

    mutating func add(_ u: BabelUpdate, routerID id: RouterID) {
        let tlv = BabelTLV.update(u)
        let need = tlv.encodedLength + (routerID == id ? 0 : BabelTLV.routerID(id).encodedLength)
        if builder.room < need { flush() }
        if routerID != id { _ = builder.append(.routerID(id)); routerID = id }
        _ = builder.append(tlv)
    }

    mutating func flush() {
        guard !builder.isEmpty else { return }
        packets.append(builder.finished())
        builder.reset()
        routerID = nil
    }

    mutating func finish() -> [[UInt8]] { flush(); return packets }
}
