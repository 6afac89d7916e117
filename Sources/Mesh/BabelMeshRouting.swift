// Babel (Sources/Mesh/Babel) as the node engine's routing (MeshRouting.swift; docs/mesh.md, "Routing in the node").
// The engine names neighbours by node key; the router by a small NeighbourID: ids are handed out in the order keys
// are first seen and never reused. Babel packets ride the hop session as plaintext kind 0x81 (MeshPlaintextKind
// .routing: kind, 0, 16-bit length, the Babel packet; RelayEnvelope.swift), only to neighbours with a direct session.
//
// The node originates the /32 of each of its certificate's IPv4 addresses and each of its prefixes. An update is
// accepted only when the originator's certificate allows the prefix (`authorize`: the /32s of its addresses, and
// its prefixes); others are dropped and counted by the router (`BabelDropReason.unauthorizedPrefix`).

import Basics
import Crypto
import Wire

public struct BabelMeshRouting: MeshRouting, Sendable {
    public private(set) var router: BabelRouter
    var ids: [PublicKey: NeighbourID] = [:]
    var keys: [NeighbourID: PublicKey] = [:]
    /// Neighbours the router currently knows as up: the engine reports `neighbourUp` again at every new session
    /// (rekeys included), which must not reset the neighbour's Hello history and routes.
    public private(set) var up: Set<PublicKey> = []
    /// The prefixes this node announces.
    public let originated: [BabelPrefix]

    /// Prefixes a node's certificate (or configuration) lets it announce: each IPv4/IPv6 address as a host route,
    /// and each prefix as is.
    public static func allowedPrefixes(addresses: [OverlayNetwork], prefixes: [OverlayNetwork]) -> [BabelPrefix] {
        var out: [BabelPrefix] = []
        for a in addresses {
            if let p = BabelPrefix(family: a.family, bytes: a.address, length: a.family == 4 ? 32 : 128) { out.append(p) }
        }
        for n in prefixes { if let p = BabelPrefix(n) { out.append(p) } }
        return out
    }

    /// `peers` carry each node's addresses and prefixes as its certificate (or the registry) states them; updates
    /// whose originator is not among them, or whose prefix none of the originator's allowed prefixes covers, are
    /// refused.
    public init(localKey: PublicKey, addresses: [OverlayNetwork], prefixes: [OverlayNetwork], peers: [MeshPeer],
                configuration: BabelConfiguration = BabelConfiguration(), now: Instant) {
        let mine = Self.allowedPrefixes(addresses: addresses, prefixes: prefixes)
        let allowed = AllowedPrefixes()
        local = (RouterID(publicKey: localKey.bytes), mine)
        allowed.table = Self.table(peers: peers, local: local)
        self.allowed = allowed
        router = BabelRouter(routerID: RouterID(publicKey: localKey.bytes), configuration: configuration, now: now,
                             authorize: { originator, prefix in
                                 allowed.table[originator]?.contains { $0.covers(prefix) } ?? false
                             })
        originated = mine
        for p in mine { _ = router.originate(prefix: p, now: now) }  // no neighbour yet: nothing to send
    }

    /// The prefixes each known node may announce, read by the router's authorizer. A reference, so a reload can
    /// replace the peers (`setPeers`) under a running router; only this adapter writes it, on the engine's thread.
    final class AllowedPrefixes: @unchecked Sendable {
        var table: [RouterID: [BabelPrefix]] = [:]
    }
    let allowed: AllowedPrefixes
    let local: (RouterID, [BabelPrefix])

    static func table(peers: [MeshPeer], local: (RouterID, [BabelPrefix])) -> [RouterID: [BabelPrefix]] {
        var t: [RouterID: [BabelPrefix]] = [:]
        for p in peers {
            t[RouterID(publicKey: p.key.bytes), default: []] += allowedPrefixes(addresses: p.addresses, prefixes: p.prefixes)
        }
        t[local.0, default: []] += local.1
        return t
    }

    /// New configured peers (a reload): updates from now on are authorized against their addresses and prefixes.
    /// Routes already held are kept until they expire or are retracted.
    public func setPeers(_ peers: [MeshPeer]) {
        allowed.table = Self.table(peers: peers, local: local)
    }

    mutating func id(_ key: PublicKey) -> NeighbourID {
        if let i = ids[key] { return i }
        let i = NeighbourID(UInt32(truncatingIfNeeded: ids.count + 1))
        ids[key] = i
        keys[i] = key
        return i
    }

    func messages(_ actions: [BabelAction]) -> [MeshRoutingMessage] {
        var out: [MeshRoutingMessage] = []
        for a in actions {
            switch a {
            case .send(let bytes, let n):
                if let k = keys[n], up.contains(k) { out.append(MeshRoutingMessage(neighbour: k, bytes: bytes)) }
            case .sendToAll(let bytes):
                for n in router.neighbourIDs { if let k = keys[n], up.contains(k) { out.append(MeshRoutingMessage(neighbour: k, bytes: bytes)) } }
            case .routeChanged:
                break
            }
        }
        return out
    }

    public func nextHop(for destination: IPv4Address) -> PublicKey? {
        router.nextHop(for: destination).flatMap { keys[$0] }
    }

    public func alternateHop(for destination: IPv4Address, avoiding neighbour: PublicKey) -> PublicKey? {
        guard let avoid = ids[neighbour] else { return nextHop(for: destination) }
        return router.alternateHop(for: destination, avoiding: avoid).flatMap { keys[$0] }
    }

    public mutating func neighbourUp(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        guard !up.contains(neighbour) else { return [] }
        let i = id(neighbour)
        up.insert(neighbour)
        return messages(router.neighbourUp(i, now: now))
    }

    public mutating func neighbourDown(_ neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        guard up.remove(neighbour) != nil, let i = ids[neighbour] else { return [] }
        return messages(router.neighbourDown(i, now: now))
    }

    public mutating func receive(_ message: [UInt8], from neighbour: PublicKey, now: Instant) -> [MeshRoutingMessage] {
        // A routing message over a session the engine has not reported up (a responder's session before its first
        // use): the neighbour is up now.
        var out: [MeshRoutingMessage] = []
        if !up.contains(neighbour) { out = neighbourUp(neighbour, now: now) }
        return out + messages(router.receive(message, from: id(neighbour), now: now))
    }

    /// Announces one more prefix (the node's configuration; the neighbours still check it against this node's
    /// certificate).
    public mutating func originate(_ prefix: BabelPrefix, now: Instant) -> [MeshRoutingMessage] {
        messages(router.originate(prefix: prefix, now: now))
    }

    public mutating func tick(now: Instant) -> [MeshRoutingMessage] { messages(router.tick(now: now)) }

    public func nextDeadline() -> Instant? {
        let d = router.nextDeadline()
        return d == .distantFuture ? nil : d
    }

    /// Whether this node runs as a Babel leaf (announces only its own prefixes): a reload that turns relaying on or
    /// off. Routes it announced before becoming a leaf stay at its neighbours until their hold time runs out.
    public mutating func setLeaf(_ leaf: Bool) { router.configuration.leaf = leaf }

    /// The node key of a router neighbour id (for status).
    public func key(of neighbour: NeighbourID) -> PublicKey? { keys[neighbour] }

    /// The link cost and smoothed RTT the router measured to `neighbour` (nil when unknown).
    public func link(_ neighbour: PublicKey) -> (cost: UInt16, rtt: Duration?)? {
        guard let i = ids[neighbour], up.contains(neighbour) else { return nil }
        return (router.linkCost(i), router.smoothedRTT(i))
    }
}
