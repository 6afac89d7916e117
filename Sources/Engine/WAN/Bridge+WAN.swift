// The bridge's side of the WAN: the WAN becomes the router's last interface and default route,
// and drivers hand the bridge what arrives on the uplink.
import Basics
import Datapath
import Wire

extension Bridge {
    /// Adds the WAN interface and default route to `rc` and builds the WAN (with a NAT when
    /// `router.nat` is on: guests' subnets and statically routed networks are masqueraded).
    static func makeWAN(_ config: WANConfig, router: RouterConfig, routerConfiguration rc: inout RouterConfiguration,
                        setup: WANSetup) throws(EngineError) -> WAN {
        var nat: NATConfiguration?
        if router.nat {
            var n = NATConfiguration(externalAddress: config.ipv4?.address ?? UDPWANConfig.linkLocal.address)
            n.internalNetworks = router.interfaces.map(\.ipv4) + router.routes.map(\.destination)
            nat = n
        }
        let wan = try WAN(config, interface: rc.interfaces.count, nat: nat, setup: setup)
        rc.interfaces.append(RouterInterface(mac: wan.mac, network: wan.address, mtu: config.mtu))
        switch config {
        case .tap(let t):
            rc.defaultGateway = t.gateway
        case .wireguard, .udp:
            // Every neighbor on a point-to-point WAN is the peer (the WAN answers the router's
            // ARP), so the gateway is only a name for "into the tunnel": the subnet's first other host.
            let net = wan.address
            let first = IPv4Address(rawValue: net.networkAddress.rawValue &+ 1)
            rc.defaultGateway = first == net.address ? IPv4Address(rawValue: first.rawValue &+ 1) : first
        }
        return wan
    }

    /// A datagram that arrived on the WAN's UDP socket (wireguard, udp WANs): `buffer[0..<count]`
    /// from `source`. WireGuard decrypts it in place; the packet inside goes to the router.
    public func receiveWANDatagram(_ buffer: UnsafeMutableRawBufferPointer, count: Int, from source: SocketAddressV4, now: Instant) {
        guard let wan else { return }
        let frame = wan.receive(datagram: buffer, count: count, from: source, now: now)
        routeFromWAN(frame, now: now)
    }

    /// A frame that arrived on the TAP uplink (tap WAN); it may be rewritten in place.
    public func receiveWANFrame(_ frame: UnsafeMutableRawBufferPointer, now: Instant) {
        guard let wan else { return }
        let out = wan.receive(frame: frame, now: now)
        routeFromWAN(out, now: now)
    }

    func routeFromWAN(_ frame: UnsafeMutableRawBufferPointer?, now: Instant) {
        if let frame, let router, let wan {
            var output = RouterSink(bridge: self, now: now)
            let disposition = router.receive(frame, on: wan.interface, now: now, output: &output)
            outcomes.count(disposition)
            serveLocalDeliveries(now: now)
        }
        settleWAN(now: now)
        flushNotifications()
    }

    /// Feeds the router the ARP replies the WAN owes it (after the router's call has returned).
    func settleWAN(now: Instant) {
        guard let wan, let router else { return }
        while let frame = wan.nextProxyARPFrame() {
            var output = RouterSink(bridge: self, now: now)
            let disposition = router.receive(frame, on: wan.interface, now: now, output: &output)
            outcomes.count(disposition)
        }
    }
}
