import Testing
@testable import Wire

private func parseDHCPv6(_ d: UnsafeRawBufferPointer) throws(WireError) -> DHCPv6Message { try DHCPv6Message(parsing: d) }
private func emit(_ m: DHCPv6Message) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xAA, count: 2048)
    let n = try buffer.withUnsafeMutableBytes { (b) in try m.emit(into: b) }
    #expect(n == m.encodedLength)
    return Array(buffer[0..<n])
}

private let clientDUID = DHCPv6DUID.linkLayer(mac: MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56))
private let serverDUID = DHCPv6DUID.linkLayerPlusTime(hardwareType: 1, time: 0x2A2B_2C2D, linkLayerAddress: [2, 0x53, 0x4C, 0, 0, 1])

private let solicit = DHCPv6Message(type: .solicit, transactionID: 0xABCDEF, options: DHCPv6Options([
    .clientIdentifier(clientDUID), .elapsedTime(0), .rapidCommit,
    .identityAssociation(DHCPv6IdentityAssociation(iaid: 0x0C0F_FEE0)),
    .optionRequest([.dnsServers, .domainList]),
    .identityAssociationPD(DHCPv6IdentityAssociation(iaid: 1)),
]))

private let reply = DHCPv6Message(type: .reply, transactionID: 0xABCDEF, options: DHCPv6Options([
    .serverIdentifier(serverDUID), .clientIdentifier(clientDUID), .rapidCommit, .preference(255),
    .identityAssociation(DHCPv6IdentityAssociation(iaid: 0x0C0F_FEE0, t1: 1800, t2: 2880, options: DHCPv6Options([
        .address(DHCPv6IAAddress(address: IPv6Address("2001:db8:0:1::100")!, preferredLifetime: 3600, validLifetime: 7200)),
    ]))),
    .identityAssociationPD(DHCPv6IdentityAssociation(iaid: 1, t1: 100, t2: 200, options: DHCPv6Options([
        .prefix(DHCPv6IAPrefix(prefix: IPv6Address("2001:db8:ff00::")!, prefixLength: 56, preferredLifetime: 300, validLifetime: 600)),
        .status(.success, message: "ok"),
    ]))),
    .dnsServers([IPv6Address("2001:db8::53")!, IPv6Address("2001:db8::54")!]),
    DHCPv6Option(code: DHCPv6OptionCode(rawValue: 999), data: [1, 2, 3]),
]))

@Test func dhcpv6MessagesRoundTripOnDirtyBuffer() throws {
    for message in [solicit, reply] {
        let bytes = try emit(message)
        #expect(try parse(bytes, parseDHCPv6) == message)
        expectRejectsEveryTruncation(Array(bytes[0..<4])) { (d) in try DHCPv6Message(parsing: d) }
    }
    let bytes = try emit(solicit)
    // msg-type 1, transaction id, then CLIENTID: code 1, length 10, DUID-LL type 3, hw type 1, MAC.
    #expect(Array(bytes[0..<18]) == [1, 0xAB, 0xCD, 0xEF, 0, 1, 0, 10, 0, 3, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])
    #expect(Array(bytes[18..<24]) == [0, 8, 0, 2, 0, 0] && Array(bytes[24..<28]) == [0, 14, 0, 0])   // elapsed time, rapid commit
}

@Test func dhcpv6TypedAccessorsDecodeWhatWasBuilt() throws {
    let parsed = try parse(try emit(reply), parseDHCPv6)
    let o = parsed.options
    #expect(try o.clientIdentifier() == clientDUID && o.serverIdentifier() == serverDUID)
    #expect(try o.rapidCommit() && o.preference() == 255 && o.elapsedTime() == nil)
    #expect(try o.dnsServers() == [IPv6Address("2001:db8::53")!, IPv6Address("2001:db8::54")!])
    let ia = try #require(try o.identityAssociations().first)
    #expect(ia.iaid == 0x0C0F_FEE0 && ia.t1 == 1800 && ia.t2 == 2880)
    let address = try #require(try ia.options.addresses().first)
    #expect(address.address.description == "2001:db8:0:1::100" && address.preferredLifetime == 3600 && address.validLifetime == 7200)
    let pd = try #require(try o.prefixDelegations().first)
    let prefix = try #require(try pd.options.prefixes().first)
    #expect(prefix.prefixLength == 56 && prefix.prefix.description == "2001:db8:ff00::")
    #expect(try pd.options.status()?.status == .success && pd.options.status()?.message == "ok")
    #expect(o.first(DHCPv6OptionCode(rawValue: 999)) == [1, 2, 3])
    let s = try parse(try emit(solicit), parseDHCPv6).options
    #expect(try s.optionRequest() == [.dnsServers, .domainList] && s.elapsedTime() == 0 && s.serverIdentifier() == nil)
    // DUIDs of every type come back as they went.
    for duid in [clientDUID, serverDUID, .enterprise(enterpriseNumber: 32473, identifier: [1, 2, 3]),
                 .uuid(Array(0..<16)), .other(type: 9, data: [7])] {
        #expect(try DHCPv6DUID(bytes: duid.bytes) == duid)
    }
}

@Test func dhcpv6RelayMessagesCarryTheClientsMessage() throws {
    let inner = try emit(solicit)
    let relay = DHCPv6Message(relay: .relayForward, hopCount: 1, linkAddress: IPv6Address("2001:db8:0:1::1")!,
                              peerAddress: IPv6Address("fe80::5054:ff:fe12:3456")!,
                              options: DHCPv6Options([.relayMessage(inner), DHCPv6Option(code: .interfaceID, data: Array("eth0".utf8))]))
    let bytes = try emit(relay)
    #expect(bytes[0] == 12 && bytes[1] == 1 && bytes.count == 34 + 4 + inner.count + 8)
    let parsed = try parse(bytes, parseDHCPv6)
    #expect(parsed == relay && parsed.headerLength == 34)
    #expect(try parsed.relayedMessage() == solicit)
    expectRejectsEveryTruncation(Array(bytes[0..<34]), parseDHCPv6)
    #expect(try solicit.relayedMessage() == nil)
}

@Test func dhcpv6RejectsMalformedOptions() throws {
    let good = try emit(solicit)
    // Every truncation either ends on an option boundary (and parses to the first options) or is rejected.
    var boundaries = 0
    for n in 4..<good.count {
        if let m = try? parse(Array(good[0..<n]), parseDHCPv6) {
            boundaries += 1
            #expect(Array(solicit.options.list.prefix(m.options.count)) == m.options.list, "cut at \(n)")
        }
    }
    #expect(boundaries == solicit.options.count)
    var bad = good; bad[7] = 200                                             // CLIENTID claims 200 octets
    #expect(rejection(bad, parseDHCPv6) == .truncated(needed: 204, have: good.count - 4))
    // Too many options.
    let many = DHCPv6Message(type: .informationRequest, transactionID: 1, options: DHCPv6Options(Array(repeating: .rapidCommit, count: 65)))
    #expect(rejection(try emit(many), parseDHCPv6) == .malformed("more than 64 DHCPv6 options"))
    let enough = DHCPv6Message(type: .informationRequest, transactionID: 1, options: DHCPv6Options(Array(repeating: .rapidCommit, count: 64)))
    #expect(rejection(try emit(enough), parseDHCPv6) == nil)
    // Typed accessors throw on bad contents, never trap.
    func options(_ list: [DHCPv6Option]) -> DHCPv6Options { DHCPv6Options(list) }
    #expect(throws: WireError.truncated(needed: 3, have: 2)) { _ = try options([DHCPv6Option(code: .clientIdentifier, data: [0, 3])]).clientIdentifier() }
    #expect(throws: WireError.malformed("DUID of 131 octets")) {
        _ = try options([DHCPv6Option(code: .serverIdentifier, data: [0, 2] + [UInt8](repeating: 1, count: 129))]).serverIdentifier()
    }
    #expect(throws: WireError.malformed("DUID-UUID of 15 octets, not 16")) {
        _ = try options([DHCPv6Option(code: .clientIdentifier, data: [0, 4] + [UInt8](repeating: 1, count: 15))]).clientIdentifier()
    }
    #expect(throws: WireError.truncated(needed: 8, have: 7)) { _ = try options([DHCPv6Option(code: .clientIdentifier, data: [0, 1, 0, 1, 0, 0, 0])]).clientIdentifier() }
    #expect(throws: WireError.malformed("ORO of odd length 3")) { _ = try options([DHCPv6Option(code: .optionRequest, data: [0, 23, 0])]).optionRequest() }
    #expect(throws: WireError.malformed("preference option of 2 octets")) { _ = try options([DHCPv6Option(code: .preference, data: [1, 2])]).preference() }
    #expect(throws: WireError.malformed("elapsed time option of 1 octets")) { _ = try options([DHCPv6Option(code: .elapsedTime, data: [1])]).elapsedTime() }
    #expect(throws: WireError.malformed("rapid commit option with data")) { _ = try options([DHCPv6Option(code: .rapidCommit, data: [1])]).rapidCommit() }
    #expect(throws: WireError.malformed("DNS servers option of 17 octets")) { _ = try options([DHCPv6Option(code: .dnsServers, data: Array(0..<17))]).dnsServers() }
    #expect(throws: WireError.truncated(needed: 2, have: 1)) { _ = try options([DHCPv6Option(code: .statusCode, data: [0])]).status() }
    #expect(throws: WireError.truncated(needed: 12, have: 11)) {
        _ = try options([DHCPv6Option(code: .identityAssociationNA, data: Array(0..<11))]).identityAssociations()
    }
    #expect(throws: WireError.truncated(needed: 24, have: 23)) { _ = try DHCPv6IAAddress(bytes: Array(0..<23)) }
    #expect(throws: WireError.malformed("IAPREFIX prefix length 129")) { _ = try DHCPv6IAPrefix(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 129] + [UInt8](repeating: 0, count: 16)) }
    // An IA_NA whose nested options overrun.
    #expect(throws: WireError.truncated(needed: 8, have: 5)) {
        _ = try DHCPv6IdentityAssociation(bytes: [UInt8](repeating: 0, count: 12) + [0, 5, 0, 4, 9])
    }
}

@Test func dhcpv6ParsesRandomBytesWithoutTrapping() throws {
    var random = TestRandom(seed: 8415)
    for _ in 0..<3000 {
        var bytes = random.bytes(Int.random(in: 0...120, using: &random))
        // Plausible option headers now and then, so the walk goes deep.
        var i = 4
        while i + 4 <= bytes.count {
            bytes[i] = 0; bytes[i + 1] = UInt8.random(in: 1...26, using: &random)
            bytes[i + 2] = 0; bytes[i + 3] = UInt8.random(in: 0...24, using: &random)
            i += 4 + Int(bytes[i + 3])
        }
        guard let m = try? parse(bytes, parseDHCPv6) else { continue }
        #expect(try emit(m) == bytes)                                      // raw options: byte-exact round trip
        let o = m.options
        _ = try? o.clientIdentifier(); _ = try? o.serverIdentifier(); _ = try? o.optionRequest(); _ = try? o.dnsServers()
        _ = try? o.status(); _ = try? o.rapidCommit(); _ = try? o.preference(); _ = try? o.elapsedTime()
        for ia in (try? o.identityAssociations()) ?? [] { _ = try? ia.options.addresses() }
        for pd in (try? o.prefixDelegations()) ?? [] { _ = try? pd.options.prefixes() }
        _ = try? m.relayedMessage()
    }
}
