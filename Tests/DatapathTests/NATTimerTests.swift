// Idle timeouts (RFC 4787 REQ-5, RFC 5382 REQ-5, RFC 5508 REQ-2), TCP session states, expiry,
// and what a full table or an exhausted port range does.
import Basics
import Testing
import Wire
@testable import Datapath

private typealias L = NATLab

@Test func defaultTimeoutsMeetTheRFCFloors() {
    let t = NATTimeouts()
    #expect(t.meetsRFCMinimums)
    #expect(t.udp == .seconds(120) && t.icmpQuery == .seconds(60))
    #expect(t.tcpEstablished == .seconds(7440) && t.tcpTransitory == .seconds(240))
    var short = t; short.udp = .seconds(30)
    #expect(!short.meetsRFCMinimums)
}

@Test func udpMappingExpiresAfterItsTimeoutAndFreesThePort() throws {
    let nat = try L.nat()
    #expect(nat.nextDeadline() == nil)
    var out = L.udp(L.hostA, 40000, L.server, 53)
    #expect(nat.outbound(&out) == .translated)
    #expect(nat.nextDeadline() == L.t0 + .seconds(120))
    let free = nat.availablePorts(.udp)

    // Traffic either way refreshes (RFC 4787 REQ-6, REQ-6a).
    let t1 = L.t0 + .seconds(100)
    var reply = L.udp(L.server, 53, L.external, 40000)
    #expect(nat.inbound(&reply, at: t1) == .translated)
    #expect(nat.nextDeadline() == t1 + .seconds(120))

    let deadline = t1 + .seconds(120)
    #expect(nat.expire(now: deadline - .nanoseconds(1)) == 0)
    #expect(nat.mappingCount == 1)
    #expect(nat.expire(now: deadline) == 1)
    #expect(nat.mappingCount == 0 && nat.sessionCount == 0 && nat.nextDeadline() == nil)
    #expect(nat.availablePorts(.udp) == free + 1)
    #expect(nat.counters.sessionsExpired == 1 && nat.counters.mappingsExpired == 1)

    // A late reply is told apart from a stranger's packet.
    var late = L.udp(L.server, 53, L.external, 40000)
    #expect(nat.inbound(&late, at: deadline + .seconds(1)) == .drop(.expired))
    var stranger = L.udp(L.server, 53, L.external, 40002)
    #expect(nat.inbound(&stranger, at: deadline + .seconds(1)) == .drop(.noMapping))
}

@Test func translationExpiresDueSessionsWithoutAnExplicitExpire() throws {
    let nat = try L.nat()
    var out = L.udp(L.hostA, 40000, L.server, 53)
    #expect(nat.outbound(&out) == .translated)
    var reply = L.udp(L.server, 53, L.external, 40000)
    #expect(nat.inbound(&reply, at: L.t0 + .seconds(120)) == .drop(.expired))
    #expect(nat.counters.mappingsExpired == 1)
}

@Test func aMappingLivesAsLongAsItsLongestSession() throws {
    let nat = try L.nat()
    var first = L.udp(L.hostA, 40000, L.server, 53)
    #expect(nat.outbound(&first, at: L.t0) == .translated)
    var second = L.udp(L.hostA, 40000, L.server2, 53)
    #expect(nat.outbound(&second, at: L.t0 + .seconds(60)) == .translated)
    #expect(nat.nextDeadline() == L.t0 + .seconds(120))
    #expect(nat.mappings().first?.expires == L.t0 + .seconds(180))
    #expect(nat.mapping(.udp, internalAddress: L.hostA, internalPort: 40000) == nat.mappings().first)
    #expect(nat.mapping(.udp, internalAddress: L.hostA, internalPort: 40001) == nil)
    #expect(nat.expire(now: L.t0 + .seconds(120)) == 1)
    #expect(nat.mappingCount == 1 && nat.sessionCount == 1)
    #expect(nat.nextDeadline() == L.t0 + .seconds(180))
    // The surviving session keeps the external port; under address-dependent filtering the
    // expired peer is no longer admitted.
    var fromFirst = L.udp(L.server, 53, L.external, 40000)
    #expect(nat.inbound(&fromFirst, at: L.t0 + .seconds(121)) == .drop(.filtered))
    var fromSecond = L.udp(L.server2, 53, L.external, 40000)
    #expect(nat.inbound(&fromSecond, at: L.t0 + .seconds(121)) == .translated)
}

@Test func tcpSessionMovesBetweenTransitoryAndEstablishedTimeouts() throws {
    let nat = try L.nat()
    func state() -> NATSessionState? { nat.sessions().first?.state }
    var t = L.t0
    var syn = L.tcp(L.hostA, 40000, L.server, 443, flags: .syn)
    #expect(nat.outbound(&syn, at: t) == .translated)
    #expect(state() == .tcpOpening && nat.nextDeadline() == t + .seconds(240))
    #expect(try NATPacket(syn).tcp().sourcePort == 40000)      // the patched checksum verifies

    t = t + .milliseconds(30)
    var synAck = L.tcp(L.server, 443, L.external, 40000, flags: [.syn, .ack], acknowledgment: 1001)
    #expect(nat.inbound(&synAck, at: t) == .translated)
    #expect(try NATPacket(synAck).tcp().destinationPort == 40000)
    #expect(state() == .tcpEstablished && nat.nextDeadline() == t + .seconds(7440))

    t = t + .seconds(7439)
    var data = L.tcp(L.hostA, 40000, L.server, 443, flags: [.ack, .psh], payload: Array("GET /".utf8))
    #expect(nat.outbound(&data, at: t) == .translated, "established sessions outlive 2 h 3 min 59 s")
    #expect(try NATPacket(data).tcp().flags == [.ack, .psh])

    t = t + .seconds(1)
    var fin = L.tcp(L.hostA, 40000, L.server, 443, flags: [.fin, .ack])
    #expect(nat.outbound(&fin, at: t) == .translated)
    #expect(state() == .tcpClosing && nat.nextDeadline() == t + .seconds(240))
    var finBack = L.tcp(L.server, 443, L.external, 40000, flags: [.fin, .ack])
    #expect(nat.inbound(&finBack, at: t + .seconds(1)) == .translated)
    #expect(nat.nextDeadline() == t + .seconds(241))

    #expect(nat.expire(now: t + .seconds(240)) == 0)
    #expect(nat.expire(now: t + .seconds(241)) == 1)
    #expect(nat.sessionCount == 0 && nat.mappingCount == 0)
    var lateAck = L.tcp(L.server, 443, L.external, 40000, flags: .ack)
    #expect(nat.inbound(&lateAck, at: t + .seconds(242)) == .drop(.expired))
}

@Test func tcpResetMovesToTransitoryAndANewSYNReopens() throws {
    let nat = try L.nat()
    var syn = L.tcp(L.hostA, 40000, L.server, 443, flags: .syn)
    #expect(nat.outbound(&syn) == .translated)
    var synAck = L.tcp(L.server, 443, L.external, 40000, flags: [.syn, .ack])
    #expect(nat.inbound(&synAck) == .translated)
    var rst = L.tcp(L.server, 443, L.external, 40000, flags: .rst)
    #expect(nat.inbound(&rst, at: L.t0 + .seconds(10)) == .translated)
    #expect(nat.sessions().first?.state == .tcpClosing)
    #expect(nat.nextDeadline() == L.t0 + .seconds(250))
    var again = L.tcp(L.hostA, 40000, L.server, 443, flags: .syn)
    #expect(nat.outbound(&again, at: L.t0 + .seconds(20)) == .translated)
    #expect(nat.sessions().first?.state == .tcpOpening)
}

@Test func tcpSimultaneousOpenEstablishes() throws {
    // RFC 5382 REQ-2a: "A NAT MUST handle the TCP simultaneous-open mode of connection initiation."
    let nat = try L.nat()
    var synOut = L.tcp(L.hostA, 40000, L.server, 6000, flags: .syn)
    #expect(nat.outbound(&synOut) == .translated)
    var synIn = L.tcp(L.server, 6000, L.external, 40000, flags: .syn)
    #expect(nat.inbound(&synIn) == .translated)
    #expect(nat.sessions().first?.state == .tcpEstablished)
}

@Test func fullTableDropsNewSessionsUntilOneExpires() throws {
    let nat = try L.nat { $0.capacity = 2 }
    var a = L.udp(L.hostA, 40000, L.server, 53)
    var b = L.udp(L.hostA, 40000, L.server2, 53)
    var c = L.udp(L.hostB, 40000, L.server, 53)
    #expect(nat.outbound(&a, at: L.t0) == .translated)
    #expect(nat.outbound(&b, at: L.t0 + .seconds(10)) == .translated)
    #expect(nat.outbound(&c, at: L.t0 + .seconds(10)) == .drop(.tableFull))
    #expect(nat.counters.drops[.tableFull] == 1)
    // Existing sessions still work, and are refreshed.
    var again = L.udp(L.hostA, 40000, L.server, 53)
    #expect(nat.outbound(&again, at: L.t0 + .seconds(20)) == .translated)
    // Inbound sessions need room too (address-dependent: the server may use another port).
    var fromOtherPort = L.udp(L.server, 54, L.external, 40000)
    #expect(nat.inbound(&fromOtherPort, at: L.t0 + .seconds(20)) == .drop(.tableFull))
    // The session with server2 times out at t0 + 130 s; then there is room.
    c = L.udp(L.hostB, 40000, L.server, 53)
    #expect(nat.outbound(&c, at: L.t0 + .seconds(129)) == .drop(.tableFull))
    #expect(nat.outbound(&c, at: L.t0 + .seconds(130)) == .translated)
    #expect(nat.sessionCount == 2 && nat.mappingCount == 2)
    #expect(nat.sessions().map(\.remoteAddress) == [L.server, L.server])
}

@Test func aClockSteppingBackKeepsTimersInOrder() throws {
    let nat = try L.nat()
    var a = L.udp(L.hostA, 40000, L.server, 53)
    var b = L.udp(L.hostB, 40000, L.server, 53)
    #expect(nat.outbound(&a, at: L.t0 + .seconds(10)) == .translated)
    #expect(nat.outbound(&b, at: L.t0) == .translated)          // earlier than a
    #expect(nat.nextDeadline() == L.t0 + .seconds(130), "b is held to a's time, never ahead of the list")
    #expect(nat.expire(now: L.t0 + .seconds(129)) == 0)
    #expect(nat.expire(now: L.t0 + .seconds(130)) == 2)
    #expect(nat.nextDeadline() == nil)
}

@Test func tinyPortRangeIsExhaustedAndRefills() throws {
    let nat = try L.nat { $0.portRange = 50000...50003 }
    var ports: [UInt16] = []
    for i in 0..<4 {
        var p = L.udp(IPv4Address(10, 0, 0, UInt8(10 + i)), 1000, L.server, 53)
        #expect(nat.outbound(&p) == .translated)
        ports.append(try NATPacket(p).udp().header.sourcePort)
    }
    // 1000 is even and outside the range: even ports first, then the search goes on from where
    // it stopped (next fit) with either parity.
    #expect(ports == [50000, 50002, 50003, 50001])
    var fifth = L.udp(IPv4Address(10, 0, 0, 99), 1000, L.server, 53)
    #expect(nat.outbound(&fifth) == .drop(.portExhausted))
    #expect(nat.availablePorts(.udp) == 0 && nat.counters.drops[.portExhausted] == 1)
    // Another protocol has its own ports; an existing mapping still gets new sessions.
    var ping = L.icmp(IPv4Address(10, 0, 0, 99), L.server, .echoRequest(identifier: 1000, sequenceNumber: 1))
    #expect(nat.outbound(&ping) == .translated)
    var sameHostNewPeer = L.udp(IPv4Address(10, 0, 0, 10), 1000, L.server2, 53)
    #expect(nat.outbound(&sameHostNewPeer) == .translated)
    nat.expire(now: L.t0 + .seconds(120))
    fifth = L.udp(IPv4Address(10, 0, 0, 99), 1000, L.server, 53)
    #expect(nat.outbound(&fifth, at: L.t0 + .seconds(120)) == .translated)
    #expect(nat.availablePorts(.udp) == 3)
}

@Test func reportsAreSortedAndComplete() throws {
    let nat = try L.nat()
    let flows: [(IPv4Address, UInt16, IPv4Address)] = [
        (L.hostB, 41000, L.server), (L.hostA, 42000, L.server2), (L.hostA, 41000, L.server), (L.hostA, 41000, L.server2),
    ]
    for (i, (host, port, remote)) in flows.enumerated() {
        var p = L.udp(host, port, remote, 53)
        #expect(nat.outbound(&p, at: L.t0 + .seconds(Int64(i))) == .translated)
    }
    var ping = L.icmp(L.hostB, L.server, .echoRequest(identifier: 41000, sequenceNumber: 1))
    #expect(nat.outbound(&ping) == .translated)
    let mappings = nat.mappings()
    #expect(mappings.map { "\($0.protocol) \($0.internalAddress):\($0.internalPort)->\($0.externalPort)" } == [
        "icmp 10.0.0.3:41000->41000", "udp 10.0.0.2:41000->32768", "udp 10.0.0.2:42000->42000", "udp 10.0.0.3:41000->41000",
    ])
    #expect(mappings.allSatisfy { $0.externalAddress == L.external })
    #expect(mappings[1].sessionCount == 2 && mappings[1].expires == L.t0 + .seconds(123))
    let sessions = nat.sessions()
    #expect(sessions.count == 5 && sessions.count == nat.sessionCount)
    #expect(sessions[1].remoteAddress == L.server && sessions[2].remoteAddress == L.server2)
    #expect(sessions[2].internalPort == 41000 && sessions[2].expires == L.t0 + .seconds(123))
}

@Test func natDropReasonsFitTheInlineCounters() {
    #expect(ReasonCounts<NATDropReason>.fits)
    var counts = ReasonCounts<NATDropReason>()
    for reason in NATDropReason.allCases { counts[reason] += UInt64(reason.rawValue + 1) }
    #expect(counts.total == UInt64((1...NATDropReason.allCases.count).reduce(0, +)))
    #expect(counts.nonzero.count == NATDropReason.allCases.count)
}

@Test func configurationIsValidated() {
    func refused(_ configure: (inout NATConfiguration) -> Void) -> NATConfigurationError? {
        var c = NATConfiguration(externalAddress: L.external)
        configure(&c)
        do { try c.validate(); return nil } catch { return error }
    }
    #expect(refused { _ in } == nil)
    #expect(refused { $0.externalAddress = .any } == .badExternalAddress(.any))
    #expect(refused { $0.externalAddress = IPv4Address(224, 0, 0, 1) } == .badExternalAddress(IPv4Address(224, 0, 0, 1)))
    #expect(refused { $0.portRange = 0...100 } == .badPortRange(0...100))
    #expect(refused { $0.timeouts.udp = .zero } == .badTimeout("udp must be positive"))
    #expect(refused { $0.capacity = 0 } == .badCapacity(0))
    #expect(throws: NATConfigurationError.badCapacity(-1)) { _ = try L.nat { $0.capacity = -1 } }
}
