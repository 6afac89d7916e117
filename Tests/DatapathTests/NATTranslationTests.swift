// UDP, TCP and ICMP query translation: addresses, ports, checksums, mapping and filtering behaviour.
import Basics
import Testing
import Wire
@testable import Datapath

private typealias L = NATLab

@Test func udpRoundTripRewritesBothWaysWithValidChecksums() throws {
    let nat = try L.nat()
    var out = L.udp(L.hostA, 5000, L.server, 53, payload: Array("query".utf8))
    #expect(nat.outbound(&out) == .translated)
    let sent = try NATPacket(out)
    #expect(sent.ip.source == L.external && sent.ip.destination == L.server)
    let (udp, data) = try sent.udp()                          // verifies the patched checksum
    #expect(udp.checksum != 0)
    #expect(udp.destinationPort == 53 && data == Array("query".utf8))
    // 5000 lies outside the range: the first even port of it (parity kept, RFC 4787 REQ-4).
    #expect(udp.sourcePort == 32768)
    #expect(nat.mapping(.udp, internalAddress: L.hostA, internalPort: 5000)?.externalPort == udp.sourcePort)

    var reply = L.udp(L.server, 53, L.external, udp.sourcePort, payload: Array("answer".utf8))
    #expect(nat.inbound(&reply) == .translated)
    let back = try NATPacket(reply)
    #expect(back.ip.source == L.server && back.ip.destination == L.hostA)
    let (udpBack, dataBack) = try back.udp()
    #expect(udpBack.sourcePort == 53 && udpBack.destinationPort == 5000 && dataBack == Array("answer".utf8))
    #expect(nat.counters.outboundTranslated == 1 && nat.counters.inboundTranslated == 1)
    #expect(nat.counters.drops.total == 0)
}

@Test func udpZeroChecksumStaysZeroBothWays() throws {
    let nat = try L.nat()
    var out = L.udp(L.hostA, 40000, L.server, 4500, checksum: false)
    #expect(nat.outbound(&out) == .translated)
    let sent = try NATPacket(out)
    #expect(try sent.udp().header.checksum == 0)
    #expect(sent.ip.source == L.external)
    var reply = L.udp(L.server, 4500, L.external, 40000, checksum: false)
    #expect(nat.inbound(&reply) == .translated)
    let back = try NATPacket(reply)
    #expect(try back.udp().header.checksum == 0 && back.ip.destination == L.hostA)
}

@Test func udpChecksumThatTranslatesToZeroIsSentAsAllOnes() throws {
    // Pick the payload word so the translated datagram sums to 0xFFFF: its computed checksum is
    // then 0, which RFC 768 says "is transmitted as all ones" (0 would mean "no checksum").
    let probe = L.udp(L.external, 40000, L.server, 53, payload: [0, 0])
    let word = UInt16(probe[26]) << 8 | UInt16(probe[27])
    var out = L.udp(L.hostA, 40000, L.server, 53, payload: [UInt8(word >> 8), UInt8(word & 0xFF)])
    #expect(out[26] != 0xFF || out[27] != 0xFF, "the original checksum is something else")
    let nat = try L.nat()
    #expect(nat.outbound(&out) == .translated)
    #expect(out[26] == 0xFF && out[27] == 0xFF)
    #expect(try NATPacket(out).udp().header.sourcePort == 40000)
}

@Test func mappingIsEndpointIndependent() throws {
    let nat = try L.nat()
    var first = L.udp(L.hostA, 5000, L.server, 53)
    var second = L.udp(L.hostA, 5000, L.server2, 123)
    var third = L.udp(L.hostA, 5000, L.server, 5353)
    #expect(nat.outbound(&first) == .translated)
    #expect(nat.outbound(&second) == .translated)
    #expect(nat.outbound(&third) == .translated)
    let ports = try [first, second, third].map { try NATPacket($0).udp().header.sourcePort }
    #expect(Set(ports).count == 1, "one external port for every destination (RFC 4787 REQ-1): \(ports)")
    #expect(nat.mappingCount == 1 && nat.sessionCount == 3)
    #expect(nat.mappings().first?.sessionCount == 3)
}

@Test func portIsPreservedWhenFreeAndOtherwiseOfTheSameParity() throws {
    let nat = try L.nat()
    var a = L.udp(L.hostA, 40000, L.server, 53)
    var b = L.udp(L.hostB, 40000, L.server, 53)
    var c = L.udp(L.hostB, 40001, L.server, 53)
    #expect(nat.outbound(&a) == .translated)
    #expect(nat.outbound(&b) == .translated)
    #expect(nat.outbound(&c) == .translated)
    let pa = try NATPacket(a).udp().header.sourcePort
    let pb = try NATPacket(b).udp().header.sourcePort
    let pc = try NATPacket(c).udp().header.sourcePort
    #expect(pa == 40000)
    #expect(pb != 40000 && pb % 2 == 0 && NATConstants.defaultPortRange.contains(pb))
    #expect(pc == 40001)
    // Ports are per protocol: TCP may use 40000 for B although UDP 40000 is A's.
    var t = L.tcp(L.hostB, 40000, L.server, 80, flags: .syn)
    #expect(nat.outbound(&t) == .translated)
    #expect(try NATPacket(t).tcp().sourcePort == 40000)
}

@Test func allocationIsDeterministicAndSeedable() throws {
    func ports(_ random: SeededRandom?) throws -> [UInt16] {
        let nat = try L.nat(random: random)
        return try (0..<20).map { i in
            var p = L.udp(IPv4Address(10, 0, 1, UInt8(i)), 1000, L.server, 53)
            #expect(nat.outbound(&p) == .translated)
            return try NATPacket(p).udp().header.sourcePort
        }
    }
    let plain = try ports(nil)
    #expect(plain == (0..<20).map { 32768 + 2 * UInt16($0) }, "next fit, even ports first")
    #expect(try ports(nil) == plain)
    let seeded = try ports(SeededRandom(seed: 42, component: "nat"))
    #expect(try ports(SeededRandom(seed: 42, component: "nat")) == seeded)
    #expect(try ports(SeededRandom(seed: 43, component: "nat")) != seeded)
    #expect(seeded != plain && Set(seeded).count == 20 && seeded.allSatisfy { $0 % 2 == 0 })
}

@Test func unsolicitedInboundIsDropped() throws {
    let nat = try L.nat()
    var p = L.udp(L.server, 53, L.external, 40000)
    #expect(nat.inbound(&p) == .drop(.noMapping))
    p = L.udp(L.server, 53, L.hostA, 40000)
    #expect(nat.inbound(&p) == .drop(.notExternal))
    p = L.tcp(L.server, 4444, L.external, 22, flags: .syn)
    #expect(nat.inbound(&p) == .drop(.noMapping))
    p = L.icmp(L.server, L.external, .echoRequest(identifier: 1, sequenceNumber: 1))
    #expect(nat.inbound(&p) == .drop(.noMapping))
    #expect(nat.counters.drops[.noMapping] == 3 && nat.counters.drops[.notExternal] == 1)
    #expect(nat.mappingCount == 0 && nat.sessionCount == 0)
}

@Test func addressDependentFilteringAdmitsOnlyContactedAddresses() throws {
    let nat = try L.nat()                                     // the default
    #expect(nat.configuration.filtering == .addressDependent)
    var out = L.udp(L.hostA, 40000, L.server, 3478)
    #expect(nat.outbound(&out) == .translated)
    var fromOtherPort = L.udp(L.server, 3479, L.external, 40000)
    #expect(nat.inbound(&fromOtherPort) == .translated)
    #expect(try NATPacket(fromOtherPort).udp().header.destinationPort == 40000)
    var fromOtherHost = L.udp(L.server2, 3478, L.external, 40000)
    #expect(nat.inbound(&fromOtherHost) == .drop(.filtered))
    #expect(nat.sessionCount == 2)
}

@Test func addressAndPortDependentFilteringAdmitsOnlyTheExactEndpoint() throws {
    let nat = try L.nat { $0.filtering = .addressAndPortDependent }
    var out = L.udp(L.hostA, 40000, L.server, 3478)
    #expect(nat.outbound(&out) == .translated)
    var exact = L.udp(L.server, 3478, L.external, 40000)
    #expect(nat.inbound(&exact) == .translated)
    var fromOtherPort = L.udp(L.server, 3479, L.external, 40000)
    #expect(nat.inbound(&fromOtherPort) == .drop(.filtered))
}

@Test func endpointIndependentFilteringAdmitsAnyone() throws {
    let nat = try L.nat { $0.filtering = .endpointIndependent }
    var out = L.udp(L.hostA, 40000, L.server, 3478)
    #expect(nat.outbound(&out) == .translated)
    var stranger = L.udp(L.server2, 9, L.external, 40000)
    #expect(nat.inbound(&stranger) == .translated)
    #expect(try NATPacket(stranger).ip.destination == L.hostA)
    // Still no way in without a mapping.
    var unmapped = L.udp(L.server2, 9, L.external, 40002)
    #expect(nat.inbound(&unmapped) == .drop(.noMapping))
    // TCP from a stranger must open with a SYN.
    var t = L.tcp(L.hostA, 40010, L.server, 443, flags: .syn)
    #expect(nat.outbound(&t) == .translated)
    var ack = L.tcp(L.server2, 5555, L.external, 40010, flags: .ack)
    #expect(nat.inbound(&ack) == .drop(.notSYN))
    var syn = L.tcp(L.server2, 5555, L.external, 40010, flags: .syn)
    #expect(nat.inbound(&syn) == .translated)
}

@Test func icmpEchoIdentifierIsTranslatedAndTheReplyComesBack() throws {
    let nat = try L.nat()
    var ping = L.icmp(L.hostA, L.server, .echoRequest(identifier: 7, sequenceNumber: 1), data: Array(0..<32))
    #expect(nat.outbound(&ping) == .translated)
    let sent = try NATPacket(ping)
    let (request, data) = try sent.icmp()                   // verifies the patched ICMP checksum
    #expect(sent.ip.source == L.external && request.type == .echoRequest)
    #expect(request.identifier == 32769, "7 is odd and outside the range: first odd port")
    #expect(request.sequenceNumber == 1 && data == Array(0..<32))

    var pong = L.icmp(L.server, L.external, .echoReply(identifier: request.identifier, sequenceNumber: 1), data: data)
    #expect(nat.inbound(&pong) == .translated)
    let back = try NATPacket(pong)
    let (reply, _) = try back.icmp()
    #expect(back.ip.destination == L.hostA && reply.identifier == 7 && reply.sequenceNumber == 1)

    // A reply from a host that was not asked is not let in, whatever the filtering.
    var other = L.icmp(L.server2, L.external, .echoReply(identifier: request.identifier, sequenceNumber: 1), data: data)
    #expect(nat.inbound(&other) == .drop(.filtered))
    let session = try #require(nat.sessions().first)
    #expect(session.state == .icmpQuery && session.expires == L.t0 + .seconds(60))
}

@Test func outboundSourcesMustBeInternal() throws {
    let nat = try L.nat { $0.internalNetworks = [IPv4Network("10.0.0.0/24")!] }
    var p = L.udp(IPv4Address(10, 9, 9, 9), 1000, L.server, 53)
    #expect(nat.outbound(&p) == .drop(.notInternal))
    p = L.udp(L.external, 1000, L.server, 53)
    #expect(nat.outbound(&p) == .drop(.notInternal))
    p = L.udp(IPv4Address(127, 0, 0, 1), 1000, L.server, 53)
    #expect(nat.outbound(&p) == .drop(.notInternal))
    p = L.udp(L.hostA, 1000, L.server, 53)
    #expect(nat.outbound(&p) == .translated)
}

@Test func hairpinnedPacketsGoBackInsideFromTheExternalEndpoint() throws {
    let nat = try L.nat { $0.filtering = .endpointIndependent }
    var a = L.udp(L.hostA, 40000, L.server, 3478)
    #expect(nat.outbound(&a) == .translated)
    var b = L.udp(L.hostB, 40002, L.external, 40000, payload: [9, 9])
    #expect(nat.outbound(&b) == .hairpinned)
    let turned = try NATPacket(b)
    let (udp, data) = try turned.udp()
    // RFC 4787 REQ-9a: "External source IP address and port".
    #expect(turned.ip.source == L.external && udp.sourcePort == 40002)
    #expect(turned.ip.destination == L.hostA && udp.destinationPort == 40000 && data == [9, 9])
    #expect(nat.counters.hairpinned == 1)
}

/// Splits an unfragmented datagram (20-byte header) after `split` payload bytes (a multiple of 8).
private func fragments(_ packet: [UInt8], split: Int) -> (first: [UInt8], rest: [UInt8]) {
    let payload = Array(packet[20...])
    var first = Array(packet[0..<20]) + payload[0..<split]
    first[6] = 0x20                                                        // MF, offset 0
    var rest = Array(packet[0..<20]) + payload[split...]
    rest[6] = UInt8((split / 8) >> 8); rest[7] = UInt8((split / 8) & 0xFF)      // offset, last fragment
    return (first.withFixedLength(), rest.withFixedLength())
}

/// Puts fragments (first, then the rest) back together.
private func reassemble(_ first: [UInt8], _ rest: [UInt8]) -> [UInt8] {
    var whole = Array(first) + rest[20...]
    whole[6] = 0; whole[7] = 0
    return whole.withFixedLength()
}

@Test func fragmentedDatagramsAreTranslatedWhole() throws {
    let nat = try L.nat()
    let payload = (0..<40).map { UInt8($0) }
    var (first, rest) = fragments(L.udp(L.hostA, 40000, L.server, 4500, payload: payload), split: 16)
    #expect(nat.outbound(&rest) == .translated, "outbound later fragments need no state: any order")
    #expect(nat.outbound(&first) == .translated)
    let sent = try NATPacket(reassemble(first, rest))
    #expect(sent.ip.source == L.external)
    #expect(try sent.udp().data == payload, "the UDP checksum over the whole datagram verifies")

    let reply = L.udp(L.server, 4500, L.external, 40000, payload: payload.reversed())
    (first, rest) = fragments(reply, split: 24)
    var early = rest
    #expect(nat.inbound(&early) == .drop(.fragment), "a later fragment before its first is not known yet")
    #expect(nat.inbound(&first) == .translated)
    var later = rest
    #expect(nat.inbound(&later) == .translated)
    let back = try NATPacket(reassemble(first, later))
    #expect(back.ip.destination == L.hostA)
    #expect(try back.udp().header.destinationPort == 40000 && back.udp().data == payload.reversed())
    // The first fragment vouches for 15 s (RFC 791's reassembly timer).
    later = rest
    #expect(nat.inbound(&later, at: L.t0 + .seconds(15)) == .drop(.fragment))
    // A later fragment of another datagram (another identification) is not let in.
    var stranger = rest; stranger[5] ^= 0x01; fixIPChecksum(&stranger)
    #expect(nat.inbound(&stranger) == .drop(.fragment))
    #expect(nat.counters.drops[.fragment] == 3)
}

@Test func malformedAndUnsupportedPacketsAreDroppedByReason() throws {
    let nat = try L.nat()
    func expectDrop(_ packet: [UInt8], _ reason: NATDropReason, inbound: Bool = false,
                    sourceLocation: SourceLocation = #_sourceLocation) {
        var p = packet
        let before = nat.counters.drops[reason]
        let verdict = inbound ? nat.inbound(&p) : nat.outbound(&p)
        #expect(verdict == .drop(reason), sourceLocation: sourceLocation)
        #expect(nat.counters.drops[reason] == before + 1, sourceLocation: sourceLocation)
        #expect(p == packet, "a dropped packet is not modified", sourceLocation: sourceLocation)
    }
    let good = L.udp(L.hostA, 40000, L.server, 53)
    expectDrop(Array(good[0..<19]), .malformed)
    var bad = good; bad[10] ^= 0xFF                                    // IPv4 header checksum
    expectDrop(bad, .malformed)
    bad = good; bad[24] = 0; bad[25] = 4                               // UDP length < 8
    expectDrop(bad, .malformed)
    bad = good; bad[24] = 0x10                                         // UDP length > datagram
    expectDrop(bad, .malformed)
    let short = L.icmp(L.hostA, L.server, .echoRequest(identifier: 1, sequenceNumber: 1), data: [])
    expectDrop(Array(short[0..<24]).withFixedLength(), .malformed)
    var tcp = L.tcp(L.hostA, 40000, L.server, 80, flags: .syn); tcp[32] = 0x40   // data offset 4 words
    expectDrop(tcp, .malformed)
    var gre = good; gre[9] = 47; fixIPChecksum(&gre)
    expectDrop(gre, .unsupportedProtocol)
    expectDrop(L.icmp(L.hostA, L.server, ICMPv4Message(type: .redirect, code: 0)), .unsupportedProtocol)
    expectDrop(L.icmp(L.hostA, L.server, .echoReply(identifier: 1, sequenceNumber: 1)), .noMapping)
    expectDrop(L.tcp(L.hostA, 40000, L.server, 80, flags: .ack), .notSYN)
    expectDrop(L.tcp(L.hostA, 40000, L.server, 80, flags: [.syn, .ack]), .notSYN)
    #expect(nat.mappingCount == 0 && nat.counters.outboundTranslated == 0)
}

extension Array where Element == UInt8 {
    /// Sets the IPv4 total length to the array's length and fixes the header checksum.
    func withFixedLength() -> [UInt8] {
        var b = self
        b[2] = UInt8(count >> 8); b[3] = UInt8(count & 0xFF)
        fixIPChecksum(&b)
        return b
    }
}

/// Recomputes the IPv4 header checksum after a test edited the header.
func fixIPChecksum(_ b: inout [UInt8]) {
    let ihl = Int(b[0] & 0xF) * 4
    b[10] = 0; b[11] = 0
    let sum = b.withUnsafeBytes { InternetChecksum.of(UnsafeRawBufferPointer(rebasing: $0[0..<ihl])) }
    b[10] = UInt8(sum >> 8); b[11] = UInt8(sum & 0xFF)
}
