// The routing `sluice mesh up` runs (docs/mesh.md, "The agent"): mesh.yml's `routing: babel` (the default) or
// `routing: static`. One type for both, so the agent holds one `MeshNode<MeshAgentRouting>` whatever was chosen.
//
//   babel   BabelMeshRouting: routes, next hops and costs from Babel over the hop sessions; relays are whatever
//           neighbours Babel's routes go through (only nodes that relay announce others' routes: a node with
//           `relay: false` or without the capability runs as a Babel leaf). The agent brings every peer with an
//           endpoint up at start, so the routing mesh exists before traffic needs it.
//   static  StaticMeshRouting: every peer direct, the registry's relays in file order when a direct path fails.

import Basics
import Crypto
import Mesh
import Wire

/// mesh.yml's `routing`.
public enum MeshAgentRoutingKind: String, Sendable, CaseIterable {
    case babel, `static`
}

public enum MeshAgentRouting: MeshRouting {
    case fixed(StaticMeshRouting)
    case babel(BabelMeshRouting)

    public func nextHop(for destination: IPv4Address) -> PublicKey? {
        switch self {
        case .fixed(let r): r.nextHop(for: destination)
        case .babel(let r): r.nextHop(for: destination)
        }
    }

    public func alternateHop(for destination: IPv4Address, avoiding neighbour: PublicKey) -> PublicKey? {
        switch self {
        case .fixed(let r): r.alternateHop(for: destination, avoiding: neighbour)
        case .babel(let r): r.alternateHop(for: destination, avoiding: neighbour)
        }
    }

    /// Runs `body` on the wrapped routing and stores it back.
    mutating func update(_ fixed: (inout StaticMeshRouting) -> [MeshRoutingMessage],
                         _ babel: (inout BabelMeshRouting) -> [MeshRoutingMessage]) -> [MeshRoutingMessage] {
        switch self {
        case .fixed(var r):
            let out = fixed(&r)
            self = .fixed(r)
            return out
        case .babel(var r):
            let out = babel(&r)
            self = .babel(r)
            return out
        }
    }

    public mutating func neighbourUp(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        update({ $0.neighbourUp(neighbour, now: now) }, { $0.neighbourUp(neighbour, now: now) })
    }

    public mutating func neighbourDown(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        update({ $0.neighbourDown(neighbour, now: now) }, { $0.neighbourDown(neighbour, now: now) })
    }

    public mutating func receive(_ message: [UInt8], from neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        update({ $0.receive(message, from: neighbour, now: now) }, { $0.receive(message, from: neighbour, now: now) })
    }

    public mutating func tick(now: Instant) -> [MeshRoutingMessage] {
        update({ $0.tick(now: now) }, { $0.tick(now: now) })
    }

    public func nextDeadline() -> Instant? {
        switch self {
        case .fixed(let r): r.nextDeadline()
        case .babel(let r): r.nextDeadline()
        }
    }

    public var kind: MeshAgentRoutingKind {
        switch self {
        case .fixed: .static
        case .babel: .babel
        }
    }

    /// A reload's peers and relays: static routes are rebuilt (the neighbours known down stay down); Babel
    /// authorizes updates against the new peers.
    mutating func setPeers(_ peers: [MeshPeer], relays: [PublicKey], relaying: Bool) {
        switch self {
        case .fixed(var r):
            let rebuilt = StaticMeshRouting(peers: peers, relays: relays)
            r.routes = rebuilt.routes
            r.relays = rebuilt.relays
            self = .fixed(r)
        case .babel(var r):
            r.setPeers(peers)
            r.setLeaf(!relaying)
            self = .babel(r)
        }
    }
}

extension MeshAgentConfiguration {
    func makeRouting(now: Instant) -> MeshAgentRouting {
        switch routing {
        case .static:
            return .fixed(StaticMeshRouting(peers: peers, relays: relays))
        case .babel:
            let fields = identity.chain[0].fields
            var babel = BabelConfiguration()
            babel.leaf = !(relay && fields.capabilities.contains(.relay))
            // Originated: the certificate's addresses and prefixes, and this node's own registry networks (its
            // neighbours authorize them by the same registry entry).
            let key = identity.staticKey.publicKey
            let own = registry.peers(localKey: nil).first { $0.key == key }
            var addresses = fields.addresses, prefixes = fields.prefixes
            for a in own?.addresses ?? [] where !addresses.contains(a) { addresses.append(a) }
            for n in own?.prefixes ?? [] where !prefixes.contains(n) { prefixes.append(n) }
            return .babel(BabelMeshRouting(localKey: key, addresses: addresses, prefixes: prefixes, peers: peers,
                                           configuration: babel, now: now))
        }
    }
}
