import Testing
@testable import Wire

private let routerMAC = MACAddress(0x02, 0x53, 0x4C, 0, 0, 1), hostMAC = MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56)
private let routerLL = IPv6Address.linkLocal(mac: routerMAC), hostLL = IPv6Address.linkLocal(mac: hostMAC)
private let global = IPv6Address("2001:db8:0:1::5")!

/// Emits `message` from `source` to `destination` on a dirty buffer; returns the ICMPv6 bytes and the IPv6 header.
private func emitNDP(_ message: NDPMessage, from source: IPv6Address, to destination: IPv6Address) throws -> ([UInt8], IPv6Header) {
    var buffer = [UInt8](repeating: 0xAA, count: 2048)
    let n = try buffer.withUnsafeMutableBytes { (b) in try message.emit(into: b, source: source, destination: destination) }
    let bytes = Array(buffer[0..<n])
    #expect(bytes.count == message.encodedLength)
    return (bytes, IPv6Header(source: source, destination: destination, nextHeader: .icmpv6, payloadLength: bytes.count, hopLimit: 255))
}

private func parseNDP(_ bytes: [UInt8], _ ip: IPv6Header) -> Result<NDPMessage, WireError> {
    do { return .success(try parse(bytes) { (d) in try NDPMessage(parsing: d, ip: ip) }) } catch { return .failure(error as! WireError) }
}

private let advertisement = NDPMessage.routerAdvertisement(NDPRouterAdvertisement(
    currentHopLimit: 64, managedAddressConfiguration: false, otherConfiguration: true, routerPreference: 1,
    routerLifetime: 1800, reachableTime: 30000, retransmitTimer: 1000,
    options: [.sourceLinkLayerAddress(routerMAC), .mtu(1420),
              .prefixInformation(NDPPrefixInformation(prefix: IPv6Address("2001:db8:0:1::")!, prefixLength: 64,
                                                      validLifetime: 86400, preferredLifetime: 14400)),
              .recursiveDNSServers(lifetime: 600, servers: [IPv6Address("2001:db8::53")!, IPv6Address("2001:db8::54")!]),
              .unknown(type: 31, data: [0, 0, 0, 0, 0, 60, 3, 0x6C, 0x61, 0x62, 0, 0, 0, 0])]))

@Test func everyNDPMessageRoundTripsOnDirtyBuffer() throws {
    let messages: [(NDPMessage, IPv6Address, IPv6Address)] = [
        (.routerSolicitation(NDPRouterSolicitation(options: [.sourceLinkLayerAddress(hostMAC)])), hostLL, .allRouters),
        (.routerSolicitation(NDPRouterSolicitation()), .unspecified, .allRouters),
        (advertisement, routerLL, .allNodes),
        (.neighborSolicitation(NDPNeighborSolicitation(target: global, options: [.sourceLinkLayerAddress(hostMAC)])), hostLL, global.solicitedNodeMulticast),
        (.neighborSolicitation(NDPNeighborSolicitation(target: global)), .unspecified, global.solicitedNodeMulticast),   // DAD
        (.neighborAdvertisement(NDPNeighborAdvertisement(router: true, solicited: true, override: false, target: routerLL,
                                                         options: [.targetLinkLayerAddress(routerMAC)])), routerLL, hostLL),
        (.neighborAdvertisement(NDPNeighborAdvertisement(solicited: false, override: true, target: global)), hostLL, .allNodes),
        (.redirect(NDPRedirect(target: IPv6Address("fe80::99")!, destination: IPv6Address("2001:db8:5::1")!,
                               options: [.targetLinkLayerAddress(hostMAC), .redirectedHeader(Array(1...45))])), routerLL, hostLL),
    ]
    for (message, source, destination) in messages {
        let (bytes, ip) = try emitNDP(message, from: source, to: destination)
        #expect(bytes[0] == message.type.rawValue && bytes[1] == 0)
        var expected = message
        if case .redirect(var r) = message {               // the redirected header comes back padded to 8 octets
            r.options[1] = .redirectedHeader(Array(1...45) + [0, 0, 0]); expected = .redirect(r)
        }
        #expect(try parseNDP(bytes, ip).get() == expected)
        expectRejectsEveryTruncation(bytes) { (d) in try NDPMessage(parsing: d, ip: ip) }
    }
}

/// Known layout: the RA's fixed fields and option octets as RFC 4861 §4.2, §4.6 and RFC 8106 draw them.
@Test func routerAdvertisementLayoutIsTheRFCs() throws {
    let (bytes, ip) = try emitNDP(advertisement, from: routerLL, to: .allNodes)
    #expect(Array(bytes[4..<16]) == [64, 0x48, 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xE8])   // O + Prf high, 1800 s
    #expect(Array(bytes[16..<24]) == [1, 1, 0x02, 0x53, 0x4C, 0, 0, 1])                           // SLLA
    #expect(Array(bytes[24..<32]) == [5, 1, 0, 0, 0, 0, 0x05, 0x8C])                              // MTU 1420
    #expect(Array(bytes[32..<36]) == [3, 4, 64, 0xC0])                                            // prefix, L+A
    #expect(Array(bytes[64..<72]) == [25, 5, 0, 0, 0, 0, 0x02, 0x58])                             // RDNSS, 2 servers
    #expect(bytes.count == 16 + 8 + 8 + 32 + 40 + 16)
    guard case .routerAdvertisement(let ra) = try parseNDP(bytes, ip).get() else { Issue.record("not an RA"); return }
    #expect(ra.routerPreference == 1 && ra.otherConfiguration && !ra.managedAddressConfiguration)
    // The IPv6 frame helper sets hop limit 255 and the multicast MAC is the caller's.
    let frame = try emitDirty { (b) in
        try IPv6Frame.emitNDP(into: b, ethernet: EthernetHeader(destination: IPv6Address.allNodes.multicastMAC, source: routerMAC, etherType: .ipv6),
                              source: routerLL, destination: .allNodes, message: advertisement)
    }
    let parsed = try parse(frame) { (f) in try IPv6Frame.parse(f) }
    #expect(parsed.ip.hopLimit == 255 && Array(frame[parsed.upperLayerRange]) == bytes)
}

@Test func ndpValidityChecksOfRFC4861() throws {
    func reason(_ message: NDPMessage, from s: IPv6Address, to d: IPv6Address, hopLimit: UInt8 = 255, edit: (inout [UInt8]) -> Void = { _ in }) throws -> WireError? {
        var (bytes, ip) = try emitNDP(message, from: s, to: d)
        ip.hopLimit = hopLimit
        edit(&bytes)
        if case .failure(let e) = parseNDP(bytes, ip) { return e }
        return nil
    }
    /// Recomputes the ICMPv6 checksum after an edit, so the check under test is the one that fails.
    func fix(_ s: IPv6Address, _ d: IPv6Address) -> (inout [UInt8]) -> Void {
        { bytes in
            bytes[2] = 0; bytes[3] = 0
            var sum = InternetChecksum()
            sum.addPseudoHeader(source: s, destination: d, nextHeader: .icmpv6, length: bytes.count)
            bytes.withUnsafeBytes { sum.add($0) }
            bytes[2] = UInt8(sum.value >> 8); bytes[3] = UInt8(sum.value & 0xFF)
        }
    }
    let rs = NDPMessage.routerSolicitation(NDPRouterSolicitation(options: [.sourceLinkLayerAddress(hostMAC)]))
    #expect(try reason(rs, from: hostLL, to: .allRouters) == nil)
    #expect(try reason(rs, from: hostLL, to: .allRouters, hopLimit: 254) == .malformed("NDP hop limit 254, not 255"))
    #expect(try reason(rs, from: .unspecified, to: .allRouters) == .malformed("RS from :: with a link-layer address"))
    #expect(try reason(rs, from: hostLL, to: .allRouters) { $0[1] = 1; fix(hostLL, .allRouters)(&$0) } == .malformed("NDP code 1"))
    #expect(try reason(rs, from: hostLL, to: .allRouters) { $0[9] = 0; fix(hostLL, .allRouters)(&$0) } == .malformed("NDP option with length zero"))
    #expect(try reason(rs, from: hostLL, to: .allRouters) { $0[9] = 2; fix(hostLL, .allRouters)(&$0) } == .truncated(needed: 16, have: 8))
    #expect(try reason(rs, from: hostLL, to: .allRouters) { $0[12] ^= 1 } == .badChecksum)
    #expect(try reason(advertisement, from: global, to: .allNodes) == .malformed("RA from a non-link-local address"))
    let ns = NDPMessage.neighborSolicitation(NDPNeighborSolicitation(target: global))
    #expect(try reason(ns, from: .unspecified, to: .allNodes) == .malformed("DAD NS not to a solicited-node address"))
    #expect(try reason(.neighborSolicitation(NDPNeighborSolicitation(target: .allNodes)), from: hostLL, to: .allNodes)
            == .malformed("NS for a multicast target"))
    #expect(try reason(.neighborSolicitation(NDPNeighborSolicitation(target: global, options: [.sourceLinkLayerAddress(hostMAC)])),
                       from: .unspecified, to: global.solicitedNodeMulticast) == .malformed("NS from :: with a link-layer address"))
    #expect(try reason(.neighborAdvertisement(NDPNeighborAdvertisement(solicited: true, override: true, target: global)), from: hostLL, to: .allNodes)
            == .malformed("solicited NA to a multicast address"))
    #expect(try reason(.neighborAdvertisement(NDPNeighborAdvertisement(solicited: false, override: true, target: .allRouters)), from: hostLL, to: .allNodes)
            == .malformed("NA for a multicast target"))
    #expect(try reason(.redirect(NDPRedirect(target: global, destination: IPv6Address("2001:db8:9::1")!)), from: routerLL, to: hostLL)
            == .malformed("Redirect to a non-link-local target"))
    #expect(try reason(.redirect(NDPRedirect(target: global, destination: global)), from: routerLL, to: hostLL) == nil)
    #expect(try reason(.redirect(NDPRedirect(target: routerLL, destination: .allNodes)), from: routerLL, to: hostLL)
            == .malformed("Redirect for a multicast destination"))
    #expect(try reason(.redirect(NDPRedirect(target: routerLL, destination: global)), from: global, to: hostLL)
            == .malformed("Redirect from a non-link-local address"))
    // Options with the wrong length for their type.
    let badOptions: [([UInt8], WireError)] = [
        ([1, 2] + [UInt8](repeating: 0, count: 14), .malformed("NDP link-layer address option length 2, not 1")),
        ([3, 3] + [UInt8](repeating: 0, count: 22), .malformed("NDP prefix information option length 3, not 4")),
        ([3, 4, 129] + [UInt8](repeating: 0, count: 29), .malformed("NDP prefix length 129")),
        ([5, 2] + [UInt8](repeating: 0, count: 14), .malformed("NDP MTU option length 2, not 1")),
        ([25, 2] + [UInt8](repeating: 0, count: 14), .malformed("NDP RDNSS option length 2")),
        ([25, 4] + [UInt8](repeating: 0, count: 30), .malformed("NDP RDNSS option length 4")),
    ]
    for (option, error) in badOptions {
        #expect(try reason(.routerSolicitation(NDPRouterSolicitation()), from: hostLL, to: .allRouters) {
            $0 += option; fix(hostLL, .allRouters)(&$0)
        } == error)
    }
    // The option walk is bounded: 64 options pass, 65 do not.
    for (count, expected) in [(64, nil), (65, WireError.malformed("more than 64 NDP options"))] {
        let many = NDPMessage.routerSolicitation(NDPRouterSolicitation(options: Array(repeating: .unknown(type: 200, data: [0, 0, 0, 0, 0, 0]), count: count)))
        #expect(try reason(many, from: hostLL, to: .allRouters) == expected)
    }
    // Other ICMPv6 types are not NDP.
    let echo = try emitDirty { (b) in
        try ICMPv6Message.echoRequest(identifier: 1, sequenceNumber: 1).emit(into: b, data: UnsafeRawBufferPointer(start: nil, count: 0),
                                                                              source: hostLL, destination: routerLL)
    }
    #expect(throws: WireError.unsupported("ICMPv6 type 128")) {
        _ = try parse(echo) { (d) in try NDPMessage(parsing: d, ip: IPv6Header(source: hostLL, destination: routerLL, nextHeader: .icmpv6, payloadLength: 8, hopLimit: 255)) }
    }
}

@Test func ndpParsesRandomOptionsWithoutTrapping() throws {
    var random = TestRandom(seed: 4861)
    var accepted = 0
    for _ in 0..<3000 {
        // Mostly well-framed options of random types and lengths (so many messages parse and the
        // round trip runs), sometimes a ragged tail or a zero length.
        var body = random.bytes(8 * Int.random(in: 0...12, using: &random) + (Int.random(in: 0...9, using: &random) == 0 ? 3 : 0))
        var i = 0
        while i + 1 < body.count {
            body[i] = [1, 2, 3, 4, 5, 25, 31, 200].randomElement(using: &random)!
            body[i + 1] = Int.random(in: 0...30, using: &random) == 0 ? 0 : UInt8.random(in: 1...5, using: &random)
            i += 8 * max(1, Int(body[i + 1]))
        }
        var bytes: [UInt8] = [133, 0, 0, 0, 0, 0, 0, 0] + body
        bytes.withUnsafeMutableBytes { b in
            var sum = InternetChecksum()
            sum.addPseudoHeader(source: hostLL, destination: .allRouters, nextHeader: .icmpv6, length: b.count)
            sum.add(UnsafeRawBufferPointer(b))
            b.setU16(2, sum.value)
        }
        let ip = IPv6Header(source: hostLL, destination: .allRouters, nextHeader: .icmpv6, payloadLength: bytes.count, hopLimit: 255)
        if case .success(let m) = parseNDP(bytes, ip) {
            accepted += 1
            // What parses emits again and parses to the same message.
            let (again, _) = try emitNDP(m, from: hostLL, to: .allRouters)
            #expect(try parseNDP(again, ip).get() == m)
        }
    }
    #expect(accepted > 100)
}
