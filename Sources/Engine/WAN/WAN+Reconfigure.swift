// The WAN's part of a reload (Bridge+Reconfigure.swift): the peer's endpoint and keepalive.
import Basics
import Wire
import WireGuard

extension WAN {
    /// Sends to `endpoint` from now on (nil: unchanged) and sets the WireGuard peer's persistent
    /// keepalive (nil: unchanged; `.some(nil)`: off). Sessions and NAT mappings stay.
    func reconfigurePeer(endpoint: SocketAddressV4?, keepalive: Duration??, now: Instant) {
        if let tunnel {
            guard let peer = tunnel.peerIDs.first else { return }
            tunnel.updatePeer(peer, endpoint: endpoint, persistentKeepalive: keepalive, now: now)
            if let endpoint { setEndpoint(endpoint) }
        } else if let endpoint {
            setEndpoint(endpoint)
        }
    }
}
