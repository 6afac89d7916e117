// `sluice bridge` with a WireGuard WAN whose peer is the real thing: Debian's wireguard-go, set up
// with wireguard-tools, in a network namespace across a veth. A host on a TAP port of the bridge
// (in a namespace of its own) is the guest behind the WAN.
//
//   guest ns ── TAP ── sluice bridge (ns "u", 192.0.2.1:51820) ══ veth ══ wireguard-go (ns "w", 192.0.2.2)
//   10.93.0.5          router 10.93.0.1, WAN 10.200.8.1/24, NAT          tunnel address 10.200.8.2/24
//
// A QEMU guest on the bridge's vhost-user socket takes a lease and pings through the tunnel too.
//
// Interop: handshake with a pre-shared key, ping both ways, iperf3 TCP both ways, forced rekeys
// (rekey-after-time: 5s), wireguard-go roaming to a new address and port. Bad input: garbage,
// truncated, wrongly keyed and replayed datagrams on the bridge's port, and a handshake flood that
// must be answered with cookie replies — all counted, nothing crashes, the tunnel keeps working.
import Foundation
import QEMU
import Testing

/// wireguard-go running in the foreground in a namespace, configured with `wg setconf`.
final class WireGuardGo {
    let process = Process()
    let namespace: String
    let interface: String

    init(namespace: String, interface: String, config: String, address: String, directory: String) throws {
        self.namespace = namespace; self.interface = interface
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "env", "WG_PROCESS_FOREGROUND=1", "wireguard-go", "-f", interface]
        process.standardOutput = FileHandle.nullDevice; process.standardError = FileHandle.nullDevice
        try process.run()
        var socketUp = false
        for _ in 0..<100 where !socketUp {
            socketUp = FileManager.default.fileExists(atPath: "/var/run/wireguard/\(interface).sock")
            if !socketUp { Thread.sleep(forTimeInterval: 0.1) }
        }
        guard socketUp else { throw TestFailure("wireguard-go did not create its socket") }
        try config.write(toFile: "\(directory)/\(interface).conf", atomically: true, encoding: .utf8)
        try sh("ip netns exec \(namespace) wg setconf \(interface) \(directory)/\(interface).conf")
        try sh("ip -n \(namespace) addr add \(address) dev \(interface) && ip -n \(namespace) link set \(interface) mtu 1420 up")
    }

    /// `wg show <interface> <what>` in the namespace.
    func show(_ what: String) throws -> String { try sh("ip netns exec \(namespace) wg show \(interface) \(what)") }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The topology above, up and pinging once; `label` keeps names apart between tests.
final class BridgeFacingWireGuardGo {
    let dir: String
    let ns: Namespaces
    let tag: Int32
    let wireguardGo: WireGuardGo
    let bridge: RunningBridge
    let bridgeKeys: (privateKey: String, publicKey: String)
    /// The veth ends: in the bridge's namespace, in wireguard-go's.
    let vethBridge: String, vethPeer: String
    /// The bridge's vhost-user socket, for QEMU guests.
    var vhostUserSocket: String { dir + "/vm.sock" }

    init(label: String, wanExtras: String) throws {
        dir = try temporaryDirectory("wan-wggo-\(label)")
        ns = try Namespaces(["\(label)u", "\(label)w", "\(label)g"])
        tag = getpid() % 100000
        vethBridge = "s\(label)v\(tag)a"; vethPeer = "s\(label)v\(tag)b"
        try joinByVeth(ns, 0, 1, names: (vethBridge, vethPeer))
        bridgeKeys = try wgKeyPair()
        let peer = try wgKeyPair()
        let psk = try sh("wg genpsk").trimmingCharacters(in: .whitespacesAndNewlines)
        wireguardGo = try WireGuardGo(namespace: ns[1], interface: "s\(label)w\(tag)", config: """
        [Interface]
        PrivateKey = \(peer.privateKey)
        ListenPort = 51820

        [Peer]
        PublicKey = \(bridgeKeys.publicKey)
        PresharedKey = \(psk)
        Endpoint = 192.0.2.1:51820
        AllowedIPs = 10.200.8.0/24
        """, address: "10.200.8.2/24", directory: dir)
        let tap = "s\(label)t\(tag)"
        bridge = try RunningBridge(namespace: ns[0], config: """
        name: wg-go-\(label)
        router: { ipv4: 10.93.0.1/24, nat: true, dhcp: { start: 10.93.0.100, end: 10.93.0.120 } }
        vhost-user: [ { socket: \(dir)/vm.sock } ]
        wan: { type: wireguard, key: "\(bridgeKeys.privateKey)", peer: "\(peer.publicKey)", preshared-key: "\(psk)", endpoint: 192.0.2.2:51820, listen-port: 51820, ipv4: 10.200.8.1/24\(wanExtras) }
        taps: [ { name: \(tap), namespace: \(ns[2]) } ]
        control: \(dir)/bridge.ctl
        """, directory: dir, name: "bridge")
        guard bridge.waitForLog("WAN open ") else { throw TestFailure("the bridge did not start its WAN: \(bridge.log)") }
        try sh("ip -n \(ns[2]) link set \(tap) up && ip -n \(ns[2]) addr add 10.93.0.5/24 dev \(tap) && ip -n \(ns[2]) route add default via 10.93.0.1")
    }

    /// `ping` from namespace `index`; the whole output.
    func ping(from index: Int, _ target: String, count: Int, interval: Double = 0.2) throws -> String {
        try sh("ip netns exec \(ns[index]) ping -c \(count) -i \(interval) -W 2 \(target)", allowFailure: true)
    }

    func stats() throws -> String { try bridge.stats() }

    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

/// The bridge's "sessions derived N" from --stats.
func sessionsDerived(_ stats: String) -> Int {
    stats.firstMatch(of: /sessions derived (\d+)/).flatMap { Int($0.1) } ?? 0
}

/// iperf3 TCP for `seconds` from the guest to a server in wireguard-go's namespace (`reverse`:
/// the server sends). Returns Gbit/s received, or nil with iperf3's output.
func iperf3ThroughTunnel(_ t: BridgeFacingWireGuardGo, reverse: Bool, seconds: Int = 3) throws -> (gbps: Double?, output: String) {
    let server = Process()
    server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    server.arguments = ["netns", "exec", t.ns[1], "iperf3", "-s", "-1", "-B", "10.200.8.2", "-p", "5310"]
    server.standardOutput = FileHandle.nullDevice; server.standardError = FileHandle.nullDevice
    try server.run()
    defer { if server.isRunning { server.terminate() }; server.waitUntilExit() }
    var output = ""
    for _ in 0..<20 {   // until the server listens
        output = try sh("ip netns exec \(t.ns[2]) iperf3 -c 10.200.8.2 -p 5310 -t \(seconds) -J\(reverse ? " -R" : "")", allowFailure: true)
        if !output.contains("Connection refused") { break }
        Thread.sleep(forTimeInterval: 0.2)
    }
    guard let json = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
          let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
          let bps = received["bits_per_second"] as? Double else { return (nil, output) }
    return (bps / 1e9, output)
}

@Test func bridgeWANInteroperatesWithWireGuardGo() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "ping", "wireguard-go", "wg", "iperf3"]) {
        print("SKIPPED bridgeWANWithWireGuardGo: \(why)"); return
    }
    // Forced rekeys: the bridge starts a new handshake when it sends on a session older than 5 s.
    let t = try BridgeFacingWireGuardGo(label: "x", wanExtras: ", rekey-after-time: 5s")

    // Handshake (with the pre-shared key on both sides) on the guest's first packet; then 14 s of
    // pings across at least two forced rekeys: none may be lost.
    let first = try t.ping(from: 2, "10.200.8.2", count: 3)
    #expect(first.contains("3 packets transmitted, 3 received"), "\(first)\n\(t.bridge.log)")
    let before = sessionsDerived(try t.stats())
    let across = try t.ping(from: 2, "10.200.8.2", count: 50, interval: 0.28)
    let after = try t.stats()
    #expect(across.contains("50 packets transmitted, 50 received"), "pings across rekeys: \(across)")
    #expect(sessionsDerived(after) >= before + 2, "forced rekeys: sessions \(before) → \(sessionsDerived(after))\n\(after)")
    print("bridgeWANWithWireGuardGo: sessions derived \(before) → \(sessionsDerived(after)) over 14 s of pings; "
          + (across.split(separator: "\n").last.map(String.init) ?? ""))

    // The other way: wireguard-go's side reaches the bridge's router through the tunnel.
    let back = try t.ping(from: 1, "10.200.8.1", count: 3)
    #expect(back.contains("3 packets transmitted, 3 received"), "\(back)")

    // iperf3 TCP both ways (the guest is masqueraded behind 10.200.8.1, so the guest connects and
    // -R makes the far side send).
    let up = try iperf3ThroughTunnel(t, reverse: false)
    let down = try iperf3ThroughTunnel(t, reverse: true)
    #expect((up.gbps ?? 0) > 0, "guest → wireguard-go: \(up.output.suffix(600))")
    #expect((down.gbps ?? 0) > 0, "wireguard-go → guest: \(down.output.suffix(600))")
    print("bridgeWANWithWireGuardGo: iperf3 TCP guest → wireguard-go \(up.gbps ?? 0) Gbit/s, wireguard-go → guest \(down.gbps ?? 0) Gbit/s")

    // Roaming: wireguard-go moves to another address and port. Its next packet comes from there;
    // the bridge follows (its replies would go nowhere otherwise).
    try sh("ip netns exec \(t.ns[1]) wg set \(t.wireguardGo.interface) listen-port 51821")
    // (Deleted first: deleting a primary address takes its secondaries with it.)
    try sh("ip -n \(t.ns[1]) addr del 192.0.2.2/24 dev \(t.vethPeer) && ip -n \(t.ns[1]) addr add 192.0.2.3/24 dev \(t.vethPeer)")
    let roamed = try t.ping(from: 1, "10.200.8.1", count: 3)
    let statsAtRoam = try t.stats()
    #expect(roamed.contains("3 packets transmitted, 3 received"), "after roaming: \(roamed)\n\(statsAtRoam)")
    let guestAfterRoam = try t.ping(from: 2, "10.200.8.2", count: 3)
    #expect(guestAfterRoam.contains("3 packets transmitted, 3 received"), "\(guestAfterRoam)")
    let roamedStats = try t.stats()
    #expect(roamedStats.contains("endpoint 192.0.2.3:51821"), "the bridge did not follow: \(roamedStats)")

    let handshakes = try t.wireguardGo.show("latest-handshakes")
    #expect(!handshakes.isEmpty && !handshakes.contains("\t0\n"), "wireguard-go saw no handshake: \(handshakes)")
    print("bridge stats after interop:\n" + roamedStats)
    #expect(t.bridge.stop() == 0, "\(t.bridge.log)")
}

@Test func bridgeWireGuardPortCountsBadInputAndAnswersAFloodWithCookies() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "ping", "wireguard-go", "wg", "tshark", "python3"]) {
        print("SKIPPED bridgeWireGuardPortBadInput: \(why)"); return
    }
    let t = try BridgeFacingWireGuardGo(label: "y", wanExtras: "")
    // Record wireguard-go's transport messages to the bridge while the guest pings: replay material.
    let capture = try VethCapture(namespace: t.ns[1], interface: t.vethPeer, file: t.dir + "/peer.pcap", seconds: 6)
    #expect(capture.waitUntilCapturing(), "tshark did not start capturing")
    Thread.sleep(forTimeInterval: 1)   // dumpcap may start a moment after tshark says so
    let p = try t.ping(from: 2, "10.200.8.2", count: 5)
    #expect(p.contains("5 packets transmitted, 5 received"), "\(p)\n\(t.bridge.log)")
    capture.wait()
    let replays = try sh("tshark -r \(t.dir)/peer.pcap -Y 'ip.dst == 192.0.2.1 && udp.payload[0] == 4' -T fields -e udp.payload 2>/dev/null")
        .split(separator: "\n").map(String.init)
    #expect(replays.count >= 3, "wireguard-go's transport messages to the bridge: \(replays.count)")
    let before = try t.stats()

    let attack = try sh("ip netns exec \(t.ns[1]) python3 \(repositoryRoot)/ci/interop/wg-attack.py 192.0.2.1 51820 \(t.bridgeKeys.publicKey) \(replays.prefix(5).joined(separator: " "))")
    print("bridgeWireGuardPortBadInput: \(attack)")
    let result = try #require(try JSONSerialization.jsonObject(with: Data(attack.utf8)) as? [String: [String: Int]], "\(attack)")
    let replies = result["replies"] ?? [:]
    // Under load (more than 64 handshake messages with a good mac1 in a second), initiations
    // without mac2 are answered with cookie replies addressed to their sender index.
    #expect((replies["cookie"] ?? 0) >= 100, "cookie replies: \(replies)")
    #expect(replies["cookie-for-our-index"] == replies["cookie"], "\(replies)")
    #expect(replies["other"] == 0, "only cookie replies may answer the flood: \(replies)")

    let after = try t.stats()
    print("bridge stats after the attack:\n" + after)
    #expect(t.bridge.process.isRunning, "the bridge died: \(t.bridge.log)")
    for reason in ["unknown message type", "bad size", "bad mac1", "replayed or out-of-window counter", "cookie required (under load)"] {
        #expect(after.contains(reason + " "), "no '\(reason)' drops counted:\n\(after)")
    }
    let cookiesSent = after.firstMatch(of: /cookie replies sent (\d+)/).flatMap { Int($0.1) } ?? 0
    #expect(cookiesSent >= replies["cookie"] ?? 0, "the bridge counted \(cookiesSent) cookie replies, the attacker got \(replies)")
    #expect(after.contains("endpoint 192.0.2.2:51820"), "the attack must not move the peer's endpoint:\n\(after)")
    #expect(before.contains("session true"), "\(before)")

    // The tunnel still carries traffic, both ways.
    let again = try t.ping(from: 2, "10.200.8.2", count: 3)
    #expect(again.contains("3 packets transmitted, 3 received"), "after the attack: \(again)\n\(t.bridge.log)")
    let back = try t.ping(from: 1, "10.200.8.1", count: 3)
    #expect(back.contains("3 packets transmitted, 3 received"), "\(back)")
    #expect(t.bridge.stop() == 0, "\(t.bridge.log)")
}

@Test func qemuGuestBehindTheBridgeReachesWireGuardGo() throws {
    if let why = guestSkipReason() { print("SKIPPED qemuGuestBehindWAN: \(why)"); return }
    if let why = realNetworkSkipReason(needing: ["wireguard-go", "wg"]) { print("SKIPPED qemuGuestBehindWAN: \(why)"); return }
    let guest = try TestGuest.locate(repositoryRoot: repositoryRoot).get()
    let t = try BridgeFacingWireGuardGo(label: "q", wanExtras: "")
    // The guest leases 10.93.0.100 from the bridge and pings wireguard-go's tunnel address: out
    // through the router, masqueraded, encrypted; back in the same way.
    let (vm, console) = try bootGuest(guest, socket: t.vhostUserSocket, mac: "52:54:00:00:93:01",
                                      runs: [("tunnel", "ping -c 5 10.200.8.2"), ("linger", "sleep 5")])
    defer { _ = vm.stop() }
    #expect(console.waitForMarker(timeout: .seconds(240)) { $0 == .dhcpBound("10.93.0.100/24") } != nil, "\(console.lines.suffix(20))")
    #expect(result(console, "tunnel") == 0, "guest → wireguard-go: \(console.lines.suffix(15))\n\(t.bridge.log)")
    print("QEMU guest through WireGuard to wireguard-go: \(console.lines.filter { $0.contains("round-trip") }.joined(separator: " | "))")
    let stats = try t.stats()
    #expect(stats.contains("1 guest(s) connected") && stats.contains("session true"), "\(stats)")
    let transfer = try t.wireguardGo.show("transfer")
    #expect(!transfer.contains("\t0\t0"), "wireguard-go moved nothing: \(transfer)")
    #expect(t.bridge.stop() == 0, "\(t.bridge.log)")
}
