// SIGHUP (docs/mesh.md, "Reload"): mesh.yml, registry.json and the revocation list are read again and applied to
// the running node without dropping the sessions of peers that stay.
//
//   peers      added, removed (sessions closed), changed (endpoint, name, addresses, prefixes): MeshNode.reconfigure
//   relays     the relay flag of this node and the registry's relays (static routing's failover order)
//   routing    static routes rebuilt; Babel authorizes updates against the new peers
//   routes     routes to the interface added and deleted to match the new peers
//   certificate a renewed chain for the same key: handshakes from now on present it (MeshHandshaker.renew)
//   revocations each list newer than the one held is applied (sessions of revoked peers closed) and flooded
//
// What a running agent cannot change — the key, roots, interface name, MTU, address, port, control socket,
// routing kind, offloads — is kept, and the log says a restart is needed. A file that does not load changes nothing.

import Basics
import Crypto
import Foundation
import Mesh
import Wire

extension MeshAgent {
    func reload() {
        let now = clock.now()
        let fresh: MeshAgentConfiguration
        do { fresh = try MeshAgentConfiguration.load(path: configuration.path, now: Int64(Date().timeIntervalSince1970)) } catch {
            reloadFailures &+= 1
            log("\(tun.name): SIGHUP: reload failed, the running configuration stays: \(error)".replacingOccurrences(of: "\n", with: " "))
            return
        }
        let old = configuration
        var kept: [String] = []
        if fresh.identity.staticKey.publicKey != old.identity.staticKey.publicKey { kept.append("private-key") }
        if fresh.verifier.anchors != old.verifier.anchors { kept.append("roots") }
        if fresh.tunName != old.tunName { kept.append("tun") }
        if fresh.mtu != old.mtu { kept.append("mtu") }
        if fresh.address != old.address { kept.append("address") }
        if fresh.listenPort != old.listenPort { kept.append("listen-port") }
        if fresh.controlPath != old.controlPath { kept.append("control") }
        if fresh.routing != old.routing { kept.append("routing") }
        if fresh.tunOffload != old.tunOffload { kept.append("tun-offload") }
        if fresh.udpOffload != old.udpOffload { kept.append("udp-offload") }

        var applied = fresh
        applied.tunName = old.tunName; applied.mtu = old.mtu; applied.address = old.address
        applied.listenPort = old.listenPort; applied.controlPath = old.controlPath; applied.routing = old.routing
        applied.tunOffload = old.tunOffload; applied.udpOffload = old.udpOffload
        if kept.contains("private-key") { applied.identity = old.identity }
        if kept.contains("roots") { applied.verifier = old.verifier }

        // A renewed certificate for the same key.
        var renewed = false
        if !kept.contains("private-key"), applied.identity.chain != old.identity.chain {
            renewed = node.handshaker.renew(applied.identity)
        }
        let relaying = applied.relay && applied.identity.chain.first?.fields.capabilities.contains(.relay) == true
        node.routing.setPeers(applied.peers, relays: applied.relays, relaying: relaying)
        let (changes, actions) = node.reconfigure(peers: applied.peers, relay: applied.relay, now: now)
        perform(actions)
        // Revocation lists newer than those held: applied, sessions closed, flooded to the neighbours.
        var revoked = 0
        if !kept.contains("roots") {
            let before = node.handshaker.verifier.revocations
            for list in applied.verifier.revocations.lists.values.sorted(by: { $0.sequence < $1.sequence }) {
                perform(node.receiveRevocationList(list, now: now))
            }
            if node.handshaker.verifier.revocations != before { revoked = 1 }
        }
        configuration = applied
        updateRoutes()
        // New peers with Babel: brought up like those at start.
        if node.routing.kind == .babel, !changes.added.isEmpty || !changes.changed.isEmpty { perform(node.connect(now: now)) }
        armNodeTimer()
        reloads &+= 1
        func names(_ keys: [PublicKey]) -> String {
            keys.isEmpty ? "none" : keys.map { k in applied.peers.first { $0.key == k }?.name ?? old.peers.first { $0.key == k }?.name ?? k.base64 }
                .joined(separator: ",")
        }
        log("\(tun.name): SIGHUP: reloaded \(configuration.path): peers added \(names(changes.added)), removed \(names(changes.removed)), "
            + "changed \(names(changes.changed)), unchanged \(changes.unchanged.count), relay \(node.isRelay ? "on" : "off"), "
            + "certificate \(renewed ? "renewed" : "unchanged"), revocations \(revoked > 0 ? "updated" : "unchanged")"
            + (kept.isEmpty ? "" : "; not applied (restart to change): \(kept.joined(separator: ", "))"))
    }

    /// Adds and deletes routes to the interface so they match the running configuration's peers.
    func updateRoutes() {
        let (wanted, warnings) = Self.routes(for: configuration)
        for w in warnings { log("warning: \(w)") }
        for route in routes where !wanted.contains(route) {
            try? LinkSetup.ip(["route", "del", "\(route)", "dev", tun.name])
        }
        var installed: [IPv4Network] = []
        for route in wanted {
            do {
                try LinkSetup.ip(["route", "replace", "\(route)", "dev", tun.name])
                installed.append(route)
            } catch { log("warning: route \(route): \(error)") }
        }
        routes = installed
    }
}
