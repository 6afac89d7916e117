// The host's IPv6: link-local + DAD, NS/NA, neighbour resolution, ping6, SLAAC from injected RAs,
// and that a host never asked for IPv6 sends none.

import Basics
@testable import HostStack
import Testing
import Wire

private let llA = IPv6Address.linkLocal(mac: macA)
private let llB = IPv6Address.linkLocal(mac: macB)
private let llRouter = IPv6Address.linkLocal(mac: macRouter)

/// The IPv6 frames in `frames`, parsed (nil entries dropped).
private func ipv6Frames(_ frames: [[UInt8]]) -> [(parsed: IPv6Frame.Parsed, frame: [UInt8])] {
    frames.compactMap { f in
        f.withUnsafeBytes { b in (try? IPv6Frame.parse(b)).map { ($0, f) } }
    }
}

/// The NDP messages among `frames`, with their IPv6 headers and Ethernet destinations.
private func ndp(_ frames: [[UInt8]]) -> [(ip: IPv6Header, to: MACAddress, message: NDPMessage)] {
    ipv6Frames(frames).compactMap { p, f in
        f.withUnsafeBytes { b in
            (try? NDPMessage(parsing: b.slice(p.upperLayerRange), ip: p.ip)).map { (p.ip, p.ethernet.destination, $0) }
        }
    }
}

private func wire(_ net: TestNetwork, from: Int? = nil) -> [[UInt8]] {
    net.log.filter { from == nil || $0.from == from }.map(\.frame)
}

/// An RA from `llRouter` (MAC `macRouter`) to all nodes.
private func routerAdvertisement(lifetime: UInt16 = 1800, options: [NDPOption]) -> [UInt8] {
    let ra = NDPMessage.routerAdvertisement(NDPRouterAdvertisement(
        currentHopLimit: 64, routerLifetime: lifetime,
        options: [.sourceLinkLayerAddress(macRouter)] + options))
    var frame = [UInt8](repeating: 0xAA, count: 1514)
    let n = frame.withUnsafeMutableBytes { b in
        try! IPv6Frame.emitNDP(into: b, ethernet: EthernetHeader(destination: IPv6Address.allNodes.multicastMAC, source: macRouter, etherType: .ipv6),
                               source: llRouter, destination: .allNodes, message: ra)
    }
    return Array(frame.prefix(n))
}

private func v6Pair(seed: UInt64 = 1, _ configure: (inout HostConfiguration) -> Void = { _ in }) -> (TestNetwork, Host, Host) {
    let net = TestNetwork(delay: .milliseconds(5))
    let a = host("a", macA, seed: seed, configure), b = host("b", macB, seed: seed, configure)
    net.attach(a); net.attach(b)
    return (net, a, b)
}

@Suite("IPv6 host")
struct IPv6HostTests {
    @Test("a host never asked for IPv6 sends no IPv6 and counts IPv6 frames as unsupported")
    func silentUnlessAsked() {
        let (net, a, b) = backToBack()
        a.ping(ipB, count: 2, now: net.now)
        net.run(for: .seconds(15))
        #expect(ipv6Frames(wire(net)).isEmpty)
        #expect(!a.ipv6Started && !b.ipv6Started)
        // An RA reaches B: not for a host without IPv6.
        let before = b.counters.unsupported + b.counters.notForUs
        b.receive(routerAdvertisement(options: []), now: net.now)
        #expect(b.counters.unsupported + b.counters.notForUs == before + 1)
        #expect(b.ipv6Addresses.isEmpty && b.ipv6Counters == HostIPv6Counters())
    }

    @Test("link-local address from the EUI-64 id; one DAD probe from :: to the solicited-node group; usable 1 s later")
    func linkLocalAndDAD() {
        let (net, a, _) = v6Pair { $0.ipv6.autoconfigures = false }
        a.startIPv6(now: net.now)
        #expect(a.ipv6Addresses.map(\.address) == [llA])
        #expect(a.ipv6Addresses[0].state == .tentative)
        #expect(a.ipv6LinkLocal == nil)
        #expect(llA.description == "fe80::ff:fe00:a")
        net.run(for: .seconds(3))
        #expect(a.ipv6Addresses[0].state == .preferred && a.ipv6LinkLocal == llA)
        let probes = ndp(wire(net, from: 0))
        #expect(probes.count == 1)
        let p = probes[0]
        #expect(p.ip.source == .unspecified && p.ip.destination == llA.solicitedNodeMulticast && p.ip.hopLimit == 255)
        #expect(p.to == llA.solicitedNodeMulticast.multicastMAC)
        guard case .neighborSolicitation(let ns) = p.message else { Issue.record("not an NS: \(p.message)"); return }
        #expect(ns.target == llA && ns.options.isEmpty)
        #expect(a.ipv6Counters.dadProbesSent == 1 && a.ipv6Counters.duplicateAddresses == 0)
        // Sent within MAX_RTR_SOLICITATION_DELAY; usable RetransTimer after.
        let sentAt = net.log.first { $0.from == 0 }!.time
        #expect(sentAt < Instant.zero + Duration.seconds(1))
    }

    @Test("ping6 link-local each way: NS/NA resolve first, then every echo is answered")
    func ping6LinkLocal() {
        let (net, a, b) = v6Pair { $0.ipv6.autoconfigures = false }
        a.startIPv6(now: net.now); b.startIPv6(now: net.now)
        net.run(for: .seconds(3))
        let ab = a.ping6(llB, count: 4, now: net.now)
        net.run(for: .seconds(6))
        let ba = b.ping6(llA, count: 3, now: net.now)
        net.run(for: .seconds(5))
        let r = a.pingResult(ab), s = b.pingResult(ba)
        #expect(r.isFinished && r.sent == 4 && r.received == 4 && r.targetIPv6 == llB)
        // NS, NA, echo, reply: four one-way delays for the first, two for the rest.
        #expect(r.probes[0].roundTripTime == .milliseconds(20))
        #expect(r.probes[1...].allSatisfy { $0.roundTripTime == .milliseconds(10) })
        #expect(r.description.hasPrefix("--- fe80::ff:fe00:b ping statistics ---\n4 packets transmitted, 4 received, 0% packet loss"))
        // B learned A from A's NS (source link-layer option): its pings need no resolution.
        #expect(s.sent == 3 && s.received == 3 && s.probes.allSatisfy { $0.roundTripTime == .milliseconds(10) })
        #expect(a.ipv6Counters.neighborSolicitationsSent == 1 && b.ipv6Counters.neighborSolicitationsSent == 0)
        #expect(b.ipv6Counters.neighborAdvertisementsSent == 1)
        #expect(a.neighborEntry(for: llB, now: net.now) == macB && b.neighborEntry(for: llA, now: net.now) == macA)
        #expect(b.ipv6Counters.echoRepliesSent == 4 && a.ipv6Counters.echoRepliesSent == 3)
        // Echo requests carry 56 data bytes and hop limit 64; replies go back from the link-local.
        let echoes = ipv6Frames(wire(net, from: 0)).filter { $0.frame[$0.parsed.upperLayerRange.lowerBound] == 128 }
        #expect(echoes.count == 4)
        #expect(echoes.allSatisfy { $0.parsed.ip.hopLimit == 64 && $0.parsed.upperLayerRange.count == 8 + 56 })
        // IPv4 counters untouched.
        #expect(a.counters.echoRequestsSent == 0 && a.counters.malformed == 0 && a.counters.unsupported == 0)
    }

    @Test("ping6 to a silent neighbour: three NS, then the probes waiting are dropped and counted")
    func ping6Unresolved() {
        let (net, a, _) = v6Pair { $0.ipv6.autoconfigures = false }
        a.startIPv6(now: net.now)
        net.run(for: .seconds(3))
        let nobody = IPv6Address("fe80::99")!
        let id = a.ping6(nobody, count: 2, timeout: .seconds(1), now: net.now)
        net.run(for: .seconds(8))
        let r = a.pingResult(id)
        #expect(r.isFinished && r.received == 0)
        #expect(a.ipv6Counters.neighborSolicitationsSent == 3 && a.ipv6Counters.neighborResolutionFailures == 1)
        #expect(a.ipv6Counters.neighborQueueDrops == 2)
    }

    @Test("DAD: a second host adding an address in use is told by an NA, counts the duplicate, and never uses it")
    func duplicateAgainstUsed() {
        let (net, a, b) = v6Pair { $0.ipv6.autoconfigures = false }
        let shared = IPv6Network("fd00::5/64")!
        b.addIPv6Address(shared, now: net.now)
        net.run(for: .seconds(3))
        #expect(b.ipv6Addresses.allSatisfy { $0.state == .preferred })
        a.addIPv6Address(shared, now: net.now)
        net.run(for: .seconds(3))
        let mine = a.ipv6Addresses.first { $0.address == shared.address }!
        #expect(mine.state == .duplicate && a.ipv6Counters.duplicateAddresses == 1)
        #expect(a.ipv6Addresses.first { $0.origin == .linkLocal }?.state == .preferred)
        #expect(b.ipv6Counters.duplicateAddresses == 0 && b.ipv6Counters.neighborAdvertisementsSent == 1)
        // B answered the DAD probe to all nodes, unsolicited (RFC 4861 §7.2.4).
        let na = ndp(wire(net, from: 1)).compactMap { m -> (IPv6Header, NDPNeighborAdvertisement)? in
            if case .neighborAdvertisement(let na) = m.message { (m.ip, na) } else { nil }
        }
        #expect(na.count == 1 && na[0].0.destination == .allNodes && !na[0].1.solicited && na[0].1.target == shared.address)
        // A never answers for it nor sends from it: its source for the prefix is the link-local.
        #expect(a.ipv6Counters.neighborAdvertisementsSent == 0)
        #expect(a.ipv6Source(for: IPv6Address("fd00::9")!) == llA)
    }

    @Test("DAD: two hosts probing one address at once both see the other's probe and both give it up")
    func simultaneousDuplicate() {
        let (net, a, b) = v6Pair { $0.ipv6.autoconfigures = false; $0.ipv6.maxRtrSolicitationDelay = .zero }
        let shared = IPv6Network("fd00::5/64")!
        a.addIPv6Address(shared, now: net.now); b.addIPv6Address(shared, now: net.now)
        net.run(for: .seconds(3))
        #expect(a.ipv6Counters.duplicateAddresses == 1 && b.ipv6Counters.duplicateAddresses == 1)
        #expect(a.ipv6GlobalAddress == nil && b.ipv6GlobalAddress == nil)
    }

    @Test("RS on start: three, 4 s apart after a seeded delay below 1 s; the first from ::")
    func routerSolicitations() {
        let (net, a, _) = v6Pair()
        a.startIPv6(now: net.now)
        net.run(for: .seconds(20))
        let rs = ndp(wire(net, from: 0)).filter { if case .routerSolicitation = $0.message { true } else { false } }
        #expect(rs.count == 3 && a.ipv6Counters.routerSolicitationsSent == 3)
        #expect(rs.allSatisfy { $0.ip.destination == .allRouters && $0.to == IPv6Address.allRouters.multicastMAC })
        let times = net.log.filter { $0.from == 0 }.compactMap { s -> Instant? in
            ndp([s.frame]).first.flatMap { if case .routerSolicitation = $0.message { s.time } else { nil } }
        }
        #expect(times[0] < Instant.zero + Duration.seconds(1))
        #expect(times[1] - times[0] == .seconds(4) && times[2] - times[1] == .seconds(4))
        // The later ones come from the link-local address with our link-layer address.
        #expect(rs[2].ip.source == llA && rs[2].message.sourceLinkLayerAddress == macA)
        if rs[0].ip.source.isUnspecified { #expect(rs[0].message.sourceLinkLayerAddress == nil) }
        // Seeded: the same seed gives the same frames at the same times.
        let (net2, a2, _) = v6Pair()
        a2.startIPv6(now: net2.now)
        net2.run(for: .seconds(20))
        #expect(wire(net2) == wire(net))
    }

    @Test("SLAAC from an injected RA: EUI-64 address after DAD, default router, MTU, RDNSS; RS stop")
    func slaac() {
        let (net, a, _) = v6Pair()
        a.startIPv6(now: net.now)
        net.run(for: .milliseconds(1500))
        let dns = IPv6Address("2001:db8::53")!
        let ra = routerAdvertisement(options: [
            .prefixInformation(NDPPrefixInformation(prefix: IPv6Address("2001:db8:1::")!, prefixLength: 64,
                                                    validLifetime: 600, preferredLifetime: 300)),
            .prefixInformation(NDPPrefixInformation(prefix: IPv6Address("2001:db8:2::")!, prefixLength: 64, autonomous: false,
                                                    validLifetime: 600, preferredLifetime: 300)),
            .prefixInformation(NDPPrefixInformation(prefix: IPv6Address("2001:db8:3::")!, prefixLength: 56,
                                                    validLifetime: 600, preferredLifetime: 300)),
            .mtu(1400), .recursiveDNSServers(lifetime: 600, servers: [dns]),
        ])
        net.inject(ra, to: 0)
        net.run(for: .milliseconds(100))
        let expected = IPv6Address("2001:db8:1::ff:fe00:a")!
        #expect(a.ipv6Addresses.map(\.address) == [llA, expected])
        #expect(a.ipv6Addresses[1].state == .tentative && a.ipv6Addresses[1].origin == .slaac)
        #expect(a.ipv6DefaultRouter == llRouter && a.ipv6LinkMTU == 1400 && a.ipv6DNSServers == [dns])
        #expect(a.ipv6Counters.routerAdvertisementsReceived == 1 && a.ipv6Counters.routerAdvertisementOptionsIgnored == 2)
        net.run(for: .seconds(2))
        #expect(a.ipv6GlobalAddress == expected)
        // No RS after the RA.
        #expect(a.ipv6Counters.routerSolicitationsSent == 1)
        // Off-link traffic goes to the router's MAC, learned from the RA; too big for the RA's MTU is refused.
        let far = IPv6Address("2001:db8:99::1")!
        a.ping6(far, count: 1, now: net.now)
        a.ping6(far, count: 1, size: 1400, now: net.now)
        net.run(for: .seconds(2))
        let toRouter = ipv6Frames(wire(net, from: 0)).filter { $0.parsed.ip.destination == far }
        #expect(toRouter.count == 1 && toRouter[0].parsed.ethernet.destination == macRouter && toRouter[0].parsed.ip.source == expected)
        #expect(a.ipv6Counters.tooBig == 1)
        // Preferred lifetime over: deprecated; valid over: gone, and the RDNSS servers too.
        net.run(for: .seconds(300))
        #expect(a.ipv6Addresses.last?.state == .deprecated)
        net.run(for: .seconds(300))
        #expect(a.ipv6Addresses.map(\.address) == [llA] && a.ipv6DNSServers.isEmpty)
        // A router lifetime of 0 removes the default router.
        net.inject(routerAdvertisement(lifetime: 0, options: []), to: 0)
        net.run(for: .milliseconds(10))
        #expect(a.ipv6DefaultRouter == nil)
    }

    @Test("random and mutated IPv6 frames: no crash, every packet counted once")
    func robustness() {
        let (net, a, _) = v6Pair { $0.ipv6.autoconfigures = false }
        a.startIPv6(now: net.now)
        net.run(for: .seconds(3))
        var random = SeededRandom(seed: 7, component: "fuzz")
        let seedFrame = routerAdvertisement(options: [.mtu(1400)])
        for i in 0..<5000 {
            var f = seedFrame
            if i % 2 == 0 {
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    f[14 + Int(random.next() % UInt64(f.count - 14))] = UInt8(truncatingIfNeeded: random.next())
                }
                if random.next() % 3 == 0 { f.removeLast(Int(random.next() % UInt64(f.count - 14))) }
            } else {
                f = Array(f.prefix(14)) + (0..<Int(random.next() % 120)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            a.receive(f, now: net.now)
        }
        let c = a.ipv6Counters
        let handled = c.malformed + c.notForUs + c.unsupported + c.routerAdvertisementsReceived + c.neighborSolicitationsReceived
            + c.neighborAdvertisementsReceived + c.echoRequestsReceived + c.echoRepliesReceived
        #expect(c.packetsReceived == 5000 && handled == 5000)
        #expect(c.malformed > 2000)
    }
}
