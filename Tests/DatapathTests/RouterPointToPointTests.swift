// The router on a point-to-point interface: bare IP packets in and out, no ARP there, forwarding
// to and from Ethernet, ICMP back out of the point-to-point interface, and bad input counted.
import Basics
import Testing
import Wire
@testable import Datapath

/// Lab's Ethernet interface 0 (10.0.0.1/24) and a point-to-point interface 1 (10.200.0.1/30, MTU
/// 1420) that the default route names.
enum P2P {
    static let address = IPv4Address(10, 200, 0, 1)
    static let far = IPv4Address(192, 0, 2, 9)

    static func router(ethernetMTU: Int = 1500, prefix: Int = 30) throws -> Router {
        var c = RouterConfiguration(interfaces: [
            RouterInterface(mac: Lab.routerMAC0, network: IPv4Network("10.0.0.1/24")!, mtu: ethernetMTU),
            .pointToPoint(network: IPv4Network(address: address, prefixLength: prefix)!, mtu: 1420),
        ])
        c.staticRoutes = [StaticRoute(destination: IPv4Network("0.0.0.0/0")!, interface: 1)]
        return try Router(c)
    }

    /// A bare IPv4/UDP packet (Lab's frame without its Ethernet header).
    static func udp(source: IPv4Address = far, destination: IPv4Address = Lab.ipA, ttl: UInt8 = 64, dontFragment: Bool = false,
                    payloadLength: Int = 32) -> [UInt8] {
        Array(Lab.udpFrame(source: source, destination: destination, ttl: ttl, dontFragment: dontFragment,
                           payloadLength: payloadLength)[14...])
    }

    /// A bare ICMP echo request.
    static func ping(to destination: IPv4Address, source: IPv4Address = far) -> [UInt8] {
        Array(Lab.icmpFrame(.echoRequest(identifier: 7, sequenceNumber: 3), source: source, destination: destination)[14...])
    }

    /// Parses a bare packet with SentIPv4 (behind a dummy Ethernet header).
    static func parse(_ packet: [UInt8]) throws -> SentIPv4 {
        try SentIPv4([UInt8](repeating: 0, count: 12) + [0x08, 0x00] + packet)
    }
}

extension Router {
    /// Hands `bytes` in as a packet with `headroom` free bytes before it; returns the disposition
    /// and the buffer afterwards (to see what was rewritten in place).
    func receive(packet bytes: [UInt8], headroom: Int, on interface: Int, now: Instant,
                 output: inout CapturedOutput) -> (RouterDisposition, [UInt8]) {
        var buffer = [UInt8](repeating: 0xEE, count: headroom) + bytes + [UInt8](repeating: 0xEE, count: 32)
        let d = buffer.withUnsafeMutableBytes { b in
            receive(packet: PointToPointPacket(buffer: b, range: headroom..<(headroom + bytes.count)), on: interface,
                    now: now, output: &output)
        }
        return (d, buffer)
    }
}

@Test func ethernetToPointToPointSendsTheBarePacketWithRoomAroundIt() throws {
    let router = try P2P.router()
    var out = CapturedOutput()
    let frame = Lab.udpFrame(destination: P2P.far)
    #expect(router.receive(frame, on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
    try #require(out.packets.count == 1)
    let sent = out.packets[0]
    #expect(sent.interface == 1 && out.sent.isEmpty, "no ARP, no frame on a point-to-point interface")
    let s = try P2P.parse(sent.packet)
    #expect(s.ip.timeToLive == 63 && s.ip.destination == P2P.far && s.ip.source == Lab.ipA)
    #expect(sent.packet.count == frame.count - 14 && Array(sent.packet[20...]) == Array(frame[34...]))
    // Room for a tunnel to encrypt in place.
    #expect(sent.headroom >= Router.packetHeadroom && sent.tailroom >= Router.packetTailroom, "\(sent.headroom) \(sent.tailroom)")
    #expect(router.counters.arp.requestsSent == 0 && router.arpQueuedCount == 0 && router.counters.forwarded == 1)
}

@Test func pointToPointToEthernetWritesTheFrameHeaderInTheRoomBeforeThePacket() throws {
    let router = try P2P.router()
    var out = CapturedOutput()
    // A not yet known: the packet waits for ARP on the Ethernet side, then leaves.
    let (queued, _) = router.receive(packet: P2P.udp(), headroom: 16, on: 1, now: Lab.t0, output: &out)
    #expect(queued == .queued)
    let (_, request) = try parseARP(try #require(out.take().first).frame)
    #expect(request.operation == .request && request.targetProtocolAddress == Lab.ipA)
    let reply = ARPPacket(operation: .reply, senderHardwareAddress: Lab.macA, senderProtocolAddress: Lab.ipA,
                          targetHardwareAddress: Lab.routerMAC0, targetProtocolAddress: Lab.routerIP0)
    router.receive(Lab.arpFrame(reply, to: Lab.routerMAC0), on: 0, now: Lab.t0, output: &out)
    let flushed = try SentIPv4(try #require(out.take().first).frame)
    #expect(flushed.ethernet.destination == Lab.macA && flushed.ip.timeToLive == 63 && flushed.ip.source == P2P.far)

    // A known: forwarded at once, the Ethernet header written into the 16 bytes before the packet.
    let packet = P2P.udp(payloadLength: 40)
    let (d, buffer) = router.receive(packet: packet, headroom: 16, on: 1, now: Lab.t0, output: &out)
    #expect(d == .forwarded(interface: 0))
    let frame = try #require(out.take().first).frame
    #expect(frame.count == 14 + packet.count)
    let s = try SentIPv4(frame)
    #expect(s.ethernet.destination == Lab.macA && s.ethernet.source == Lab.routerMAC0 && s.ethernet.etherType == .ipv4)
    #expect(s.ip.timeToLive == 63 && s.payload == Array(packet[20...]))
    #expect(Array(buffer[2..<(16 + packet.count)]) == frame, "forwarded in place")
    // Without room before it the packet is copied once, with the same result.
    let (d0, _) = router.receive(packet: packet, headroom: 0, on: 1, now: Lab.t0, output: &out)
    #expect(d0 == .forwarded(interface: 0))
    let copied = try #require(out.take().first).frame
    #expect(copied == frame, "\(copied.prefix(40)) vs \(frame.prefix(40))")
    #expect(router.counters.arp.requestsSent == 1 && router.counters.forwarded == 3)
}

@Test func ttlExpiryOnAPointToPointArrivalIsAnsweredBackOutOfIt() throws {
    let router = try P2P.router()
    var out = CapturedOutput()
    let (d, _) = router.receive(packet: P2P.udp(ttl: 1), headroom: 0, on: 1, now: Lab.t0, output: &out)
    #expect(d == .dropped(.ttlExpired))
    #expect(out.sent.isEmpty)
    try #require(out.packets.count == 1)
    #expect(out.packets[0].interface == 1)
    let s = try P2P.parse(out.packets[0].packet)
    #expect(s.ip.source == P2P.address && s.ip.destination == P2P.far)
    let (message, _) = try s.icmp()
    #expect(message.type == .timeExceeded && message.code == 0)
    #expect(try s.quotedHeader().timeToLive == 1)
    #expect(out.packets[0].headroom >= Router.packetHeadroom)
    #expect(router.counters.icmpErrorsSent == 1)
}

@Test func fragmentationNeededGoesBackOutOfThePointToPointInterface() throws {
    let router = try P2P.router(ethernetMTU: 576)
    var out = CapturedOutput()
    let big = P2P.udp(dontFragment: true, payloadLength: 600)
    let (d, _) = router.receive(packet: big, headroom: 16, on: 1, now: Lab.t0, output: &out)
    #expect(d == .dropped(.fragmentationNeeded))
    try #require(out.packets.count == 1 && out.sent.isEmpty)
    let s = try P2P.parse(out.packets[0].packet)
    let (message, _) = try s.icmp()
    #expect(message.type == .destinationUnreachable && message.code == ICMPv4UnreachableCode.fragmentationNeeded)
    #expect(message.nextHopMTU == 576 && s.ip.destination == P2P.far && s.ip.source == P2P.address)
    // Into the tunnel (MTU 1420) from Ethernet: the error goes back to the guest on Ethernet.
    let tooBigForTunnel = Lab.udpFrame(destination: P2P.far, dontFragment: true, payloadLength: 1400)
    #expect(router.receive(tooBigForTunnel, on: 0, now: Lab.t0, output: &out) == .dropped(.fragmentationNeeded))
    let back = try SentIPv4(try #require(out.take().first).frame)
    let backMTU = try back.icmp().message.nextHopMTU
    #expect(back.ethernet.destination == Lab.macA && backMTU == 1420)
}

@Test func pingsArrivingOnAPointToPointInterfaceAreAnsweredThere() throws {
    let router = try P2P.router()
    var out = CapturedOutput()
    for target in [P2P.address, Lab.routerIP0] {   // its own address, and the router's other one
        let (d, _) = router.receive(packet: P2P.ping(to: target), headroom: 0, on: 1, now: Lab.t0, output: &out)
        #expect(d == .answered)
    }
    #expect(out.sent.isEmpty)
    try #require(out.packets.count == 2)
    for (sent, target) in zip(out.packets, [P2P.address, Lab.routerIP0]) {
        #expect(sent.interface == 1)
        let s = try P2P.parse(sent.packet)
        #expect(s.ip.source == target && s.ip.destination == P2P.far)
        let (message, data) = try s.icmp()
        #expect(message.type == .echoReply && message.identifier == 7 && message.sequenceNumber == 3 && data == Array(0..<16))
    }
    #expect(router.counters.echoRepliesSent == 2)
}

@Test func badInputOnAPointToPointInterfaceIsCountedByReason() throws {
    let router = try P2P.router()
    var out = CapturedOutput()
    func expectDrop(_ bytes: [UInt8], _ reason: RouterDropReason, sourceLocation: SourceLocation = #_sourceLocation) {
        let (d, _) = router.receive(packet: bytes, headroom: 8, on: 1, now: Lab.t0, output: &out)
        #expect(d == .dropped(reason), sourceLocation: sourceLocation)
    }
    let good = P2P.udp()
    expectDrop(Array(good[0..<12]), .ipv4Truncated)
    var badSum = good; badSum[10] ^= 0xFF
    expectDrop(badSum, .ipv4BadChecksum)
    var v6 = good; v6[0] = 0x60
    expectDrop(v6, .ipv4Unsupported)
    expectDrop(Array(good[0..<30]), .ipv4Truncated)   // total length beyond the packet
    var shortIHL = good; shortIHL[0] = 0x44
    expectDrop(shortIHL, .ipv4BadLength)
    expectDrop(P2P.udp(source: IPv4Address(127, 0, 0, 1)), .martianSource)
    // A frame-shaped call on the point-to-point interface, a packet on the Ethernet one.
    #expect(router.receive(Lab.udpFrame(destination: P2P.far), on: 1, now: Lab.t0, output: &out) == .dropped(.wrongMedium))
    #expect(router.receive(packet: good, headroom: 0, on: 0, now: Lab.t0, output: &out).0 == .dropped(.wrongMedium))
    #expect(router.receive(packet: good, headroom: 0, on: 9, now: Lab.t0, output: &out).0 == .dropped(.unknownInterface))
    #expect(router.counters.drops[.wrongMedium] == 2)
    // Garbage never crashes and every packet lands under exactly one outcome.
    var random = SeededRandom(seed: 5)
    let before = router.counters.framesReceived
    for i in 0..<2000 {
        var bytes = (0..<Int(random.next() % 120)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        if bytes.count >= 20, i % 2 == 0 { bytes[0] = 0x45 }
        _ = router.receive(packet: bytes, headroom: i % 20, on: 1, now: Lab.t0, output: &out)
    }
    #expect(router.counters.framesReceived - before == 2000)
    #expect(out.sent.allSatisfy { (try? SentIPv4($0.frame)) != nil })
}

@Test func pointToPointInterfacesTakeSlash31AndSlash32AndInterfaceRoutes() throws {
    // /31 (RFC 3021): the other address is the peer, not a broadcast address.
    let r31 = try P2P.router(prefix: 31)
    var out = CapturedOutput()
    let peer = IPv4Address(10, 200, 0, 0)
    #expect(r31.receive(Lab.udpFrame(destination: peer), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
    let r32 = try P2P.router(prefix: 32)
    #expect(r32.receive(Lab.udpFrame(destination: P2P.far), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
    #expect(out.packets.count == 2)
    // Only point-to-point interfaces may be a route's next hop, and Ethernet keeps 1...30.
    var c = Lab.configuration()
    c.staticRoutes = [StaticRoute(destination: IPv4Network("0.0.0.0/0")!, interface: 0)]
    #expect(throws: RouterConfigurationError.routeInterfaceNotPointToPoint(0)) { try Router(c) }
    c.staticRoutes = [StaticRoute(destination: IPv4Network("0.0.0.0/0")!, interface: 5)]
    #expect(throws: RouterConfigurationError.routeInterfaceNotPointToPoint(5)) { try Router(c) }
    c = RouterConfiguration(interfaces: [RouterInterface(mac: Lab.routerMAC0, network: IPv4Network("10.0.0.1/31")!)])
    #expect(throws: RouterConfigurationError.self) { try Router(c) }
    c = RouterConfiguration(interfaces: [.pointToPoint(network: IPv4Network("10.0.0.0/31")!)])
    #expect((try? Router(c)) != nil, "both addresses of a /31 are hosts")
}
