import Basics
import Testing
import Wire
@testable import Datapath

@Test func ttlOneGivesTimeExceeded() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    learnB(router, now: Lab.t0, output: &out)
    #expect(router.receive(Lab.udpFrame(ttl: 1), on: 0, now: Lab.t0, output: &out) == .dropped(.ttlExpired))
    let sent = out.take()
    try #require(sent.count == 1)
    #expect(sent[0].interface == 0)
    let s = try SentIPv4(sent[0].frame)
    #expect(s.ethernet.destination == Lab.macA && s.ip.source == Lab.routerIP0 && s.ip.destination == Lab.ipA)
    let (message, data) = try s.icmp()
    #expect(message.type == .timeExceeded && message.code == 0)
    let quoted = try s.quotedHeader()
    #expect(quoted.timeToLive == 1 && quoted.destination == Lab.ipB)
    #expect(data.count == 28 + 32)                        // the whole original fits in 576 bytes
    #expect(router.counters.icmpErrorsSent == 1 && router.counters.forwarded == 0)
    // TTL 2 goes through with TTL 1.
    #expect(router.receive(Lab.udpFrame(ttl: 2), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
    #expect(try SentIPv4(out.take()[0].frame).ip.timeToLive == 1)
}

@Test func noRouteGivesNetUnreachable() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    let far = IPv4Address(192, 0, 2, 1)
    #expect(router.receive(Lab.udpFrame(destination: far), on: 0, now: Lab.t0, output: &out) == .dropped(.noRoute))
    let sent = out.take()
    try #require(sent.count == 1)
    let s = try SentIPv4(sent[0].frame)
    let (message, _) = try s.icmp()
    #expect(message.type == .destinationUnreachable && message.code == ICMPv4UnreachableCode.network)
    #expect(try s.quotedHeader().destination == far)
    #expect(router.counters.drops[.noRoute] == 1)
}

@Test func longestPrefixMatchChoosesStaticRouteOverDefault() throws {
    let router = try Lab.router {
        $0.staticRoutes = [StaticRoute(destination: IPv4Network("172.16.0.0/16")!, gateway: IPv4Address(10, 0, 0, 254))]
        $0.defaultGateway = IPv4Address(10, 1, 0, 254)
    }
    var out = CapturedOutput()
    // 172.16/16 via a gateway on the arrival link (hairpin), everything else via the default.
    for (destination, interface, gateway) in [(IPv4Address(172, 16, 5, 5), 0, IPv4Address(10, 0, 0, 254)),
                                             (IPv4Address(8, 8, 8, 8), 1, IPv4Address(10, 1, 0, 254)),
                                             (IPv4Address(10, 1, 0, 77), 1, IPv4Address(10, 1, 0, 77))] {
        #expect(router.receive(Lab.udpFrame(destination: destination), on: 0, now: Lab.t0, output: &out) == .queued)
        let sent = out.take()
        try #require(sent.count == 1)
        #expect(sent[0].interface == interface)
        #expect(try parseARP(sent[0].frame).1.targetProtocolAddress == gateway)
    }
    // Once the gateway answers, the hairpinned datagram leaves by the interface it came in on.
    let reply = ARPPacket(operation: .reply, senderHardwareAddress: MACAddress(0x02, 0x99, 0, 0, 0, 1),
                          senderProtocolAddress: IPv4Address(10, 0, 0, 254),
                          targetHardwareAddress: Lab.routerMAC0, targetProtocolAddress: Lab.routerIP0)
    router.receive(Lab.arpFrame(reply, to: Lab.routerMAC0), on: 0, now: Lab.t0, output: &out)
    let sent = out.take()
    try #require(sent.count == 1)
    #expect(sent[0].interface == 0)
    #expect(try SentIPv4(sent[0].frame).ethernet.destination == MACAddress(0x02, 0x99, 0, 0, 0, 1))
}

@Test func routerRefusesBadConfigurations() {
    var c = Lab.configuration()
    c.defaultGateway = IPv4Address(192, 168, 0, 1)
    #expect(throws: RouterConfigurationError.gatewayNotOnConnectedNetwork(IPv4Address(192, 168, 0, 1))) { try Router(c) }
    c = Lab.configuration()
    c.interfaces[1].network = IPv4Network("10.0.0.1/16")!
    #expect(throws: RouterConfigurationError.duplicateAddress(IPv4Address(10, 0, 0, 1))) { try Router(c) }
    c = Lab.configuration(mtu1: 67)
    #expect(throws: RouterConfigurationError.self) { try Router(c) }
    #expect(throws: RouterConfigurationError.noInterfaces) { try Router(RouterConfiguration(interfaces: [])) }
}

@Test func dontFragmentAndTooBigGivesFragmentationNeeded() throws {
    let router = try Router(Lab.configuration(mtu1: 1400))
    var out = CapturedOutput()
    learnB(router, now: Lab.t0, output: &out)
    let big = Lab.udpFrame(dontFragment: true, payloadLength: 1472)        // 1500-byte datagram
    #expect(router.receive(big, on: 0, now: Lab.t0, output: &out) == .dropped(.fragmentationNeeded))
    let sent = out.take()
    try #require(sent.count == 1)
    let s = try SentIPv4(sent[0].frame)
    let (message, data) = try s.icmp()
    #expect(message.type == .destinationUnreachable && message.code == ICMPv4UnreachableCode.fragmentationNeeded)
    #expect(message.nextHopMTU == 1400)
    #expect(data.count == 576 - 28)                                        // RFC 1812 §4.3.2.3 cap
    #expect(Int(s.ip.totalLength) == 576)
    // Without DF: fragmented (RouterFragmentationTests), no error.
    #expect(router.receive(Lab.udpFrame(payloadLength: 1472), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
    #expect(out.take().count == 2 && router.counters.datagramsFragmented == 1)
    // Exactly the MTU passes.
    #expect(router.receive(Lab.udpFrame(dontFragment: true, payloadLength: 1372), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
}

@Test func neverAnICMPErrorAboutAnICMPErrorBroadcastOrLaterFragment() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    learnB(router, now: Lab.t0, output: &out)
    // Control: an echo request with TTL 1 does get time exceeded.
    let echo = Lab.icmpFrame(.echoRequest(identifier: 1, sequenceNumber: 1), destination: Lab.ipB, ttl: 1)
    #expect(router.receive(echo, on: 0, now: Lab.t0, output: &out) == .dropped(.ttlExpired))
    #expect(out.take().count == 1)
    // An ICMP error with TTL 1: dropped, no error about it.
    let error = Lab.icmpFrame(.destinationUnreachable(code: 3), data: Array(repeating: 0x45, count: 28), destination: Lab.ipB, ttl: 1)
    #expect(router.receive(error, on: 0, now: Lab.t0, output: &out) == .dropped(.ttlExpired))
    // A non-first fragment with TTL 1.
    let fragment = Lab.udpFrame(ttl: 1) { $0.fragmentOffset = 100 }
    #expect(router.receive(fragment, on: 0, now: Lab.t0, output: &out) == .dropped(.ttlExpired))
    // A first fragment does get one.
    let first = Lab.udpFrame(ttl: 1) { $0.moreFragments = true }
    #expect(router.receive(first, on: 0, now: Lab.t0, output: &out) == .dropped(.ttlExpired))
    #expect(out.take().count == 1)
    // To the subnet broadcast, to a broadcast MAC, from an invalid source: UDP to an unserved port.
    let toBroadcast = Lab.udpFrame(destination: IPv4Address(10, 0, 0, 255), destinationPort: 9)
    #expect(router.receive(toBroadcast, on: 0, now: Lab.t0, output: &out) == .dropped(.portUnreachable))
    let fromZeroNet = Lab.udpFrame(source: IPv4Address(0, 1, 2, 3), destination: Lab.routerIP0, destinationPort: 9)
    #expect(router.receive(fromZeroNet, on: 0, now: Lab.t0, output: &out) == .dropped(.portUnreachable))
    let linkBroadcast = Lab.udpFrame(to: .broadcast, destination: Lab.routerIP0, destinationPort: 9)
    #expect(router.receive(linkBroadcast, on: 0, now: Lab.t0, output: &out) == .dropped(.portUnreachable))
    #expect(out.sent.isEmpty)
    #expect(router.counters.icmpErrorsSuppressed == 5 && router.counters.icmpErrorsSent == 2)
}

@Test func rateLimitCapsICMPErrors() throws {
    let router = try Lab.router { $0.icmpErrorsPerSecond = 10; $0.icmpErrorBurst = 5 }
    var out = CapturedOutput()
    for _ in 0..<20 { router.receive(Lab.udpFrame(ttl: 1), on: 0, now: Lab.t0, output: &out) }
    #expect(out.take().count == 5)
    #expect(router.counters.icmpErrorsRateLimited == 15)
    // A long pause refills only up to the burst.
    for _ in 0..<20 { router.receive(Lab.udpFrame(ttl: 1), on: 0, now: Lab.t0 + .seconds(60), output: &out) }
    #expect(out.take().count == 5)
    // 100 ms at 10/s buys one more.
    for _ in 0..<3 { router.receive(Lab.udpFrame(ttl: 1), on: 0, now: Lab.t0 + .milliseconds(60_100), output: &out) }
    #expect(out.take().count == 1)
    #expect(router.counters.drops[.ttlExpired] == 43)
}
