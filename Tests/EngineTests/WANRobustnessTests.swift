// The WAN under bad input and at its limits: garbage datagrams and frames are dropped and
// counted (never a crash), and packets larger than the WAN's MTU stop at the router.
import Basics
import Datapath
import Testing
import Wire
@testable import Engine

@Test(arguments: ["wireguard", "udp", "tap"])
func garbageFromTheWANIsCountedNeverDelivered(kind: String) throws {
    let k = wanKeys(7), p = wanKeys(8)
    let wan = switch kind {
    case "wireguard": "{ type: wireguard, key: \"\(k.privateKey)\", peer: \"\(p.publicKey)\", endpoint: 192.0.2.2:51820, ipv4: 10.200.0.1/24 }"
    case "udp": "{ type: udp, endpoint: 192.0.2.2:9000, ipv4: 10.201.0.1/24 }"
    default: "{ type: tap, device: t0, ipv4: 192.0.2.1/24, gateway: 192.0.2.2 }"
    }
    let bridge = try Bridge(config: BridgeConfig.parse("router: { ipv4: 10.1.0.1/24 }\nwan: \(wan)"),
                            wanSetup: WANSetup(random: SeededRandom(seed: 1)))
    var delivered = 0
    _ = try bridge.attachExternal(name: "lan-probe") { _ in delivered += 1 }
    let w = try #require(bridge.wan)
    var random = SeededRandom(seed: 99)
    let peer = SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: kind == "udp" ? 9000 : 51820)
    let rounds = 2000
    for i in 0..<rounds {
        let length = Int(random.next() % 200)
        var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        // Make some look nearly right: a WireGuard type byte, an IPv4 version, our MAC.
        if length > 20, i % 3 == 0 { bytes[0] = kind == "wireguard" ? UInt8(1 + i % 4) : 0x45 }
        if kind == "tap", length > 14, i % 2 == 0 { for (j, b) in [UInt8(2), 0x5E, 192, 0, 2, 1].enumerated() { bytes[j] = b } }
        bytes.withUnsafeMutableBytes { b in
            if kind == "tap" { bridge.receiveWANFrame(b, now: .zero + .milliseconds(i)) }
            else { bridge.receiveWANDatagram(b, count: b.count, from: peer, now: .zero + .milliseconds(i)) }
        }
    }
    #expect(w.counters.rxDatagrams == UInt64(rounds))
    // Everything not passed to the router was counted under a reason; nothing reached the LAN.
    #expect(w.counters.drops.total + w.counters.rxPackets == UInt64(rounds), "\(w.counters)")
    #expect(w.counters.drops.total > UInt64(rounds / 2))
    #expect(delivered == 0)
    if kind == "wireguard" { #expect(w.counters.rxPackets == 0 && w.tunnel!.counters.drops.total > 0) }
}

@Test func packetsAboveTheWANMTUAreFragmentedAtTheRouter() throws {
    let pair = try wireGuardPair(natA: false, natB: false)
    // 1392 data bytes + 8 ICMP + 20 IP = 1420, the tunnel's MTU; one byte more does not fit, and
    // without DF the router cuts it in two (both ways: B's router cuts the replies).
    let fits = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 2, interval: .milliseconds(200), size: 1392, now: pair.now)
    let tooBig = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 2, interval: .milliseconds(200), size: 1393, now: pair.now)
    pair.run(for: .seconds(3))
    #expect(pair.guestA.host.pingResult(fits).received == 2)
    #expect(pair.guestA.host.pingResult(tooBig).received == 2)
    let a = try #require(pair.a.router?.counters), b = try #require(pair.b.router?.counters)
    #expect(a.drops[.fragmentationNeeded] + a.drops[.fragmentationUnsupported] == 0)
    #expect(a.datagramsFragmented == 2 && a.fragmentsCreated == 4 && b.datagramsFragmented == 2)
    #expect(pair.guestA.host.counters.datagramsReassembled == 2)
    // What crossed fits: no transport message larger than MTU + 32 (header and tag).
    #expect(pair.crossed.allSatisfy { $0.bytes.count <= 1420 + 32 })
}
