// The bridge's WireGuard WAN with two peers behind different AllowedIPs (bridge.yml `allowed-ips:` and
// `peers:`), both Debian's wireguard-go, and the WAN on wg(8)'s UAPI socket: `wg show` lists both peers; `wg set`
// removes one and adds it back live while the other's session carries on.
//
//   guest ns ── TAP ── sluice bridge (ns u) ══ veth 192.0.2.0/24 ══ wireguard-go 1 (ns w1), tunnel 10.61.0.1/16
//   10.94.0.5          WAN 10.200.10.1/24,  ══ veth 198.51.100.0/24 ══ wireguard-go 2 (ns w2), tunnel 10.62.0.1/16
//                      NAT; peer 1 10.61.0.0/16, peer 2 10.62.0.0/16
import Foundation
import Testing

@Test func bridgeWANWithTwoPeersBehindDifferentAllowedIPs() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "ping", "wireguard-go", "wg"]) {
        print("SKIPPED bridgeWANWithTwoPeers: \(why)"); return
    }
    let dir = try temporaryDirectory("wan-two-peers")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["mpu", "mpw1", "mpw2", "mpg"])
    let tag = getpid() % 100000
    try joinByVeth(ns, 0, 1, names: ("smp\(tag)a", "smp\(tag)b"))
    try sh("ip link add smp\(tag)c netns \(ns[0]) type veth peer name smp\(tag)d netns \(ns[2])")
    try sh("ip -n \(ns[0]) addr add 198.51.100.1/24 dev smp\(tag)c && ip -n \(ns[0]) link set smp\(tag)c up")
    try sh("ip -n \(ns[2]) addr add 198.51.100.2/24 dev smp\(tag)d && ip -n \(ns[2]) link set smp\(tag)d up")
    let bridgeKeys = try wgKeyPair(), one = try wgKeyPair(), two = try wgKeyPair()
    func wireguardGo(_ index: Int, _ keys: (privateKey: String, publicKey: String), bridgeEndpoint: String) throws -> WireGuardGo {
        let go = try WireGuardGo(namespace: ns[index], interface: "smp\(index)w\(tag)", config: """
            [Interface]
            PrivateKey = \(keys.privateKey)
            ListenPort = 51820

            [Peer]
            PublicKey = \(bridgeKeys.publicKey)
            Endpoint = \(bridgeEndpoint)
            AllowedIPs = 10.200.10.1/32
            """, address: "10.6\(index).0.1/16", directory: dir)
        try sh("ip -n \(ns[index]) route add 10.200.10.1/32 dev \(go.interface)")
        return go
    }
    let go1 = try wireguardGo(1, one, bridgeEndpoint: "192.0.2.1:51820")
    let go2 = try wireguardGo(2, two, bridgeEndpoint: "198.51.100.1:51820")
    let wanName = "smpwan\(tag)"
    let tap = "smp\(tag)t"
    let bridge = try RunningBridge(namespace: ns[0], config: """
        name: two-peers
        router: { ipv4: 10.94.0.1/24, nat: true }
        wan:
          type: wireguard
          key: "\(bridgeKeys.privateKey)"
          interface: \(wanName)
          ipv4: 10.200.10.1/24
          listen-port: 51820
          peer: "\(one.publicKey)"
          endpoint: 192.0.2.2:51820
          allowed-ips: [10.61.0.0/16]
          peers:
            - { key: "\(two.publicKey)", allowed-ips: "10.62.0.0/16", endpoint: 198.51.100.2:51820 }
        taps: [ { name: \(tap), namespace: \(ns[3]) } ]
        control: \(dir)/bridge.ctl
        """, directory: dir, name: "bridge")
    guard bridge.waitForLog("interface=\(wanName) socket=") else { throw TestFailure("no UAPI socket: \(bridge.log)") }
    try sh("ip -n \(ns[3]) link set \(tap) up && ip -n \(ns[3]) addr add 10.94.0.5/24 dev \(tap) && ip -n \(ns[3]) route add default via 10.94.0.1")
    func ping(_ target: String, count: Int = 3) throws -> Bool {
        try sh("ip netns exec \(ns[3]) ping -c \(count) -i 0.2 -W 2 \(target)", allowFailure: true).contains("\(count) received")
    }

    // Each peer gets the traffic for its own networks.
    #expect(try ping("10.61.0.1"), "peer 1: \(bridge.log)")
    #expect(try ping("10.62.0.1"), "peer 2: \(bridge.log)")
    #expect(!(try ping("10.63.0.1", count: 1)), "no peer has 10.63.0.0/16")
    let show = try sh("ip netns exec \(ns[0]) wg show \(wanName)")
    #expect(show.contains("peer: \(one.publicKey)") && show.contains("allowed ips: 10.61.0.0/16")
            && show.contains("peer: \(two.publicKey)") && show.contains("allowed ips: 10.62.0.0/16")
            && show.contains("listening port: 51820"), "\(show)")
    let handshakes = try sh("ip netns exec \(ns[0]) wg show \(wanName) latest-handshakes")
    #expect(handshakes.split(separator: "\n").count == 2 && !handshakes.contains("\t0"), "\(handshakes)")
    let statistics = try bridge.stats()
    #expect(statistics.contains("wireguard: peer \(one.publicKey)") && statistics.contains("wireguard: peer \(two.publicKey)"), "\(statistics)")

    // Live through the UAPI: peer 2 goes (its traffic stops), peer 1 carries on in the same session.
    let go1Handshake = try go1.show("latest-handshakes")
    #expect(try sh("ip netns exec \(ns[0]) wg set \(wanName) peer \(two.publicKey) remove", allowFailure: true).isEmpty)
    #expect(!(try ping("10.62.0.1", count: 2)), "peer 2 was removed")
    #expect(try ping("10.61.0.1"))
    // And comes back with `wg set`, handshaking afresh.
    _ = try sh("ip netns exec \(ns[0]) wg set \(wanName) peer \(two.publicKey) allowed-ips 10.62.0.0/16 endpoint 198.51.100.2:51820")
    #expect(try ping("10.62.0.1"), "peer 2 back: \(bridge.log)")
    #expect(try go1.show("latest-handshakes") == go1Handshake, "peer 1's session was not renewed by changes to peer 2")
    // A bad set is refused whole: the port is bridge.yml's.
    let refused = try sh("ip netns exec \(ns[0]) wg set \(wanName) listen-port 4000 2>&1", allowFailure: true)
    #expect(refused.contains("Invalid argument"), "\(refused)")
    #expect(try ping("10.61.0.1") && ping("10.62.0.1"))
    _ = go2
    #expect(bridge.stop() == 0, "\(bridge.log)")
    #expect(access("/var/run/wireguard/\(wanName).sock", F_OK) != 0, "the bridge removed its UAPI socket")
}
