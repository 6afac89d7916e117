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
        switch config {
        case .tap(let t):
            rc.interfaces.append(RouterInterface(mac: t.mac, network: wan.address, mtu: config.mtu))
            rc.defaultGateway = t.gateway
        case .wireguard, .udp:
            // A point-to-point interface: the default route names it, and its other end (the
            // peer) is the next hop of everything sent there.
            rc.interfaces.append(.pointToPoint(network: wan.address, mtu: config.mtu))
            rc.staticRoutes.append(StaticRoute(destination: IPv4Network(address: .any, prefixLength: 0)!, interface: wan.interface))
        }
        return wan
    }

    /// A datagram that arrived on the WAN's UDP socket (wireguard, udp WANs): `buffer[0..<count]`
    /// from `source`. WireGuard decrypts it in place; the packet inside goes to the router where it lies.
    public func receiveWANDatagram(_ buffer: UnsafeMutableRawBufferPointer, count: Int, from source: SocketAddressV4, now: Instant) {
        guard let wan else { return }
        if impairmentAgenda != nil { advanceImpairments(to: now) }
        if let packet = wan.receive(datagram: buffer, count: count, from: source, now: now), let router {
            var output = RouterSink(bridge: self, now: now)
            outcomes.count(router.receive(packet: packet, on: wan.interface, now: now, output: &output))
            serveLocalDeliveries(now: now)
        }
        flushNotifications()
    }

    /// A frame that arrived on the TAP uplink (tap WAN); it may be rewritten in place.
    public func receiveWANFrame(_ frame: UnsafeMutableRawBufferPointer, now: Instant) {
        guard let wan else { return }
        if impairmentAgenda != nil { advanceImpairments(to: now) }
        if let frame = wan.receive(frame: frame, now: now), let router {
            var output = RouterSink(bridge: self, now: now)
            outcomes.count(router.receive(frame, on: wan.interface, now: now, output: &output))
            serveLocalDeliveries(now: now)
        }
        flushNotifications()
    }
}
