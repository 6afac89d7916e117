// The `wan:` section: the three types with their extensions, and the checks tying the WAN to the router.
import Basics
import Testing
import Datapath
import Wire
import WireGuard
import YAMLSchema
@testable import Engine

@Test func wanTypesParseWithTheirExtensions() throws {
    let k = wanKeys(1), p = wanKeys(2)
    let wg = try BridgeConfig.parse("""
    router: { ipv4: 10.1.0.1/24 }
    wan: { type: wireguard, key: "\(k.privateKey)", peer: "\(p.publicKey)", ipv4: 10.200.0.2, listen-port: 51821, mtu: 1380, keepalive: 25s }
    """)
    guard case .wireguard(let w) = wg.wan else { Issue.record("not wireguard"); return }
    #expect(w.ipv4 == IPv4Network("10.200.0.2/24"))         // Oathgate's bare address: /24
    #expect(w.endpoint == nil && w.listenPort == 51821 && w.mtu == 1380 && w.persistentKeepalive == .seconds(25))
    #expect(wg.summary.contains("wan: wireguard 10.200.0.2/24 to (peer's first contact) from port 51821, mtu 1380, masquerading"))

    let psk = wanKeys(3).privateKey
    let forced = try BridgeConfig.parse("""
    router: { ipv4: 10.1.0.1/24 }
    wan: { type: wireguard, key: "\(k.privateKey)", peer: "\(p.publicKey)", ipv4: 10.200.0.2/24, preshared-key: "\(psk)", rekey-after-time: 30s, rekey-after-messages: 1000 }
    """)
    guard case .wireguard(let f) = forced.wan else { Issue.record("not wireguard"); return }
    #expect(f.presharedKey?.count == 32 && f.rekeyAfterTime == .seconds(30) && f.rekeyAfterMessages == 1000)
    #expect(forced.summary.contains { $0.contains("with a pre-shared key, rekey after 30.0 seconds") }, "\(forced.summary)")

    let udp = try BridgeConfig.parse("""
    router: { ipv4: 10.1.0.1/24, nat: false }
    wan: { type: udp, endpoint: 198.51.100.1:4000 }
    """)
    #expect(udp.wan == .udp(UDPWANConfig(endpoint: Endpoint(host: "198.51.100.1", port: 4000))))
    #expect(udp.wan?.mtu == 1472)
    #expect(udp.summary.contains("wan: udp 169.254.0.1/16 to 198.51.100.1:4000, mtu 1472, routed"))

    let tap = try BridgeConfig.parse("""
    router: { ipv4: 10.1.0.1/24 }
    wan: { type: tap, device: uplink0, ipv4: 192.0.2.7/24, gateway: 192.0.2.1 }
    """)
    #expect(tap.wan == .tap(TapWANConfig(device: "uplink0", ipv4: IPv4Network("192.0.2.7/24")!, gateway: IPv4Address(192, 0, 2, 1))))
    #expect(tap.wan?.ipv4.map { _ in tap.summary.contains("wan: tap uplink0 192.0.2.7/24 mac 02:5e:c0:00:02:07 gateway 192.0.2.1, mtu 1500, masquerading") } == true,
            "\(tap.summary)")
}

@Test(arguments: [
    ("wan: { type: udp, endpoint: 1.2.3.4:5, ipv4: 10.9.0.1/24 }\n", 1, "a WAN needs the router"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: udp, endpoint: 1.2.3.4:5 }\n", 2, "needs ipv4"),
    ("router: { ipv4: 10.200.0.1/16 }\nwan: { type: udp, endpoint: 1.2.3.4:5, ipv4: 10.200.7.1/24 }\n", 2, "overlaps interface 'lan'"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: tap, device: t0, ipv4: 192.0.2.7/24 }\n", 2, "missing required key 'gateway'"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: tap, device: t0, ipv4: 192.0.2.7/24, gateway: 198.51.100.1 }\n", 2, "is not another host on 192.0.2.7/24"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: tap, device: t0, ipv4: 192.0.2.7, gateway: 192.0.2.1 }\n", 2, "is not an address with a prefix"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: udp, endpoint: 1.2.3.4:5, ipv4: 10.9.0.0/24 }\n", 2, "cannot be an interface address"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: udp, endpoint: 1.2.3.4:5, ipv4: 10.9.0.1/24, device: x }\n", 2, "unknown key 'device'"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: wireguard, key: \"\(wanKeys(1).privateKey)\", peer: \"\(wanKeys(2).publicKey)\", ipv4: 10.9.0.1/24, rekey-after-time: 2s }\n", 2, "must be 5s…120s"),
    ("router: { ipv4: 10.1.0.1/24 }\nwan: { type: wireguard, key: \"\(wanKeys(1).privateKey)\", peer: \"\(wanKeys(2).publicKey)\", ipv4: 10.9.0.1/24, preshared-key: nope }\n", 2, "not a WireGuard key"),
])
func badWANConfigsAreLocated(text: String, line: Int, message: String) {
    do {
        _ = try BridgeConfig.parse(text, file: "wan.yml")
        Issue.record("accepted: \(text)")
    } catch {
        #expect(error.line == line, "\(error)")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.fix != nil, "no fix offered: \(error)")
    }
}

@Test func theWANIsTheRoutersLastInterfaceAndDefaultRoute() throws {
    let (a, _) = wireGuardConfigs(natA: true, natB: true)
    // No module below the driver picks system randomness: without a random source the WAN refuses to start.
    #expect(throws: EngineError.self) { _ = try Bridge(config: BridgeConfig.parse(a)) }
    let bridge = try Bridge(config: BridgeConfig.parse(a), wanSetup: WANSetup(random: SeededRandom(seed: 1)))
    let router = try #require(bridge.router), wan = try #require(bridge.wan)
    #expect(router.interfaces.count == 2 && wan.interface == 1 && bridge.segments.count == 1)
    #expect(router.interfaces[1].network == IPv4Network("10.200.0.1/24") && router.interfaces[1].mtu == 1420)
    // Point-to-point: no gateway address; the default route names the WAN interface.
    #expect(router.interfaces[1].medium == .pointToPoint && router.configuration.defaultGateway == nil)
    #expect(router.configuration.staticRoutes == [StaticRoute(destination: IPv4Network("0.0.0.0/0")!, interface: 1)])
    #expect(wan.nat?.configuration.externalAddress == IPv4Address(10, 200, 0, 1))
    #expect(wan.nat?.configuration.internalNetworks == [IPv4Network("10.1.0.1/24")!])
    #expect(wan.kind == .wireguard && wan.tunnel != nil)
}

@Test func aWireGuardWANTakesMorePeersEachWithItsAllowedIPs() throws {
    let k = wanKeys(1), p = wanKeys(2), q = wanKeys(3), r = wanKeys(4)
    let config = try BridgeConfig.parse("""
    name: br7
    router: { ipv4: 10.1.0.1/24 }
    wan:
      type: wireguard
      key: "\(k.privateKey)"
      peer: "\(p.publicKey)"
      allowed-ips: "10.61.0.0/16, 10.0.0.9/8"
      ipv4: 10.200.0.2/24
      interface: wan7
      peers:
        - { key: "\(q.publicKey)", allowed-ips: [10.62.0.0/16], endpoint: 198.51.100.2:51820, keepalive: 25s }
        - { key: "\(r.publicKey)", allowed-ips: 10.63.1.0/24 }
    """)
    guard case .wireguard(let w) = config.wan else { Issue.record("not wireguard"); return }
    #expect(w.allowedIPs == [IPv4Network("10.61.0.0/16")!, IPv4Network("10.0.0.0/8")!], "normalized to the network")
    #expect(w.interface == "wan7" && w.peers.count == 2)
    #expect(w.peers[0].allowedIPs == [IPv4Network("10.62.0.0/16")!] && w.peers[0].persistentKeepalive == .seconds(25)
            && w.peers[0].endpoint == SocketAddressV4("198.51.100.2:51820"))
    #expect(w.peers[1].allowedIPs == [IPv4Network("10.63.1.0/24")!] && w.peers[1].endpoint == nil)
    // The WAN's device routes each network to its peer; an address no peer has goes nowhere.
    let bridge = try Bridge(config: config, wanSetup: WANSetup(random: SeededRandom(seed: 1)))
    let device = try #require(bridge.wan?.tunnel)
    #expect(device.peerIDs.count == 3)
    let owner = { (a: String) in device.allowedIPs.lookup(IPv4Address(a)!).map { device.status(of: PeerID(rawValue: $0)).publicKey.base64 } }
    #expect(owner("10.62.3.4") == q.publicKey && owner("10.63.1.9") == r.publicKey && owner("10.61.0.1") == p.publicKey)
    #expect(owner("10.9.9.9") == p.publicKey && owner("192.0.2.1") == nil)
    // The single-peer form keeps its default route.
    let single = try BridgeConfig.parse("router: { ipv4: 10.1.0.1/24 }\nwan: { type: wireguard, key: \"\(k.privateKey)\", peer: \"\(p.publicKey)\", ipv4: 10.9.0.1/24 }\n")
    guard case .wireguard(let s) = single.wan else { Issue.record("not wireguard"); return }
    #expect(s.allowedIPs == [IPv4Network("0.0.0.0/0")!] && s.peers.isEmpty && s.interface == nil)
}

@Test(arguments: [
    ("peers: [ { key: \"\(wanKeys(2).publicKey)\", allowed-ips: [10.5.0.0/16] } ]", "listed twice"),
    ("peers: [ { key: \"\(wanKeys(3).publicKey)\" } ]", "missing required key 'allowed-ips'"),
    ("peers: [ { key: \"\(wanKeys(3).publicKey)\", allowed-ips: [10.5.0.0/33] } ]", "is not an IPv4 network"),
    ("peers: [ { key: \"\(wanKeys(3).publicKey)\", allowed-ips: [fd00::/8] } ]", "is not an IPv4 network"),
    ("peers: [ { key: \"\(wanKeys(3).publicKey)\", allowed-ips: [10.5.0.0/16], endpoint: vpn.example:51820 } ]", "must be an IPv4 address"),
    ("peers: [ { key: \"\(wanKeys(3).publicKey)\", allowed-ips: [10.5.0.0/16], mtu: 1 } ]", "unknown key 'mtu'"),
    ("interface: a-name-much-too-long", "is not an interface name"),
])
func badWireGuardPeersAreLocated(extra: String, message: String) {
    let text = "router: { ipv4: 10.1.0.1/24 }\nwan: { type: wireguard, key: \"\(wanKeys(1).privateKey)\", peer: \"\(wanKeys(2).publicKey)\", ipv4: 10.9.0.1/24, \(extra) }\n"
    do {
        _ = try BridgeConfig.parse(text, file: "wan.yml")
        Issue.record("accepted: \(text)")
    } catch {
        #expect(error.line == 2 && error.description.contains(message) && error.fix != nil, "\(error)")
    }
}
