import Basics
@testable import HostStack
import Testing
import Wire

/// RFC 5227's timers divided by ten: PROBE_WAIT 100 ms, PROBE_MIN/MAX 100/200 ms, ANNOUNCE_WAIT
/// 200 ms, ANNOUNCE_INTERVAL 200 ms, DEFEND_INTERVAL 1 s.
let fastACD = AddressConflictDetectionConfiguration.rfc5227.scaled(down: 10)

@Suite("RFC 5227 address conflict detection")
struct AddressConflictDetectionTests {
    @Test("A static address is probed three times, then claimed and announced twice")
    func probeThenAnnounce() {
        let net = TestNetwork(delay: .milliseconds(1))
        let a = host("a", macA) { $0.addressConflictDetection = fastACD }
        net.attach(a)
        a.configureStatic(address: IPv4Network("10.0.0.1/24")!, now: net.now)
        #expect(a.address == nil && a.probingAddress == ipA)
        net.run(for: .seconds(2))

        let arp = net.frames(from: 0).compactMap { s in s.frame.arp.map { (s.time, $0) } }
        let probes = arp.filter { $0.1.senderProtocolAddress == .any }
        let announcements = arp.filter { $0.1.senderProtocolAddress == ipA }
        #expect(probes.count == 3 && announcements.count == 2)
        #expect(probes.allSatisfy { $0.1.operation == .request && $0.1.targetProtocolAddress == ipA
                && $0.1.senderHardwareAddress == macA && $0.1.targetHardwareAddress == .zero })
        #expect(announcements.allSatisfy { $0.1.targetProtocolAddress == ipA && $0.1.operation == .request })
        #expect(probes[0].0 <= .at(.milliseconds(100)))
        for (later, earlier) in zip(probes.dropFirst(), probes) {
            #expect(later.0 - earlier.0 >= .milliseconds(100) && later.0 - earlier.0 <= .milliseconds(200))
        }
        // ANNOUNCE_WAIT after the last probe the address is ours, announced at once and once more.
        let claimed = probes[2].0 + .milliseconds(200)
        #expect(announcements.map(\.0) == [claimed, claimed + .milliseconds(200)])
        #expect(a.firstEvent { $0 == .addressConfigured(IPv4Network("10.0.0.1/24")!, .static) }?.time == claimed)
        #expect(a.address == IPv4Network("10.0.0.1/24") && a.probingAddress == nil)
        #expect(a.counters.arpProbesSent == 3 && a.counters.arpAnnouncementsSent == 2)
    }

    @Test("An answer to a probe is a conflict: the static address is not used")
    func staticConflict() {
        let (net, _, b) = backToBack(delay: .milliseconds(1))
        let c = host("c", MACAddress(0x02, 0, 0, 0, 0, 0x0C)) { $0.addressConflictDetection = fastACD }
        net.attach(c)
        c.configureStatic(address: IPv4Network("10.0.0.2/24")!, now: net.now)   // B's address
        net.run(for: .seconds(2))
        #expect(c.address == nil && c.probingAddress == nil)
        let conflict = c.events.compactMap { if case .addressConflict(let x) = $0.kind { x } else { nil } }
        #expect(conflict == [AddressConflict(address: ipB, claimant: macB, phase: .probing, response: .abandoned)])
        #expect(c.counters.arpProbesSent == 1)
        #expect(b.counters.arpRepliesSent == 1)
    }

    @Test("A DHCP address found in use is declined; the client waits ten seconds and starts over")
    func dhcpDecline() throws {
        let net = TestNetwork(delay: .milliseconds(1))
        let a = host("a", macA) { $0.addressConflictDetection = fastACD }
        let server = FakeDHCPServer()
        let squatter = host("squatter", macB)
        net.attach(a); net.attach(server); net.attach(squatter)
        squatter.configureStatic(address: IPv4Network("10.0.0.50/24")!, now: net.now)
        a.startDHCP(now: net.now)
        net.run(for: .seconds(1))

        #expect(server.received.map(\.message.messageType) == [.discover, .request, .decline])
        let decline = server.received[2]
        #expect(decline.message.options.requestedIPAddress == offered)
        #expect(decline.message.options.serverIdentifier == server.ip)
        #expect(decline.message.ciaddr == .any && decline.ipSource == .any && decline.ipDestination == .broadcast)
        #expect(a.address == nil && a.dhcpState == .initial)
        #expect(a.dhcpTransitions == ["STOPPED→SELECTING", "SELECTING→REQUESTING", "REQUESTING→CHECKING", "CHECKING→INIT"])
        #expect(a.firstEvent { if case .addressConflict(let c) = $0 { c.phase == .probing && c.claimant == macB } else { false } } != nil)

        server.offerAddress = IPv4Address(10, 0, 0, 51)
        net.run(for: .seconds(12))
        let discovers = server.messages(.discover)
        try #require(discovers.count == 2)
        #expect(discovers[1].time - decline.time == .seconds(10) + .milliseconds(0))
        #expect(a.dhcpState == .bound && a.address == IPv4Network("10.0.0.51/24"))
        #expect(a.counters.arpAnnouncementsSent == 2)
    }

    @Test("Stopping DHCP while its address is being probed abandons the probe")
    func stopWhileChecking() {
        let net = TestNetwork(delay: .milliseconds(1))
        let a = host("a", macA) { $0.addressConflictDetection = fastACD }
        let server = FakeDHCPServer()
        net.attach(a); net.attach(server)
        a.startDHCP(now: net.now)
        net.run(for: .milliseconds(10))
        #expect(a.dhcpState == .checking && a.probingAddress == offered)
        a.stopDHCP(now: net.now)
        #expect(a.probingAddress == nil && a.dhcpState == .stopped)
        let before = net.log.count
        net.run(for: .seconds(5))
        #expect(net.log.count == before && a.address == nil)
    }

    @Test("A conflict while in use is defended once, then the address is given up")
    func defendThenRelinquish() {
        let net = TestNetwork(delay: .milliseconds(1))
        let a = host("a", macA) { $0.addressConflictDetection = fastACD }
        net.attach(a)
        a.configureStatic(address: IPv4Network("10.0.0.1/24")!, now: net.now)
        net.run(for: .seconds(2))
        #expect(a.address != nil)
        let claim = Frames.arp(ARPPacket.request(from: macB, ipA, asking: IPv4Address(10, 0, 0, 9)), from: macB)
        let announcementsBefore = a.counters.arpAnnouncementsSent
        net.inject(claim, to: 0)
        net.run(for: .milliseconds(500))
        #expect(a.address != nil)
        #expect(a.counters.arpAnnouncementsSent == announcementsBefore + 1)
        net.inject(claim, to: 0)
        net.run(for: .milliseconds(10))
        #expect(a.address == nil)
        let responses = a.events.compactMap { if case .addressConflict(let c) = $0.kind { c.response } else { nil } }
        #expect(responses == [.defended, .relinquished])
    }

    @Test("Without conflict detection configured, a conflict is noted and the address kept")
    func conflictNotedOnly() {
        let (net, a, _) = backToBack()
        net.inject(Frames.arp(ARPPacket.request(from: macRouter, ipA, asking: ipB), from: macRouter), to: 0)
        net.run(for: .milliseconds(10))
        #expect(a.address != nil)
        let conflicts = a.events.compactMap { if case .addressConflict(let c) = $0.kind { c } else { nil } }
        #expect(conflicts == [AddressConflict(address: ipA, claimant: macRouter, phase: .inUse, response: .ignored)])
    }

    @Test("Another host's probe for our address is answered, not treated as a conflict")
    func probeForOurAddress() {
        let (net, a, _) = backToBack()
        net.inject(Frames.arp(ARPPacket.request(from: macRouter, .any, asking: ipA), from: macRouter), to: 0)
        net.run(for: .milliseconds(10))
        #expect(a.address != nil)
        #expect(a.counters.arpRepliesSent == 1)
        #expect(!a.events.contains { if case .addressConflict = $0.kind { true } else { false } })
        // And a probe teaches nothing: 0.0.0.0 is not cached.
        #expect(a.arpEntry(for: .any, now: net.now) == nil)
    }
}
