// Two bridges back to back through a WireGuard WAN: guests behind each ping across, masqueraded
// or routed, and nothing but WireGuard messages crosses the wire.
import Basics
@testable import Datapath
import Testing
import Wire
@testable import Engine

/// Bridge configs for A (10.1.0.0/24, tunnel 10.200.0.1) and B (10.2.0.0/24, tunnel 10.200.0.2).
func wireGuardConfigs(natA: Bool, natB: Bool, keepalive: String? = nil, extraA: String = "", extraB: String = "") -> (String, String) {
    let ka = wanKeys(101), kb = wanKeys(202)
    let extra = (keepalive.map { ", keepalive: \($0)" } ?? "") + extraA
    let a = """
    router: { ipv4: 10.1.0.1/24, nat: \(natA) }
    wan: { type: wireguard, key: "\(ka.privateKey)", peer: "\(kb.publicKey)", endpoint: 192.0.2.2:51820, ipv4: 10.200.0.1/24, listen-port: 51820\(extra) }
    """
    let b = """
    router: { ipv4: 10.2.0.1/24, nat: \(natB) }
    wan: { type: wireguard, key: "\(kb.privateKey)", peer: "\(ka.publicKey)", endpoint: 192.0.2.1:51820, ipv4: 10.200.0.2/24, listen-port: 51820\(extraB) }
    """
    return (a, b)
}

func wireGuardPair(natA: Bool, natB: Bool) throws -> WANPair {
    let (a, b) = wireGuardConfigs(natA: natA, natB: natB)
    return try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                       guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
}

@Test func masqueradedPingThroughWireGuardReachesTheFarRouter() throws {
    let pair = try wireGuardPair(natA: true, natB: true)
    let farRouter = IPv4Address(10, 200, 0, 2)
    let ping = pair.guestA.host.ping(farRouter, count: 5, interval: .milliseconds(200), now: pair.now)
    pair.run(for: .seconds(3))
    let result = pair.guestA.host.pingResult(ping)
    #expect(result.received == 5, "\(result)")

    // The first datagram was a handshake initiation; sessions formed on both sides.
    #expect(pair.crossed.first.map { $0.bytes[0] } == 1 && pair.crossed.first?.bytes.count == 148)
    #expect(pair.a.wan?.tunnel?.counters.sessionsDerived ?? 0 >= 1)
    // A masqueraded the guest: one ICMP mapping for 10.1.0.10, external address 10.200.0.1.
    let nat = try #require(pair.a.wan?.nat)
    let mappings = nat.mappings()
    #expect(mappings.count == 1 && mappings.first?.internalAddress == IPv4Address(10, 1, 0, 10)
            && mappings.first?.externalAddress == IPv4Address(10, 200, 0, 1), "\(mappings)")
    #expect(nat.counters.outboundTranslated == 5 && nat.counters.inboundTranslated == 5)
    // B's router answered from its WAN address; its NAT let the pings of its address through untouched.
    #expect(pair.b.router?.counters.echoRepliesSent == 5)
    let wanA = try #require(pair.a.wan), wanB = try #require(pair.b.wan)
    #expect(wanA.counters.txPackets == 5 && wanA.counters.rxPackets == 5, "\(wanA.counters)")
    #expect(wanB.counters.rxPackets == 5 && wanB.counters.txPackets == 5, "\(wanB.counters)")
    #expect(wanA.counters.drops.total == 0 && wanB.counters.drops.total == 0)
    // The WAN is a point-to-point interface: the router never ARPs there.
    let routerA = try #require(pair.a.router)
    #expect(routerA.interfaces[wanA.interface].isPointToPoint && routerA.arpQueuedCount == 0)
    #expect(routerA.counters.arp.requestsSent == 0, "\(routerA.counters.arp)")
}

/// wg-quick's usual `Address = …/32` (and a /31) on a point-to-point WAN: accepted, and the
/// masqueraded pings come back through the NAT (on a /32 the subnet's "broadcast address" is the
/// WAN's own address, which must not bypass the NAT).
@Test(arguments: [32, 31])
func aPointToPointWANTakesASlash32OrSlash31(prefix: Int) throws {
    let (a, b) = wireGuardConfigs(natA: true, natB: true)
    let configA = a.replacingOccurrences(of: "ipv4: 10.200.0.1/24", with: "ipv4: 10.200.0.0/\(prefix)")
    let configB = b.replacingOccurrences(of: "ipv4: 10.200.0.2/24", with: "ipv4: 10.200.0.1/\(prefix)")
    let pair = try WANPair(configA, configB, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                           guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
    let ping = pair.guestA.host.ping(IPv4Address(10, 200, 0, 1), count: 5, interval: .milliseconds(200), now: pair.now)
    pair.run(for: .seconds(3))
    #expect(pair.guestA.host.pingResult(ping).received == 5, "\(pair.guestA.host.pingResult(ping))")
    let nat = try #require(pair.a.wan?.nat)
    #expect(nat.counters.outboundTranslated == 5 && nat.counters.inboundTranslated == 5, "\(nat.counters)")
}

/// Copies on the WAN's path, measured: a guest's packet is copied once, into the router's input
/// buffer, and WireGuard encrypts it there (in the room the router leaves around it); nothing
/// goes through the WAN's own `outbound` copy.
@Test func wireGuardEncryptsThePacketInTheRoutersBuffer() throws {
    let pair = try wireGuardPair(natA: true, natB: false)
    let routerA = try #require(pair.a.router), wanA = try #require(pair.a.wan)
    func holds(_ buffer: UnsafeMutableRawBufferPointer, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let b = buffer.baseAddress, let p = bytes.baseAddress else { return false }
        return UnsafeRawPointer(b) <= p && p + bytes.count <= UnsafeRawPointer(b) + buffer.count
    }
    var inRouterInput = 0, inRouterScratch = 0, inWANCopy = 0
    let deliver = wanA.sendDatagram
    wanA.sendDatagram = { bytes, to in
        if bytes.count > 32, bytes[0] == 4 {   // transport data (not handshakes, not keepalives)
            if holds(routerA.inputCopy, bytes) { inRouterInput += 1 }
            if holds(routerA.scratch, bytes) { inRouterScratch += 1 }
            if holds(wanA.outbound, bytes) { inWANCopy += 1 }
        }
        deliver(bytes, to)
    }
    pair.guestB.host.openUDP(port: 9)
    let ping = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 5, interval: .milliseconds(200), now: pair.now)
    pair.run(for: .seconds(2))
    #expect(pair.guestA.host.pingResult(ping).received == 5)
    // The first ping waits for the handshake in WireGuard's staged queue (its own copy); the rest
    // leave from the router's buffer.
    #expect(inRouterInput >= 4 && inWANCopy == 0 && inRouterScratch == 0, "\(inRouterInput) \(inRouterScratch) \(inWANCopy)")
}

@Test func masqueradingHidesTheGuestsBehindTheFarBridge() throws {
    let pair = try wireGuardPair(natA: true, natB: true)
    let ping = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 3, interval: .milliseconds(200), now: pair.now)
    pair.run(for: .seconds(3))
    #expect(pair.guestA.host.pingResult(ping).received == 0)
    // B refused them at its NAT: nothing was addressed to its external address.
    let wanB = try #require(pair.b.wan)
    #expect(wanB.counters.drops[.nat] == 3, "\(wanB.counters)")
    #expect(wanB.nat?.counters.drops[.notExternal] == 3)
}

@Test func udpThroughWireGuardSeesTheMasqueradedSource() throws {
    // A masquerades; B routes, so its guest is reachable and sees A's tunnel address as the source.
    let pair = try wireGuardPair(natA: true, natB: false)
    pair.guestB.host.openUDP(port: 7)
    pair.guestA.host.openUDP(port: 4000)
    pair.guestA.host.sendUDP(to: IPv4Address(10, 2, 0, 10), port: 7, from: 4000, payload: Array("through the tunnel".utf8), now: pair.now)
    pair.run(for: .seconds(1))
    let atB = pair.guestB.host.takeDatagrams(port: 7)
    let seen = try #require(atB.first, "nothing arrived at guestB")
    #expect(atB.count == 1 && seen.source == IPv4Address(10, 200, 0, 1), "\(atB)")
    // The answer goes to the masqueraded address and port, and A's NAT turns it back.
    pair.guestB.host.sendUDP(to: seen.source, port: seen.sourcePort, from: 7, payload: Array("and back".utf8), now: pair.now)
    pair.run(for: .seconds(1))
    let back = pair.guestA.host.takeDatagrams(port: 4000)
    #expect(back.count == 1 && back.first?.source == IPv4Address(10, 2, 0, 10) && back.first?.sourcePort == 7, "\(back)")
    #expect(back.first.map { String(decoding: $0.payload, as: UTF8.self) } == "and back")
    #expect(pair.a.wan?.nat?.mapping(.udp, internalAddress: IPv4Address(10, 1, 0, 10), internalPort: 4000)?.externalPort == seen.sourcePort)
}

@Test func routedPingThroughWireGuardKeepsTheGuestsAddresses() throws {
    let pair = try wireGuardPair(natA: false, natB: false)
    pair.guestB.host.openUDP(port: 9)
    let ping = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 4, interval: .milliseconds(250), now: pair.now)
    pair.guestA.host.sendUDP(to: IPv4Address(10, 2, 0, 10), port: 9, payload: [1, 2, 3], now: pair.now)
    pair.run(for: .seconds(3))
    #expect(pair.guestA.host.pingResult(ping).received == 4, "\(pair.guestA.host.pingResult(ping))")
    #expect(pair.guestB.host.takeDatagrams(port: 9).first?.source == IPv4Address(10, 1, 0, 10))
    #expect(pair.a.wan?.nat == nil && pair.b.wan?.nat == nil)
    // TTL went down once per router: two routers between the guests.
    #expect(pair.a.router?.counters.forwarded ?? 0 >= 4 && pair.b.router?.counters.forwarded ?? 0 >= 8)
}

@Test func onlyWireGuardMessagesCrossTheWire() throws {
    let pair = try wireGuardPair(natA: false, natB: false)
    let ping = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 3, interval: .milliseconds(200), size: 64, now: pair.now)
    let marker = Array("cleartext-marker-0123456789".utf8)
    pair.guestB.host.openUDP(port: 9)
    pair.guestA.host.sendUDP(to: IPv4Address(10, 2, 0, 10), port: 9, payload: marker, now: pair.now)
    pair.run(for: .seconds(2))
    #expect(pair.guestA.host.pingResult(ping).received == 3)
    #expect(pair.guestB.host.takeDatagrams(port: 9).first?.payload == marker)
    #expect(!pair.crossed.isEmpty)
    for c in pair.crossed {
        // WireGuard's message types 1 (initiation, 148 bytes), 2 (response, 92), 4 (transport).
        let type = c.bytes[0]
        #expect([1, 2, 4].contains(type) && c.bytes[1...3].allSatisfy { $0 == 0 }, "type \(type)")
        if type == 1 { #expect(c.bytes.count == 148) }
        if type == 2 { #expect(c.bytes.count == 92) }
        if type == 4 { #expect((c.bytes.count - 32) % 16 == 0, "transport of \(c.bytes.count) bytes is not padded") }
        #expect(!contains(c.bytes, marker))
        #expect(!contains(c.bytes, IPv4Address(10, 1, 0, 10).bytes + IPv4Address(10, 2, 0, 10).bytes))
    }
}

@Test func lostInitiationIsRetriedOnTheBridgesTimers() throws {
    let pair = try wireGuardPair(natA: true, natB: true)
    var dropped = 0
    pair.lose = { c in
        guard c.bytes[0] == 1, dropped == 0 else { return false }
        dropped += 1
        return true
    }
    let ping = pair.guestA.host.ping(IPv4Address(10, 200, 0, 2), count: 10, interval: .seconds(1), now: pair.now)
    pair.run(for: .seconds(12))
    let result = pair.guestA.host.pingResult(ping)
    // Rekey-Timeout is 5 s (+ up to 333 ms jitter): the retry goes out from poll(now:) at the
    // bridge's deadline; the staged pings then go through, the first ones late.
    let initiations = pair.crossed.filter { $0.bytes[0] == 1 }
    #expect(initiations.count == 2)
    if initiations.count == 2 {
        let gap = initiations[1].at - initiations[0].at
        #expect(gap >= .seconds(5) && gap <= .milliseconds(5334), "\(gap)")
    }
    #expect(result.received >= 4, "\(result)")
    #expect(pair.a.wan?.tunnel?.counters.initiationsSent == 2)
}

@Test func wireGuardRunIsDeterministic() throws {
    func trace() throws -> [[UInt8]] {
        let pair = try wireGuardPair(natA: true, natB: false)
        _ = pair.guestA.host.ping(IPv4Address(10, 2, 0, 10), count: 3, interval: .milliseconds(100), now: pair.now)
        pair.run(for: .seconds(1))
        return pair.crossed.map(\.bytes)
    }
    let first = try trace()
    #expect(first.count >= 8)
    #expect(first == (try trace()))
}

@Test func persistentKeepaliveBringsTheTunnelUpWithoutTraffic() throws {
    let (a, b) = wireGuardConfigs(natA: true, natB: true, keepalive: "10s")
    let pair = try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                           guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
    pair.a.start(now: pair.now)
    pair.b.start(now: pair.now)   // B has no keepalive: it waits
    pair.run(for: .seconds(35))
    let fromA = pair.crossed.filter(\.fromA), fromB = pair.crossed.filter { !$0.fromA }
    #expect(fromA.first?.bytes[0] == 1 && fromA.first?.at == .zero)
    #expect(fromB.first?.bytes[0] == 2)
    // Keepalives (empty transport messages, 32 bytes) from A every 10 s with nothing else to send.
    let keepalives = fromA.filter { $0.bytes[0] == 4 && $0.bytes.count == 32 }
    #expect(keepalives.count >= 3, "\(fromA.map { "\($0.at) \($0.bytes[0]) \($0.bytes.count)" })")
    #expect(pair.a.wan?.tunnel?.status(of: pair.a.wan!.tunnel!.peerIDs[0]).hasSession == true)
}

@Test func aShortRekeyAfterTimeRekeysWithoutLosingPackets() throws {
    let (a, b) = wireGuardConfigs(natA: true, natB: true, extraA: ", rekey-after-time: 5s")
    let pair = try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                           guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
    let ping = pair.guestA.host.ping(IPv4Address(10, 200, 0, 2), count: 100, interval: .milliseconds(250), now: pair.now)
    pair.run(for: .seconds(26))
    #expect(pair.guestA.host.pingResult(ping).received == 100, "\(pair.guestA.host.pingResult(ping))")
    // A initiated for its first packet, then again whenever it sent on a session older than 5 s:
    // a new session about every 5.25 s (the next ping after the session's fifth second).
    let initiations = pair.crossed.filter { $0.fromA && $0.bytes[0] == 1 }.map(\.at)
    #expect(initiations.count == 5, "\(initiations)")
    for (earlier, later) in zip(initiations, initiations.dropFirst()) {
        #expect(later - earlier > .seconds(5) && later - earlier < .milliseconds(5600), "\(initiations)")
    }
    #expect(pair.a.wan?.tunnel?.counters.sessionsDerived == 5)
    #expect(pair.b.wan?.tunnel?.counters.initiationsSent == 0, "B (responder, default 120 s) never initiates")
}

@Test func aPreSharedKeyMustMatchOnBothSides() throws {
    let psk = "\"cGzWuutu8kGT9PWFtI0rQVqAq5jpCQXpPOHnGVj4cxg=\""
    let other = "\"Eq6L1Jt1r9r1x8iq3xGmkQmJ8ZLyBKkEh6s0Tt5bQhg=\""
    for (pskB, works) in [(psk, true), (other, false)] {
        let (a, b) = wireGuardConfigs(natA: true, natB: true, extraA: ", preshared-key: \(psk)", extraB: ", preshared-key: \(pskB)")
        let pair = try WANPair(a, b, guestA: "10.1.0.10/24", gatewayA: IPv4Address(10, 1, 0, 1),
                               guestB: "10.2.0.10/24", gatewayB: IPv4Address(10, 2, 0, 1))
        let ping = pair.guestA.host.ping(IPv4Address(10, 200, 0, 2), count: 3, interval: .milliseconds(200), now: pair.now)
        pair.run(for: .seconds(3))
        let received = pair.guestA.host.pingResult(ping).received
        let tunnelB = try #require(pair.b.wan?.tunnel)
        if works {
            #expect(received == 3)
            #expect(tunnelB.counters.sessionsDerived == 1)
        } else {
            // B cannot open A's initiation (the PSK enters only the response's key; so it is A that
            // fails to authenticate B's response).
            #expect(received == 0)
            let tunnelA = try #require(pair.a.wan?.tunnel)
            #expect(tunnelA.counters.drops[.handshakeDecryptFailed] >= 1, "\(tunnelA.counters.summary)")
            #expect(tunnelA.counters.sessionsDerived == 0)
        }
    }
}
