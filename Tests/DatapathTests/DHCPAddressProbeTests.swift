import Basics
@testable import Datapath
import Testing
import Wire

@Suite("DHCP address probe and restore")
struct DHCPAddressProbeTests {
    let a = DHCPFixture.address
    let t = DHCPFixture.at

    func probing() throws -> DHCPServer {
        try DHCPFixture.server { $0.probeTimeout = .milliseconds(500) }
    }

    @Test("An offer waits for its probe: one ARP probe asked for, the offer at the deadline")
    func offerWaitsForProbe() throws {
        var server = try probing()
        let client = DHCPTestClient(1)
        #expect(server.receive(client.discover(), now: t(10)) == nil)
        #expect(server.takeAddressProbes() == [a(100)])
        #expect(server.takeAddressProbes().isEmpty)
        #expect(server.nextDeadline() == t(10) + .milliseconds(500))
        // A retransmission while probing: no second probe, still no offer.
        #expect(server.receive(client.discover(), now: t(10) + .milliseconds(100)) == nil)
        #expect(server.takeAddressProbes().isEmpty)
        #expect(server.finishProbes(now: t(10) + .milliseconds(499)).isEmpty)
        let offers = server.finishProbes(now: t(10) + .milliseconds(500))
        #expect(offers.count == 1)
        #expect(offers.first?.message.messageType == .offer && offers.first?.message.yiaddr == a(100))
        #expect(server.counters.probesSent == 1 && server.counters.conflicts == 0)
        // The client's select binds it; its renewals and a new DISCOVER are not probed again.
        #expect(server.receive(client.select(a(100), server: DHCPFixture.server), now: t(11))?.message.messageType == .ack)
        #expect(server.receive(client.discover(), now: t(12))?.message.yiaddr == a(100))
        #expect(server.takeAddressProbes().isEmpty)
    }

    @Test("A probe answered: conflict counted, the address held out, the next one probed and offered")
    func answeredProbeSkipsAddress() throws {
        var server = try probing()
        let client = DHCPTestClient(1)
        _ = server.receive(client.discover(), now: t(10))
        #expect(server.takeAddressProbes() == [a(100)])
        #expect(server.addressAnswered(a(100), now: t(10) + .milliseconds(3)) == nil)
        #expect(server.counters.conflicts == 1)
        #expect(server.takeAddressProbes() == [a(101)])
        // An answer for an address not being probed changes nothing.
        #expect(server.addressAnswered(a(100), now: t(10) + .milliseconds(4)) == nil)
        #expect(server.counters.conflicts == 1)
        let offers = server.finishProbes(now: t(11))
        #expect(offers.map(\.message.yiaddr) == [a(101)])
        // Another client is not offered the conflicted address while it is held out ...
        let other = DHCPTestClient(2)
        _ = server.receive(other.discover(requesting: a(100)), now: t(12))
        #expect(server.takeAddressProbes() == [a(102)])
        // ... nor may it request it.
        #expect(server.receive(other.select(a(100), server: DHCPFixture.server), now: t(12))?.message.messageType == .nak)
        // After the decline hold time it is free again.
        server.expire(now: t(12) + .seconds(600))
        #expect(server.conflictHolds.isEmpty)
    }

    @Test("Without a probe timeout nothing changes: the offer comes at once")
    func noProbeByDefault() throws {
        var server = try DHCPFixture.server()
        #expect(server.receive(DHCPTestClient(1).discover(), now: t(1))?.message.yiaddr == a(100))
        #expect(server.takeAddressProbes().isEmpty)
    }

    @Test("Probe timeouts outside (0, 10 s] are refused")
    func probeTimeoutRange() {
        for bad in [Duration.zero, .seconds(11)] {
            #expect(throws: DHCPConfigurationError.self) { try DHCPFixture.server { $0.probeTimeout = bad } }
        }
    }

    @Test("Restored leases: the holder renews and INIT-REBOOTs, nobody else is offered its address")
    func restoredLeases() throws {
        var first = try DHCPFixture.server()
        let one = DHCPTestClient(1), two = DHCPTestClient(2)
        #expect(first.dora(one, now: t(10)) == a(100))
        // A new server (a restart) given the records back.
        var server = try DHCPFixture.server()
        for lease in first.leases { #expect(server.restore(lease) == nil) }
        #expect(server.receive(two.discover(), now: t(20))?.message.yiaddr == a(101))
        #expect(server.receive(one.renew(a(100)), now: t(21))?.message.messageType == .ack)
        #expect(server.receive(one.reboot(a(100)), now: t(22))?.message.messageType == .ack)
        #expect(server.lease(for: a(100))?.expiry == t(22) + .seconds(3600))
        // Refusals: an offer, an address outside the subnet, a duplicate.
        var offered = first.leases[0]; offered.state = .offered
        #expect(server.restore(offered) == .offer)
        var foreign = first.leases[0]; foreign.address = IPv4Address(192, 0, 2, 1)
        #expect(server.restore(foreign) == .notInSubnet)
        #expect(server.restore(first.leases[0]) == .duplicate)
        #expect(server.table.violations().isEmpty)
    }

    @Test("A restored lease that ran out while the server was down expires at once")
    func restoredExpiredLease() throws {
        var first = try DHCPFixture.server()
        #expect(first.dora(DHCPTestClient(1), now: t(10)) == a(100))
        var server = try DHCPFixture.server()
        for lease in first.leases { #expect(server.restore(lease) == nil) }
        #expect(server.receive(DHCPTestClient(2).discover(), now: t(10) + .seconds(3601))?.message.yiaddr == a(100))
        #expect(server.counters.leasesExpired == 1)
    }

    @Test("The revision moves with every change to the records")
    func revisionMoves() throws {
        var server = try DHCPFixture.server()
        let r0 = server.revision
        _ = server.dora(DHCPTestClient(1), now: t(1))
        #expect(server.revision > r0)
        let r1 = server.revision
        _ = server.receive(DHCPTestClient(1).inform(a(100)), now: t(2))
        #expect(server.revision == r1)
    }
}
