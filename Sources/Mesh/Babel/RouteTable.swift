// The route table (RFC 8966 §3.2.6, §3.5–3.6): for each prefix, one route per neighbour that advertised it, and
// the selected one. Selection takes the smallest metric among feasible routes over live links, with hysteresis
// (§3.6 leaves the policy to the implementation): a still-usable selected route yields at once only to a route
// better by `immediateSwitchGain`; a smaller gain (beyond `switchMargin`) switches at most once per
// `switchHoldDown`, so a swinging RTT cannot make a prefix flap between two paths.

import Basics

/// A route learned from a neighbour.
public struct BabelRoute: Equatable, Sendable {
    public var prefix: BabelPrefix
    public var neighbour: NeighbourID
    public var routerID: RouterID
    public var seqno: UInt16
    /// The metric the neighbour advertised.
    public var receivedMetric: UInt16
    /// The link cost plus the advertised metric (§3.5.2, M(c, m) = c + m), infinite when either is.
    public var metric: UInt16
    /// The update's interval in centiseconds; the route expires 3.5 intervals after it (§3.5.3).
    public var interval: UInt16
    public var expiry: Instant
}

/// The route a node forwards a prefix along.
public struct BabelSelectedRoute: Equatable, Sendable, CustomStringConvertible {
    public var prefix: BabelPrefix
    /// nil: the prefix is originated here.
    public var nextHop: NeighbourID?
    public var metric: UInt16
    public var routerID: RouterID
    public var seqno: UInt16
    public var description: String {
        "\(prefix) via \(nextHop.map(\.description) ?? "local") metric \(metric) router-id \(routerID) seqno \(seqno)"
    }
}

/// What was last announced for a prefix (to decide whether a change needs a triggered update).
struct Announcement: Equatable, Sendable {
    var routerID: RouterID
    var seqno: UInt16
    var metric: UInt16
}

/// All routes for one prefix.
struct PrefixRoutes: Sendable {
    var routes: [BabelRoute] = []
    var selected: NeighbourID?
    /// When a small-gain switch last happened (hysteresis).
    var lastHeldSwitch: Instant?
    /// A better route is being held back by the hold-down: reselect when it ends.
    var switchHeld = false
    /// Starvation (§3.8.2.1): the seqno request outstanding for this prefix, when it was sent, how often.
    var request: (routerID: RouterID, seqno: UInt16, sentAt: Instant, attempts: Int)?
    var announced: Announcement?
    /// The router-id of the last route held, for retractions.
    var lastRouterID: RouterID?
    var lastSeqno: UInt16 = 0

    var selectedRoute: BabelRoute? {
        guard let s = selected else { return nil }
        return routes.first { $0.neighbour == s }
    }
}

/// The route table: routes per prefix.
struct RouteTable: Sendable {
    var prefixes: [BabelPrefix: PrefixRoutes] = [:]

    /// Prefixes in order (for deterministic output).
    var sortedPrefixes: [BabelPrefix] { prefixes.keys.sorted() }

    /// §3.5.2 and the hysteresis above. Recomputes every route's metric from `cost`, then picks. Returns the
    /// previous selection's next hop (to tell whether the next hop changed).
    static func select(_ entry: inout PrefixRoutes, prefix: BabelPrefix, now: Instant, cost: (NeighbourID) -> UInt16,
                       sources: SourceTable, _ c: BabelConfiguration, counters: inout BabelCounters) {
        var bestIndex: Int?
        var currentIndex: Int?
        for i in entry.routes.indices {
            let r = entry.routes[i]
            let linkCost = cost(r.neighbour)
            let m = linkCost == BabelWire.infinity || r.receivedMetric == BabelWire.infinity
                ? BabelWire.infinity : UInt16(min(UInt32(BabelWire.infinity - 1), UInt32(linkCost) + UInt32(r.receivedMetric)))
            entry.routes[i].metric = m
            guard m != BabelWire.infinity,
                  sources.isFeasible(prefix, r.routerID, seqno: r.seqno, metric: r.receivedMetric) else { continue }
            if r.neighbour == entry.selected { currentIndex = i }
            if let b = bestIndex {
                let best = entry.routes[b]
                if m < best.metric || (m == best.metric && r.neighbour < best.neighbour) { bestIndex = i }
            } else {
                bestIndex = i
            }
        }
        entry.switchHeld = false
        guard let best = bestIndex else { entry.selected = nil; return }
        guard let current = currentIndex else { entry.selected = entry.routes[best].neighbour; return }
        if best == current { return }
        let gain = entry.routes[current].metric - entry.routes[best].metric  // best's metric is no larger
        if gain >= c.immediateSwitchGain {
            entry.selected = entry.routes[best].neighbour
        } else if gain > c.switchMargin {
            if let last = entry.lastHeldSwitch, now < last + c.switchHoldDown {
                entry.switchHeld = true
                counters.heldSwitches &+= 1
            } else {
                entry.selected = entry.routes[best].neighbour
                entry.lastHeldSwitch = now
            }
        }
    }
}
