// Whitepaper §6 timers, as wireguard-go timers.go arms and fires them. Each timer is a deadline on the peer;
// `poll(now:)` fires the expired ones, `nextDeadline()` says when to call it next.

import Basics

extension WireGuardDevice {
    /// Fires every timer due at `now` (peers in order; per peer: retransmit, keepalive, new handshake,
    /// zero keys, persistent keepalive). Returns the datagrams this produced, with anything already queued.
    @discardableResult
    public func poll(now: Instant) -> [OutgoingDatagram] {
        for peer in peers {
            if let t = peer.timers.retransmitHandshake, t <= now {
                peer.timers.retransmitHandshake = nil
                expiredRetransmitHandshake(peer, now: now)
            }
            if let t = peer.timers.sendKeepalive, t <= now {
                peer.timers.sendKeepalive = nil
                sendKeepalive(peer, now: now)
                if peer.timers.needAnotherKeepalive {
                    peer.timers.needAnotherKeepalive = false
                    peer.timers.sendKeepalive = now + WireGuardConstants.keepaliveTimeout
                }
            }
            if let t = peer.timers.newHandshake, t <= now {
                peer.timers.newHandshake = nil
                // §6.5: no reply for Keepalive-Timeout + Rekey-Timeout after sending data: start a new handshake.
                sendHandshakeInitiation(peer, now: now, isRetry: false)
            }
            if let t = peer.timers.zeroKeyMaterial, t <= now {
                peer.timers.zeroKeyMaterial = nil
                // §6.3: after 3 × Reject-After-Time without a new session, all keys are zeroed.
                zeroAndFlushAll(peer)
            }
            if let t = peer.timers.persistentKeepalive, t <= now {
                peer.timers.persistentKeepalive = nil
                if peer.persistentKeepalive != nil { sendKeepalive(peer, now: now) }
            }
        }
        return takeOutgoing()
    }

    /// The earliest pending timer of any peer; nil when none is pending.
    public func nextDeadline() -> Instant? {
        var best: Instant? = nil
        for peer in peers {
            if let t = peer.timers.earliest, best == nil || t < best! { best = t }
        }
        return best
    }

    func expiredRetransmitHandshake(_ peer: Peer, now: Instant) {
        if peer.timers.handshakeAttempts > WireGuardConstants.maxTimerHandshakes {
            // §6.4: after Rekey-Attempt-Time, stop retrying and drop what waited for the session.
            peer.timers.sendKeepalive = nil
            flushStaged(peer)
            if peer.timers.zeroKeyMaterial == nil {
                peer.timers.zeroKeyMaterial = now + WireGuardConstants.zeroKeyMaterialAfter
            }
        } else {
            peer.timers.handshakeAttempts += 1
            sendHandshakeInitiation(peer, now: now, isRetry: true)
        }
    }

    /// After an authenticated data packet is sent.
    func timersDataSent(_ peer: Peer, now: Instant) {
        if peer.timers.newHandshake == nil {
            peer.timers.newHandshake = now + WireGuardConstants.keepaliveTimeout + WireGuardConstants.rekeyTimeout + jitter()
        }
    }

    /// After an authenticated data packet is received: §6.5 "if no packet has been sent for Keepalive-Timeout
    /// after receiving one, send a keepalive".
    func timersDataReceived(_ peer: Peer, now: Instant) {
        if peer.timers.sendKeepalive == nil {
            peer.timers.sendKeepalive = now + WireGuardConstants.keepaliveTimeout
        } else {
            peer.timers.needAnotherKeepalive = true
        }
    }

    /// After any authenticated packet is sent (keepalive, data or handshake).
    func timersAnyAuthenticatedPacketSent(_ peer: Peer) { peer.timers.sendKeepalive = nil }

    /// After any authenticated packet is received.
    func timersAnyAuthenticatedPacketReceived(_ peer: Peer) { peer.timers.newHandshake = nil }

    /// After a handshake initiation is sent: retransmit after Rekey-Timeout plus jitter (§6.4).
    func timersHandshakeInitiated(_ peer: Peer, now: Instant) {
        peer.timers.retransmitHandshake = now + WireGuardConstants.rekeyTimeout + jitter()
    }

    /// After a response is consumed, or the responder's session is confirmed by its first data.
    func timersHandshakeComplete(_ peer: Peer, now: Instant) {
        peer.timers.retransmitHandshake = nil
        peer.timers.handshakeAttempts = 0
        peer.timers.sentLastMinuteHandshake = false
        peer.lastHandshake = now
    }

    /// After a session is derived: zero everything if no newer one comes within 3 × Reject-After-Time.
    func timersSessionDerived(_ peer: Peer, now: Instant) {
        peer.timers.zeroKeyMaterial = now + WireGuardConstants.zeroKeyMaterialAfter
    }

    /// Before or after any authenticated packet: re-arm the persistent keepalive.
    func timersAnyAuthenticatedPacketTraversal(_ peer: Peer, now: Instant) {
        if let interval = peer.persistentKeepalive, interval > .zero {
            peer.timers.persistentKeepalive = now + interval
        }
    }
}
