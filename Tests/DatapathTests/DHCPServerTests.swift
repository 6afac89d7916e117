import Basics
@testable import Datapath
import Testing
import Wire

@Suite("DHCP server")
struct DHCPServerTests {
    let serverAddress = DHCPFixture.server
    let a = DHCPFixture.address
    let t = DHCPFixture.at

    // MARK: DORA

    @Test("DISCOVER, OFFER, REQUEST, ACK: fields, options and lease per RFC 2131 Table 3")
    func fullDORA() throws {
        var server = try DHCPFixture.server()
        var client = DHCPTestClient(1, clientID: [1, 0x52, 0x54, 0, 0, 0, 1])
        client.hostName = "vm1"
        let discover = client.discover()

        let offer = try server.answer(discover, now: t(10))
        let o = offer.message
        #expect(o.messageType == .offer)
        #expect(o.op == .bootReply && o.hops == 0 && o.secs == 0)
        #expect(o.xid == discover.xid && o.chaddr == discover.chaddr && o.flags == discover.flags)
        #expect(o.ciaddr == .any && o.yiaddr == a(100) && o.giaddr == .any)
        #expect(o.options.serverIdentifier == serverAddress)
        #expect(o.options.leaseTime == 3600 && o.options.renewalTime == 1800 && o.options.rebindingTime == 3150)
        #expect(o.options.subnetMask == IPv4Address(255, 255, 255, 0))
        #expect(o.options.routers == [serverAddress])
        #expect(o.options.domainNameServers == [a(53), IPv4Address(9, 9, 9, 9)])
        #expect(o.options.domainName == "lab.test")
        #expect(o.options.broadcastAddress == a(255))
        // RFC 6842: the client identifier comes back; Table 3: no 50, 55, 57.
        #expect(o.options.clientIdentifier == client.clientID)
        for code in [DHCPOptionCode.requestedIPAddress, .parameterRequestList, .maximumMessageSize] {
            #expect(!o.options.contains(code))
        }
        // RFC 2132 §3.3: subnet mask before router; §9.8: then the client's order.
        let codes = o.options.codes
        #expect(codes.firstIndex(of: .subnetMask)! < codes.firstIndex(of: .router)!)
        #expect(codes.firstIndex(of: .router)! < codes.firstIndex(of: .domainNameServer)!)
        #expect(codes.firstIndex(of: .domainNameServer)! < codes.firstIndex(of: .domainName)!)
        #expect(offer.destination == .unicast(a(100), client.mac))
        #expect(server.lease(for: a(100))?.state == .offered)
        #expect(server.lease(for: a(100))?.expiry == t(10) + .seconds(30))

        let ack = try server.answer(client.select(a(100), server: serverAddress), now: t(11))
        #expect(ack.message.messageType == .ack)
        #expect(ack.message.yiaddr == a(100) && ack.message.xid == client.xid)
        #expect(ack.message.options.leaseTime == 3600)
        #expect(ack.message.options.serverIdentifier == serverAddress)
        let lease = try #require(server.lease(for: a(100)))
        #expect(lease.state == .bound)
        #expect(lease.expiry == t(11) + .seconds(3600))
        #expect(lease.client == .clientIdentifier(client.clientID!))
        #expect(lease.mac == client.mac && lease.hostName == "vm1")
        #expect(server.nextDeadline() == t(3611))

        #expect(server.counters.received(.discover) == 1 && server.counters.received(.request) == 1)
        #expect(server.counters.sent(.offer) == 1 && server.counters.sent(.ack) == 1)
        #expect(server.counters.drops.total == 0)

        // The reply survives the wire: emit, parse, compare.
        var bytes = [UInt8](repeating: 0xAA, count: 600)
        let n = try bytes.withUnsafeMutableBytes { try ack.message.emit(into: $0) }
        let parsed = try bytes.withUnsafeBytes { try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        #expect(parsed == ack.message)
    }

    @Test("two clients get distinct addresses, lowest first")
    func twoClientsDistinct() throws {
        var server = try DHCPFixture.server()
        let first = server.dora(DHCPTestClient(1), now: t(0))
        let second = server.dora(DHCPTestClient(2), now: t(0))
        #expect(first == a(100))
        #expect(second == a(101))
        // An outstanding offer also keeps its address from the next client.
        let third = try server.answer(DHCPTestClient(3).discover(), now: t(1))
        let fourth = try server.answer(DHCPTestClient(4).discover(), now: t(1))
        #expect(third.message.yiaddr == a(102) && fourth.message.yiaddr == a(103))
        #expect(server.leases.map(\.address) == [a(100), a(101), a(102), a(103)])
    }

    @Test("a requested address is honoured when free and in the pool, and only then")
    func requestedAddressHonoured() throws {
        var server = try DHCPFixture.server()
        #expect(server.dora(DHCPTestClient(1), now: t(0), requesting: a(150)) == a(150))
        // held by client 1 → lowest free instead
        #expect(server.receive(DHCPTestClient(2).discover(requesting: a(150)), now: t(0))?.message.yiaddr == a(100))
        // outside the pool, outside the subnet, the server's own → lowest free
        #expect(server.receive(DHCPTestClient(3).discover(requesting: a(20)), now: t(0))?.message.yiaddr == a(101))
        #expect(server.receive(DHCPTestClient(4).discover(requesting: IPv4Address(10, 9, 0, 5)), now: t(0))?.message.yiaddr == a(102))
        #expect(server.receive(DHCPTestClient(5).discover(requesting: serverAddress), now: t(0))?.message.yiaddr == a(103))
    }

    @Test("reservations by MAC and by client identifier, outside the pool, kept from others")
    func reservations() throws {
        let byMAC = DHCPTestClient(7)
        let byID = DHCPTestClient(8, clientID: [0, 0x61, 0x62])
        var server = try DHCPFixture.server {
            $0.reservations = [DHCPReservation(.mac(byMAC.mac), address: IPv4Address(10, 0, 0, 50)),
                               DHCPReservation(.clientIdentifier([0, 0x61, 0x62]), address: IPv4Address(10, 0, 0, 120))]
        }
        #expect(server.dora(byMAC, now: t(0)) == a(50))
        #expect(server.dora(byID, now: t(0)) == a(120))
        // a reservation beats the requested address
        var again = DHCPTestClient(7); again.xid = 99
        #expect(server.receive(again.discover(requesting: a(160)), now: t(1))?.message.yiaddr == a(50))
        // another client can neither be offered nor request a reserved address
        let other = DHCPTestClient(9)
        #expect(server.receive(other.discover(requesting: a(120)), now: t(2))?.message.yiaddr == a(100))
        let nak = try server.answer(other.select(a(50), server: serverAddress), now: t(2))
        #expect(nak.message.messageType == .nak)
        // the reserved address in the pool is skipped when .120 is free but reserved
        #expect(server.receive(byID.release(a(120), server: serverAddress), now: t(3)) == nil)
        for n in 10...40 { _ = server.dora(DHCPTestClient(UInt8(n)), now: t(3)) }
        #expect(server.lease(for: a(120))?.client == .clientIdentifier([0, 0x61, 0x62]))
        #expect(server.lease(for: a(120))?.state == .released)
    }

    // MARK: INIT-REBOOT, RENEWING, REBINDING

    @Test("INIT-REBOOT: ACK for the client's address, NAK for the wrong subnet or address, silence for strangers")
    func initReboot() throws {
        var server = try DHCPFixture.server()
        let client = DHCPTestClient(1)
        #expect(server.dora(client, now: t(0)) == a(100))

        let ack = try server.answer(client.reboot(a(100)), now: t(100))
        #expect(ack.message.messageType == .ack && ack.message.yiaddr == a(100))
        #expect(server.lease(for: a(100))?.expiry == t(3700))

        let wrongNet = try server.answer(client.reboot(IPv4Address(192, 168, 5, 10)), now: t(101))
        #expect(wrongNet.message.messageType == .nak)
        #expect(wrongNet.message.options.message?.contains("10.0.0.1/24") == true)
        #expect(wrongNet.destination == .broadcast)

        let wrongAddress = try server.answer(client.reboot(a(140)), now: t(102))
        #expect(wrongAddress.message.messageType == .nak)

        // §4.3.2: "If the DHCP server has no record of this client, then it MUST remain silent"
        #expect(server.receive(DHCPTestClient(2).reboot(a(140)), now: t(103)) == nil)
        #expect(server.counters.drops[.unknownClient] == 1)
        #expect(server.counters.naks == 2)
    }

    @Test("RENEWING (unicast) and REBINDING (broadcast) extend the lease")
    func renewAndRebind() throws {
        var server = try DHCPFixture.server()
        let client = DHCPTestClient(1)
        #expect(server.dora(client, now: t(0)) == a(100))

        let renew = try server.answer(client.renew(a(100)), now: t(1800))
        #expect(renew.message.messageType == .ack)
        #expect(renew.message.ciaddr == a(100) && renew.message.yiaddr == a(100))
        #expect(renew.destination == .unicast(a(100), client.mac))
        #expect(server.lease(for: a(100))?.expiry == t(5400))

        let rebind = try server.answer(client.renew(a(100), rebinding: true), now: t(5400 - 400))
        #expect(rebind.message.messageType == .ack && rebind.message.yiaddr == a(100))
        #expect(server.lease(for: a(100))?.expiry == t(8600))

        // past the first lease's end: still bound
        server.expire(now: t(3601))
        #expect(server.lease(for: a(100))?.state == .bound)
        // renewing someone else's address, or as a stranger
        #expect(server.receive(client.renew(a(101)), now: t(5001))?.message.messageType == .nak)
        #expect(server.receive(DHCPTestClient(2).renew(a(100)), now: t(5002)) == nil)
    }

    // MARK: RELEASE, DECLINE, INFORM

    @Test("RELEASE frees the address; the client gets it back, others may take it")
    func releaseFrees() throws {
        var server = try DHCPFixture.server()
        let one = DHCPTestClient(1), two = DHCPTestClient(2), three = DHCPTestClient(3)
        #expect(server.dora(one, now: t(0), requesting: a(150)) == a(150))
        #expect(server.receive(one.release(a(150), server: serverAddress), now: t(10)) == nil)
        #expect(server.lease(for: a(150))?.state == .released)
        #expect(server.nextDeadline() == nil)
        // RFC 2131 §4.3.1: the client's previous address before the lowest free one
        #expect(server.dora(one, now: t(20)) == a(150))
        #expect(server.receive(one.release(a(150), server: serverAddress), now: t(30)) == nil)
        // others get the lowest free address, and may take the released one when they ask
        #expect(server.dora(two, now: t(40)) == a(100))
        #expect(server.dora(three, now: t(41), requesting: a(150)) == a(150))
        #expect(server.lease(for: a(150))?.client == three.identity)
        // a release for an address the client does not hold is ignored
        #expect(server.receive(one.release(a(150), server: serverAddress), now: t(50)) == nil)
        #expect(server.lease(for: a(150))?.state == .bound)
        #expect(server.counters.drops[.notClientsAddress] == 1)
        // the client whose address was taken is a new client now
        #expect(server.dora(one, now: t(60)) == a(101))
        #expect(server.table.violations().isEmpty)
    }

    @Test("DECLINE takes the address out of use until the hold ends")
    func declineQuarantines() throws {
        var server = try DHCPFixture.server { $0.declineHoldTime = .seconds(600) }
        let one = DHCPTestClient(1), two = DHCPTestClient(2)
        #expect(server.dora(one, now: t(0)) == a(100))
        #expect(server.receive(one.decline(a(100), server: serverAddress), now: t(1)) == nil)
        #expect(server.lease(for: a(100))?.state == .declined)
        #expect(server.nextDeadline() == t(601))
        // neither the decliner nor anyone else gets it meanwhile
        #expect(server.dora(one, now: t(12)) == a(101))
        #expect(server.dora(two, now: t(13), requesting: a(100)) == a(102))
        server.expire(now: t(601))
        #expect(server.lease(for: a(100)) == nil)
        #expect(server.counters.declinesEnded == 1)
        #expect(server.dora(DHCPTestClient(3), now: t(602)) == a(100))
    }

    @Test("INFORM gets a DHCPACK with configuration, no lease and no yiaddr, sent to ciaddr")
    func inform() throws {
        var server = try DHCPFixture.server()
        let client = DHCPTestClient(1)
        let reply = try server.answer(client.inform(a(20)), now: t(0))
        let m = reply.message
        #expect(m.messageType == .ack)
        #expect(m.yiaddr == .any && m.ciaddr == a(20))
        #expect(m.options.leaseTime == nil && m.options.renewalTime == nil && m.options.rebindingTime == nil)
        #expect(m.options.serverIdentifier == serverAddress)
        #expect(m.options.subnetMask != nil && m.options.routers == [serverAddress])
        #expect(m.options.domainNameServers?.count == 2)
        #expect(reply.destination == .unicast(a(20), client.mac))
        #expect(server.leases.isEmpty)
        // without ciaddr there is no one to answer
        var noAddress = client.inform(a(20)); noAddress.ciaddr = .any
        #expect(server.receive(noAddress, now: t(1)) == nil)
        #expect(server.counters.drops[.missingAddress] == 1)
    }

    // MARK: Exhaustion, expiry, identity

    @Test("a pool of two serves two clients; the third gets nothing and is counted")
    func poolExhaustion() throws {
        var server = try DHCPServer(configuration: DHCPFixture.configuration(poolSize: 2))
        #expect(server.dora(DHCPTestClient(1), now: t(0)) == a(100))
        #expect(server.dora(DHCPTestClient(2), now: t(0)) == a(101))
        #expect(server.receive(DHCPTestClient(3).discover(), now: t(1)) == nil)
        #expect(server.counters.drops[.poolExhausted] == 1)
        #expect(server.counters.sent(.offer) == 2)
        // a bound client still gets its own address offered
        #expect(server.receive(DHCPTestClient(1).discover(), now: t(2))?.message.yiaddr == a(100))
    }

    @Test("an expired lease frees its address for reuse; an unanswered offer lapses")
    func leaseExpiry() throws {
        var server = try DHCPServer(configuration: DHCPFixture.configuration(poolSize: 1))
        _ = try server.answer(DHCPTestClient(9).discover(), now: t(0))
        #expect(server.nextDeadline() == t(30))
        server.expire(now: t(29))
        #expect(server.lease(for: a(100))?.state == .offered)
        server.expire(now: t(30))
        #expect(server.lease(for: a(100)) == nil)
        #expect(server.counters.offersExpired == 1)

        #expect(server.dora(DHCPTestClient(1), now: t(100)) == a(100))
        #expect(server.receive(DHCPTestClient(2).discover(), now: t(200)) == nil)
        #expect(server.nextDeadline() == t(3700))
        server.expire(now: t(3700))
        #expect(server.lease(for: a(100))?.state == .expired)
        #expect(server.counters.leasesExpired == 1)
        #expect(server.nextDeadline() == nil)
        #expect(server.dora(DHCPTestClient(2), now: t(3701)) == a(100))
        // receive expires on its own: no expire(now:) call needed
        #expect(server.dora(DHCPTestClient(3), now: t(3701 + 3600)) == a(100))
    }

    @Test("the client identifier, when present, names the client rather than chaddr (RFC 2131 §4.2)")
    func clientIdentifierIdentity() throws {
        var server = try DHCPFixture.server()
        // same client identifier, new NIC → same address
        var withID = DHCPTestClient(1, clientID: [0xFF, 1, 2, 3])
        #expect(server.dora(withID, now: t(0)) == a(100))
        withID.mac = MACAddress(0x52, 0x54, 0x00, 0xEE, 0xEE, 0xEE)
        #expect(server.dora(withID, now: t(1)) == a(100))
        // same chaddr, different identifier → a different client
        let sameMAC = DHCPTestClient(1, clientID: [0xFF, 9, 9, 9])
        #expect(server.dora(sameMAC, now: t(2)) == a(101))
        // no identifier: chaddr names the client
        let plain = DHCPTestClient(1)
        #expect(server.dora(plain, now: t(3)) == a(102))
        #expect(server.dora(plain, now: t(4)) == a(102))
        #expect(server.leases.count == 3)
    }

    // MARK: SELECTING outcomes

    @Test("a REQUEST naming an address another client holds is NAKed, per Table 3")
    func nakForAnotherAddress() throws {
        var server = try DHCPFixture.server()
        #expect(server.dora(DHCPTestClient(1), now: t(0)) == a(100))
        let intruder = DHCPTestClient(2)
        let reply = try server.answer(intruder.select(a(100), server: serverAddress), now: t(1))
        let m = reply.message
        #expect(m.messageType == .nak)
        #expect(m.yiaddr == .any && m.ciaddr == .any && m.siaddr == .any)
        #expect(m.options.serverIdentifier == serverAddress)
        #expect(m.options.leaseTime == nil && m.options.subnetMask == nil && m.options.routers == nil)
        #expect(m.options.message != nil)
        #expect(reply.destination == .broadcast)
        #expect(server.lease(for: a(100))?.client == DHCPTestClient(1).identity)
        #expect(server.counters.naks == 1)
    }

    @Test("a REQUEST for another server withdraws our offer")
    func otherServerSelected() throws {
        var server = try DHCPFixture.server()
        let client = DHCPTestClient(1)
        _ = try server.answer(client.discover(), now: t(0))
        #expect(server.receive(client.select(a(100), server: IPv4Address(10, 0, 0, 2)), now: t(1)) == nil)
        #expect(server.lease(for: a(100)) == nil)
        #expect(server.counters.drops[.otherServerSelected] == 1)
    }

    @Test("an ACK after the offer lapsed still binds a free address")
    func requestAfterOfferLapsed() throws {
        var server = try DHCPFixture.server()
        let client = DHCPTestClient(1)
        _ = try server.answer(client.discover(), now: t(0))
        let ack = try server.answer(client.select(a(100), server: serverAddress), now: t(100))
        #expect(ack.message.messageType == .ack)
        #expect(server.lease(for: a(100))?.state == .bound)
        #expect(server.counters.offersExpired == 1)
    }

    // MARK: Reply addressing (RFC 2131 §4.1)

    @Test("reply destination: relay, NAK broadcast, ciaddr, BROADCAST bit, yiaddr/chaddr")
    func replyAddressing() throws {
        var server = try DHCPFixture.server()
        let mac = DHCPTestClient(1).mac

        // giaddr set → the relay agent's server port, NAK included (with the broadcast bit set)
        var relayed = DHCPTestClient(1).discover()
        relayed.giaddr = a(254)
        let viaRelay = try server.answer(relayed, now: t(0))
        #expect(viaRelay.destination == .relay(a(254)))
        #expect(viaRelay.destination.udpPort == 67)
        #expect(viaRelay.message.giaddr == a(254))
        var relayedNak = DHCPTestClient(5).select(a(100), server: serverAddress)
        relayedNak.giaddr = a(254)
        let nakViaRelay = try server.answer(relayedNak, now: t(0))
        #expect(nakViaRelay.message.messageType == .nak)
        #expect(nakViaRelay.destination == .relay(a(254)) && nakViaRelay.message.isBroadcast)
        // a relay on another network is not served
        relayed.giaddr = IPv4Address(10, 5, 0, 1)
        #expect(server.receive(relayed, now: t(0)) == nil)
        #expect(server.counters.drops[.foreignNetwork] == 1)

        // NAK without giaddr → broadcast even with the bit clear, even with ciaddr set
        let nak = try server.answer(DHCPTestClient(2).select(a(100), server: serverAddress), now: t(0))
        #expect(nak.destination == .broadcast && !nak.message.isBroadcast)
        #expect(server.dora(DHCPTestClient(7), now: t(0)) == a(101))
        let renewNak = try server.answer(DHCPTestClient(7).renew(a(103)), now: t(0))
        #expect(renewNak.message.messageType == .nak)
        #expect(renewNak.destination == .broadcast)

        // ciaddr set → unicast to ciaddr
        #expect(server.dora(DHCPTestClient(3), now: t(0)) == a(102))
        let renew = try server.answer(DHCPTestClient(3).renew(a(102), rebinding: true), now: t(1))
        #expect(renew.destination == .unicast(a(102), DHCPTestClient(3).mac))

        // BROADCAST bit → broadcast
        let loud = try server.answer(DHCPTestClient(4, broadcast: true).discover(), now: t(2))
        #expect(loud.destination == .broadcast)
        #expect(loud.destination.ipAddress == .broadcast && loud.destination.udpPort == 68)

        // otherwise unicast to yiaddr and chaddr
        let quiet = try server.answer(DHCPTestClient(1).discover(), now: t(3))
        #expect(quiet.destination == .unicast(quiet.message.yiaddr, mac))

        // a chaddr that is not Ethernet cannot be unicast to
        var token = DHCPTestClient(6).discover()
        token.htype = 6
        let tokenReply = try server.answer(token, now: t(4))
        #expect(tokenReply.destination == .broadcast)
    }

    // MARK: Robustness and reporting

    @Test("messages a server must ignore are dropped and counted by reason")
    func dropsByReason() throws {
        var server = try DHCPFixture.server()
        var reply = DHCPTestClient(1).discover(); reply.op = .bootReply
        var bootp = DHCPTestClient(1).discover(); bootp.messageType = nil
        var offer = DHCPTestClient(1).discover(); offer.messageType = .offer
        var anonymous = DHCPTestClient(1).discover(); anonymous.hlen = 0
        var noAddress = DHCPTestClient(1).reboot(a(100)); noAddress.options.requestedIPAddress = nil
        for m in [reply, bootp, offer, anonymous, noAddress] { #expect(server.receive(m, now: t(0)) == nil) }
        let garbage: [UInt8] = [1, 2, 3]
        #expect(garbage.withUnsafeBytes { server.receive(datagram: $0, now: t(0)) } == nil)
        for reason in [DHCPDropReason.notRequest, .noMessageType, .unexpectedMessageType, .noClientIdentity,
                       .missingAddress, .malformed] {
            #expect(server.counters.drops[reason] == 1, "\(reason)")
        }
        #expect(server.counters.drops.total == 6)
        #expect(server.counters.receivedOther == 1)
        #expect(server.counters.report.contains { $0.name == "drop malformed" && $0.value == 1 })
    }

    @Test("a datagram is parsed and answered like a message")
    func datagramEntryPoint() throws {
        var server = try DHCPFixture.server()
        let discover = DHCPTestClient(1).discover()
        var bytes = [UInt8](repeating: 0, count: 600)
        let n = try bytes.withUnsafeMutableBytes { try discover.emit(into: $0) }
        let reply = bytes.withUnsafeBytes { server.receive(datagram: UnsafeRawBufferPointer(rebasing: $0[..<n]), now: t(0)) }
        #expect(reply?.message.yiaddr == a(100))
    }

    @Test("leases are listed in address order")
    func leasesSorted() throws {
        var server = try DHCPFixture.server()
        for (n, wanted) in [(1, 180), (2, 120), (3, 150), (4, 101)] {
            #expect(server.dora(DHCPTestClient(UInt8(n)), now: t(0), requesting: a(UInt8(wanted))) == a(UInt8(wanted)))
        }
        #expect(server.leases.map(\.address) == [a(101), a(120), a(150), a(180)])
        #expect(server.table.violations().isEmpty)
    }
}

extension DHCPTestClient {
    var identity: DHCPClientIdentity {
        clientID.map { .clientIdentifier($0) } ?? .hardwareAddress(type: 1, address: mac.octets)
    }
}
