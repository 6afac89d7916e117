// Changing a running device (wireguard-go device.go SetPrivateKey, RemovePeer, RemoveAllPeers; uapi.go's peer
// keys): the operations the cross-platform configuration protocol (ConfigurationProtocol.swift) applies. Each is a
// cold path; peers that a change does not name keep their sessions, timers and counters.

import Basics
import Crypto
import Wire

/// Changes to one peer, each optional (nil: leave as it is).
public struct PeerUpdate: Sendable {
    /// A new pre-shared key; a zero key means none (as `preshared_key=0…0`).
    public var presharedKey: SecretKey?
    public var endpoint: SocketAddressV4?
    /// Seconds; 0 turns the persistent keepalive off.
    public var persistentKeepaliveSeconds: UInt16?
    /// Forget the peer's allowed IPs before adding `allowedIPs`.
    public var replaceAllowedIPs = false
    /// Networks added to the peer (taken from any peer that had them).
    public var allowedIPs: [IPv4Network] = []

    public init(presharedKey: SecretKey? = nil, endpoint: SocketAddressV4? = nil, persistentKeepaliveSeconds: UInt16? = nil,
                replaceAllowedIPs: Bool = false, allowedIPs: [IPv4Network] = []) {
        self.presharedKey = presharedKey; self.endpoint = endpoint
        self.persistentKeepaliveSeconds = persistentKeepaliveSeconds
        self.replaceAllowedIPs = replaceAllowedIPs; self.allowedIPs = allowedIPs
    }
}

extension WireGuardDevice {
    /// Sets the interface's private key (nil or a zero key: none — no handshakes until one is set). A new key
    /// forgets every session (they were keyed to the old identity), as wireguard-go's SetPrivateKey expires them; a
    /// peer whose public key is the new identity's is removed. The same key again changes nothing.
    public func setPrivateKey(_ key: SecretKey?) {
        let key = key.flatMap { $0.isZero ? nil : $0 }
        if let key, hasPrivateKey, key == identity.privateKey { return }
        if key == nil, !hasPrivateKey { return }
        let pair = KeyPair(privateKey: key ?? SecretKey())
        identity = pair
        publicKey = pair.publicKey
        hasPrivateKey = key != nil
        cookieChecker = CookieChecker(localPublicKey: pair.publicKey)
        if hasPrivateKey, peerByKey[pair.publicKey] != nil { removePeer(pair.publicKey) }
        for peer in peers where !peer.isRemoved {
            let psk = peer.handshake.presharedKey.copy()
            zeroAndFlushAll(peer)
            peer.handshake = Handshake(localStatic: pair, remoteStatic: peer.publicKey, presharedKey: psk)
            peer.timers = PeerTimers()
        }
    }

    /// Removes the peer with `publicKey` (nothing if there is none): its sessions are wiped, its receiver indices
    /// retired, its allowed IPs unrouted, its staged packets dropped. Its number is reused by the next peer added.
    public func removePeer(_ publicKey: PublicKey) {
        guard let index = peerByKey[publicKey] else { return }
        let peer = peers[index]
        zeroAndFlushAll(peer)
        peer.timers = PeerTimers()
        peer.isRemoved = true
        peerByKey[publicKey] = nil
        var newRoutes = routes
        newRoutes.remove(peer: index)
        routes = newRoutes.compacted()
    }

    /// Removes every peer (`replace_peers=true`).
    public func removeAllPeers() {
        for peer in peers where !peer.isRemoved { removePeer(peer.publicKey) }
        // Nothing is left to reuse: start from empty, so the arrays shrink too.
        peers = []
        routes = AllowedIPs()
    }

    /// Creates the peer with `publicKey` if needed (nil when the key is our own), then applies `update`. Returns the
    /// peer and whether it was created. Sessions survive every change but a new pre-shared key, which applies from
    /// the next handshake on (as wireguard-go).
    @discardableResult
    public func configurePeer(_ publicKey: PublicKey, _ update: PeerUpdate, now: Instant) -> (peer: PeerID, created: Bool)? {
        var created = false
        if peerByKey[publicKey] == nil {
            guard addPeer(PeerConfiguration(publicKey: publicKey)) != nil else { return nil }
            created = true
        }
        let index = peerByKey[publicKey]!
        let peer = peers[index]
        if let psk = update.presharedKey {
            if psk.isZero { peer.handshake.presharedKey.wipe() } else { peer.handshake.presharedKey.assign(psk) }
        }
        if let endpoint = update.endpoint { peer.endpoint = endpoint }
        if let seconds = update.persistentKeepaliveSeconds {
            let wasOff = peer.persistentKeepalive == nil
            peer.persistentKeepalive = seconds == 0 ? nil : .seconds(Int64(seconds))
            if seconds == 0 { peer.timers.persistentKeepalive = nil }
            // wireguard-go: turning the keepalive on sends one at once (when the peer has somewhere to send it).
            if wasOff, seconds != 0, peer.endpoint != nil { sendKeepalive(peer, now: now) }
        }
        if update.replaceAllowedIPs || !update.allowedIPs.isEmpty {
            var newRoutes = routes
            // A new peer has no networks yet (wg setconf sends replace_allowed_ips for every peer).
            if update.replaceAllowedIPs, !created { newRoutes.remove(peer: index) }
            for network in update.allowedIPs { newRoutes.insert(network, peer: index) }
            routes = newRoutes
        }
        return (PeerID(rawValue: index), created)
    }

    /// The peer's persistent keepalive interval in seconds (0: off), its pre-shared key (zero: none).
    func persistentKeepaliveSeconds(of peer: Peer) -> UInt64 {
        peer.persistentKeepalive.map { UInt64($0.components.seconds) } ?? 0
    }
}
