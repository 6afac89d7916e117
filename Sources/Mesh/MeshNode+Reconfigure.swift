// Changing a running node's configured peers (docs/mesh.md, "Reload"): what `sluice mesh up` does on SIGHUP with a
// re-read registry. Kept apart from the engine's packet paths (MeshNode.swift): it only edits the peer table.
//
// - A peer that is still configured keeps its state: its sessions (current and next), counters, staged packets and
//   path. A new endpoint replaces the old one (like roaming) and clears the direct-path failure state, so the new
//   endpoint is tried at once; new names, addresses and prefixes count from now on.
// - A peer no longer configured is forgotten: its sessions are closed (keys wiped by the handshaker), what waited
//   for it is dropped and counted (`stagedOverflow`), and routing hears the neighbour went down. A node whose
//   certificate is still valid may handshake in again later (it then comes back as a peer learned from its
//   certificate, as any unconfigured node does); to keep it out, revoke it.
// - A new peer is added; nothing is sent to it until traffic (or `connect`) needs a session.

import Basics
import Crypto
import Wire

/// What `MeshNode.reconfigure` changed, by node key, in configuration order.
public struct MeshPeerChanges: Equatable, Sendable {
    public var added: [PublicKey] = []
    public var removed: [PublicKey] = []
    /// Still configured, with another endpoint, name, addresses or prefixes.
    public var changed: [PublicKey] = []
    public var unchanged: [PublicKey] = []
    public init() {}
    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}

extension MeshNode {
    /// Replaces the configured peers and the relay setting without touching sessions to peers that stay.
    /// Returns what changed and the datagrams to send (routing's reaction to removed neighbours).
    public func reconfigure(peers newPeers: [MeshPeer], relay: Bool, now: Instant) -> (MeshPeerChanges, [MeshNodeAction]) {
        self.now = now
        var changes = MeshPeerChanges()
        let wanted = newPeers.filter { $0.key != localKey }
        var wantedKeys = Set<PublicKey>()
        for p in wanted { wantedKeys.insert(p.key) }
        let configuredBefore = Set(configuration.peers.map(\.key))

        // Removed: configured before, not now.
        for key in order where configuredBefore.contains(key) && !wantedKeys.contains(key) {
            changes.removed.append(key)
        }
        for key in changes.removed { forgetPeer(key) }

        for p in wanted {
            guard let s = peers[p.key] else {
                addPeer(p)
                changes.added.append(p.key)
                continue
            }
            var changed = false
            if s.name != p.name { s.name = p.name; changed = true }
            if s.addresses != p.addresses { s.addresses = p.addresses; changed = true }
            if s.prefixes != p.prefixes { s.prefixes = p.prefixes; changed = true }
            if let e = p.endpoint, s.endpoint != e {
                // A configured endpoint replaces the one in use; the failure state of the old one does not carry over.
                s.endpoint = e
                s.unansweredSince = nil
                if s.directDown {
                    s.directDown = false
                    s.nextProbeAt = nil
                }
                changed = true
            }
            // No endpoint configured any more (behind NAT now): the one it last used is kept until it roams.
            if changed { changes.changed.append(p.key) } else { changes.unchanged.append(p.key) }
        }
        configuration.peers = wanted
        configuration.relay = relay
        ownership = nil
        return (changes, take())
    }

    /// Starts a handshake with every peer that has an endpoint and no usable session (a node running a routing
    /// protocol wants every neighbour up, not only those traffic needs). Returns what to send.
    public func connect(now: Instant) -> [MeshNodeAction] {
        self.now = now
        for key in order {
            let p = peers[key]!
            if p.endpoint != nil, usable(p.current) == nil, p.handshakeStarted == nil { initiate(p, retry: false) }
        }
        return take()
    }

    /// The peers the node holds, configured or learned from a certificate, in the order they were added.
    public var peerKeys: [PublicKey] { order }

    func forgetPeer(_ key: PublicKey) {
        guard let p = peers[key] else { return }
        for s in [p.current, p.next] { if let s { handshaker.remove(s) } }
        p.current = nil; p.next = nil
        for _ in 0..<(p.staged.count + p.stagedHop.count) { handshaker.countDrop(.stagedOverflow) }
        p.staged = []; p.stagedHop = []
        for m in routing.neighbourDown(key, now: now) { sendRouting(m) }
        peers[key] = nil
        order.removeAll { $0 == key }
        ownership = nil
    }
}
