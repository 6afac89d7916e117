// Live reconfiguration of a peer (`sluice bridge --reload`, as `wg set wg0 peer … endpoint …
// persistent-keepalive …` does): where to send and how often to keep the path warm. The peer's
// keys, sessions and allowed IPs stay as they are.
import Basics
import Wire

extension WireGuardDevice {
    /// Points `peer` at `endpoint` (nil keeps the endpoint it has, learned or configured) and sets
    /// its persistent keepalive (`.some(nil)` turns it off; nil leaves it; a new interval makes
    /// the next one due that long after `now`). An unknown peer is ignored.
    public func updatePeer(_ peer: PeerID, endpoint: SocketAddressV4?, persistentKeepalive: Duration??, now: Instant) {
        guard peers.indices.contains(peer.rawValue) else { return }
        let p = peers[peer.rawValue]
        if let endpoint { p.endpoint = endpoint }
        guard let keepalive = persistentKeepalive else { return }
        p.persistentKeepalive = keepalive
        if let interval = keepalive, interval > .zero {
            p.timers.persistentKeepalive = now + interval
        } else {
            p.timers.persistentKeepalive = nil
        }
    }
}
