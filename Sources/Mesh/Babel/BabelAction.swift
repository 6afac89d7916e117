// What a BabelRouter asks its driver (the mesh node) to do, and why it dropped what it dropped.

import Basics

/// One action, in order. Packets go over the encrypted session to the neighbour(s); route changes are for the node's
/// forwarding table (and status).
public enum BabelAction: Equatable, Sendable {
    /// Send this Babel packet to one neighbour.
    case send([UInt8], to: NeighbourID)
    /// Send this Babel packet to every neighbour that is up.
    case sendToAll([UInt8])
    /// The next hop for `prefix` changed: nil when it became unreachable.
    case routeChanged(prefix: BabelPrefix, nextHop: NeighbourID?, metric: UInt16)
}

/// Why the router dropped a packet or a TLV. Raw values index the counters: append, never renumber.
public enum BabelDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Not a Babel packet: magic is not 42.
    case badMagic
    /// A Babel version other than 2.
    case badVersion
    /// Shorter than its header, body length or a TLV's framing says.
    case truncated
    /// A TLV whose value does not parse (ignored; the rest of the packet is used).
    case malformedTLV
    /// A TLV type outside the subset (ignored, as RFC 8966 §4.3 requires).
    case unknownTLV
    /// A packet from a neighbour the node never announced with `neighbourUp`.
    case unknownNeighbour
    /// An update for a prefix the originator's certificate does not allow.
    case unauthorizedPrefix
    /// An update with no router-id before it in the packet.
    case missingRouterID
    /// An update for a new route that fails the feasibility condition: kept, never selected while unfeasible
    /// (counted here although it is not dropped).
    case unfeasibleUpdate
    /// A seqno request not forwarded: hop count spent, a duplicate, or no route to forward it along.
    case requestNotForwarded
    /// An update for a new route while the table holds `maxRoutes` routes.
    case routeTableFull

    public var description: String {
        switch self {
        case .badMagic: "bad magic"
        case .badVersion: "bad version"
        case .truncated: "truncated"
        case .malformedTLV: "malformed TLV"
        case .unknownTLV: "unknown TLV"
        case .unknownNeighbour: "unknown neighbour"
        case .unauthorizedPrefix: "prefix not allowed by the originator's certificate"
        case .missingRouterID: "update without router-id"
        case .unfeasibleUpdate: "unfeasible update"
        case .requestNotForwarded: "seqno request not forwarded"
        case .routeTableFull: "route table full"
        }
    }
}

/// A router's counters. Fixed storage.
public struct BabelCounters: Sendable, Equatable {
    public internal(set) var drops = ReasonCounts<BabelDropReason>()
    public internal(set) var packetsReceived: UInt64 = 0
    public internal(set) var packetsSent: UInt64 = 0
    public internal(set) var updatesReceived: UInt64 = 0
    public internal(set) var seqnoRequestsSent: UInt64 = 0
    public internal(set) var seqnoRequestsForwarded: UInt64 = 0
    /// Selected next hops that changed.
    public internal(set) var routeSwitches: UInt64 = 0
    /// Reselections that kept a route because a better one was within the hold-down (hysteresis at work).
    public internal(set) var heldSwitches: UInt64 = 0

    mutating func count(_ reason: BabelDropReason) { drops.count(reason) }

    public var summary: String {
        let parts = drops.nonzero.map { "\($0.reason) \($0.count)" }
        return "packets in \(packetsReceived) out \(packetsSent), updates \(updatesReceived), "
            + "seqno requests sent \(seqnoRequestsSent) forwarded \(seqnoRequestsForwarded), switches \(routeSwitches), "
            + "drops \(drops.total)" + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
    }
}
