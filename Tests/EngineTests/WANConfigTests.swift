// The `wan:` section: the three types with their extensions, and the checks tying the WAN to the router.
import Basics
import Testing
import Datapath
import Wire
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
