// The seam between the node engine (MeshNode.swift) and a routing protocol (docs/mesh.md, "Node engine"). The
// engine asks for the next hop toward an overlay address and carries the protocol's control messages inside the
// hop sessions; the protocol never sees a socket. `StaticMeshRouting` is the routing of a configuration without a
// routing protocol: direct peers, configured prefixes, an ordered list of relays for failover. A dynamic protocol
// (Babel, Sources/Mesh/Babel) implements the same protocol.

import Basics
import Crypto
import Wire

/// A routing control message to one neighbour (carried in the hop session as plaintext kind 0x81).
public struct MeshRoutingMessage: Equatable, Sendable {
    public var neighbour: PublicKey
    public var bytes: [UInt8]
    public init(neighbour: PublicKey, bytes: [UInt8]) { self.neighbour = neighbour; self.bytes = bytes }
}

/// What the node engine needs from routing. Neighbours are named by their node key (the Noise static key).
public protocol MeshRouting {
    /// The neighbour to hand a packet for `destination` to: the node that owns it when the route is direct, a relay
    /// otherwise; nil when there is no route.
    func nextHop(for destination: IPv4Address) -> PublicKey?
    /// A neighbour other than `neighbour` that carries traffic toward `destination` — used when the direct path to
    /// `neighbour` silently stopped carrying data and routing has not noticed yet (failover within seconds).
    func alternateHop(for destination: IPv4Address, avoiding neighbour: PublicKey) -> PublicKey?
    /// A session with `neighbour` is up on a direct path (or came back after a failure); returns messages to send.
    mutating func neighbourUp(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage]
    /// The direct path to `neighbour` stopped carrying data; returns messages to send.
    mutating func neighbourDown(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage]
    /// A control message from `neighbour`; returns messages to send.
    mutating func receive(_ message: [UInt8], from neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage]
    /// Timers due at `now`; returns messages to send.
    mutating func tick(now: Instant) -> [MeshRoutingMessage]
    /// When `tick` should next be called; nil when nothing is pending.
    func nextDeadline() -> Instant?
}

/// Routing from configuration alone: each route names the neighbour that carries it; `relays` are tried in order
/// when the direct path to a destination is down. Sends no control messages.
public struct StaticMeshRouting: MeshRouting, Sendable {
    public struct Route: Sendable, Equatable {
        public var network: OverlayNetwork
        public var via: PublicKey
        public init(network: OverlayNetwork, via: PublicKey) { self.network = network; self.via = via }
    }

    public var routes: [Route]
    public var relays: [PublicKey]
    /// Neighbours whose direct path is down (reported by the engine).
    public private(set) var down: Set<PublicKey> = []

    public init(routes: [Route] = [], relays: [PublicKey] = []) { self.routes = routes; self.relays = relays }

    /// A route to every peer's addresses (as /32) and prefixes, through the peer itself.
    public init(peers: [MeshPeer], relays: [PublicKey] = []) {
        var routes: [Route] = []
        for p in peers {
            for a in p.addresses where a.family == 4 {
                routes.append(Route(network: OverlayNetwork(family: 4, address: a.address, prefixLength: 32)!, via: p.key))
            }
            for n in p.prefixes where n.family == 4 { routes.append(Route(network: n, via: p.key)) }
        }
        self.init(routes: routes, relays: relays)
    }

    public func nextHop(for destination: IPv4Address) -> PublicKey? {
        var best: Route?
        for r in routes where r.network.contains(destination) {
            if best == nil || r.network.prefixLength > best!.network.prefixLength { best = r }
        }
        guard let via = best?.via else { return nil }
        return down.contains(via) ? alternateHop(for: destination, avoiding: via) : via
    }

    public func alternateHop(for destination: IPv4Address, avoiding neighbour: PublicKey) -> PublicKey? {
        relays.first { $0 != neighbour && !down.contains($0) }
    }

    public mutating func neighbourUp(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        down.remove(neighbour)
        return []
    }
    public mutating func neighbourDown(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        down.insert(neighbour)
        return []
    }
    public mutating func receive(_ message: [UInt8], from neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] { [] }
    public mutating func tick(now: Instant) -> [MeshRoutingMessage] { [] }
    public func nextDeadline() -> Instant? { nil }
}
