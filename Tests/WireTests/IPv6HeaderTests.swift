import Testing
@testable import Wire

private let src = IPv6Address("2001:db8::2")!, dst = IPv6Address("2001:db8:1::9")!
private func parseIPv6(_ b: UnsafeRawBufferPointer) throws(WireError) -> IPv6Header { try IPv6Header(parsing: b) }
private func parsePacket(_ b: UnsafeRawBufferPointer) throws(WireError) -> IPv6Packet.Parsed { try IPv6Packet.parse(b) }

/// A packet: fixed header naming `first`, then `chain` (already linked), then `payload`.
private func packet(first: IPProtocol, chain: [UInt8], payload: [UInt8]) throws -> [UInt8] {
    let h = IPv6Header(source: src, destination: dst, nextHeader: first, payloadLength: chain.count + payload.count, hopLimit: 9)
    return try emitDirty { (b) in try h.emit(into: b) } + chain + payload
}

/// A generic extension header (RFC 8200 §4.3 layout) of `units`×8 octets naming `next`, with `options` then PadN/Pad1.
private func extensionHeader(next: IPProtocol, units: Int = 1, options: [UInt8] = []) -> [UInt8] {
    var h: [UInt8] = [next.rawValue, UInt8(units - 1)] + options
    while h.count < units * 8 {
        let pad = units * 8 - h.count
        if pad == 1 { h.append(0); continue }
        let n = min(pad - 2, 255)
        h += [1, UInt8(n)] + [UInt8](repeating: 0, count: n)
    }
    return h
}

@Test func ipv6HeaderRoundTripsOnDirtyBuffer() throws {
    let h = IPv6Header(source: src, destination: dst, nextHeader: .udp, payloadLength: 12, hopLimit: 3,
                       dscp: 46, ecn: 1, flowLabel: 0xABCDE)
    let bytes = try emitDirty { (b) in try h.emit(into: b) }
    #expect(bytes.count == 40)
    #expect(Array(bytes[0..<8]) == [0x6B, 0x9A, 0xBC, 0xDE, 0, 12, 17, 3])   // version 6, TC 0xB9, flow 0xABCDE
    let parsed = try parse(bytes + [UInt8](repeating: 7, count: 12) + [0, 0], parseIPv6)   // + payload + padding
    #expect(parsed == h)
    #expect(parsed.trafficClass == 0xB9 && parsed.payloadRange == 40..<52 && parsed.totalLength == 52)
    var copy = bytes
    copy.withUnsafeMutableBytes { #expect(IPv6Header.decrementHopLimit(in: $0) == 2) }
    #expect(copy[7] == 2 && Array(copy[0..<7]) == Array(bytes[0..<7]))
}

@Test func ipv6HeaderRejectsTruncationsVersionAndLength() throws {
    let bytes = try packet(first: .noNextHeader, chain: [], payload: [1, 2, 3, 4])
    expectRejectsEveryTruncation(bytes, parseIPv6)
    expectRejectsEveryTruncation(bytes, parsePacket)
    var v4 = bytes; v4[0] = 0x45
    #expect(rejection(v4, parseIPv6) == .unsupported("IP version"))
    var long = bytes; long[5] = 5
    #expect(rejection(long, parseIPv6) == .truncated(needed: 45, have: 44))
    // A quoted header is cut short on purpose: its length is not checked.
    #expect(rejection(Array(long[0..<40])) { (b) in try IPv6Header(parsingQuoted: b) } == nil)
    #expect(rejection(Array(long[0..<39])) { (b) in try IPv6Header(parsingQuoted: b) } == .truncated(needed: 40, have: 39))
}

@Test func extensionHeaderChainIsWalkedToTheUpperLayer() throws {
    let frag = IPv6FragmentHeader(nextHeader: .ipv6DestinationOptions, fragmentOffset: 0, moreFragments: true, identification: 0xDEADBEEF)
    let fragBytes = try emitDirty { (b) in try frag.emit(into: b) }
    #expect(fragBytes == [60, 0, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF])
    let chain = extensionHeader(next: .ipv6Routing, options: [5, 2, 0, 0])             // hop-by-hop with router alert
        + [44, 2, 4, 1] + [UInt8](repeating: 0, count: 20)                             // routing: type 4, 1 segment left, 24 octets
        + fragBytes
        + extensionHeader(next: .udp, units: 2)                                        // destination options, 16 octets
    let bytes = try packet(first: .hopByHopOptions, chain: chain, payload: [0xA, 0xB, 0xC, 0xD, 0, 0, 0, 0])
    let p = try parse(bytes, parsePacket)
    let e = p.extensions
    #expect(e.count == 4 && e.hasHopByHopOptions && e.upperLayer == .udp)
    #expect(e.upperLayerOffset == 40 + 8 + 24 + 8 + 16 && e.byteCount == 56 && p.upperLayerRange == 96..<104)
    #expect(e.nextHeaderFieldOffset == 80)                                             // the destination options' Next Header
    #expect(e.routingType == 4 && e.segmentsLeft == 1)
    #expect(e.fragment == frag && e.fragmentHeaderOffset == 72 && !e.isLaterFragment && e.hasParsableUpperLayer)
    #expect(e.unrecognizedOption == nil)
    expectRejectsEveryTruncation(bytes, parsePacket)
    // Without extension headers the upper layer follows the fixed header.
    let plain = try parse(try packet(first: .tcp, chain: [], payload: [1]), parsePacket)
    #expect(plain.extensions.count == 0 && plain.extensions.nextHeaderFieldOffset == 6 && plain.upperLayerRange == 40..<41)
}

@Test func extensionHeaderWalkStopsAtLaterFragmentsAndUnknownHeaders() throws {
    let later = try emitDirty { (b) in
        try IPv6FragmentHeader(nextHeader: .tcp, fragmentOffset: 185, moreFragments: false, identification: 7).emit(into: b)
    }
    // After a later fragment's header come data octets that look like a hop-by-hop header: not walked.
    let p = try parse(try packet(first: .ipv6Fragment, chain: later, payload: [0, 0xFF, 0xFF, 0xFF]), parsePacket)
    #expect(p.extensions.isLaterFragment && p.extensions.fragment?.byteOffset == 1480 && p.extensions.fragment?.moreFragments == false)
    #expect(p.extensions.upperLayer == .tcp && !p.extensions.hasParsableUpperLayer && p.upperLayerRange == 48..<52)
    // An unknown next header ends the walk and is reported with the field that named it.
    let unknown = try parse(try packet(first: .ipv6DestinationOptions, chain: extensionHeader(next: IPProtocol(rawValue: 253)), payload: [9]), parsePacket)
    #expect(unknown.extensions.upperLayer.rawValue == 253 && unknown.extensions.nextHeaderFieldOffset == 40)
    #expect(!unknown.extensions.hasParsableUpperLayer && unknown.upperLayerRange == 48..<49)
    // An unknown option whose action bits say "discard and report" is reported with its offset.
    let opt = try parse(try packet(first: .ipv6DestinationOptions, chain: extensionHeader(next: .noNextHeader, options: [1, 0, 0x8B, 0]), payload: []),
                        parsePacket)
    #expect(opt.extensions.unrecognizedOption == IPv6UnrecognizedOption(type: 0x8B, offset: 44))
    #expect(opt.extensions.unrecognizedOption?.action == 2)
    // One with action 00 ("skip over this option") is not.
    let skip = try parse(try packet(first: .ipv6DestinationOptions, chain: extensionHeader(next: .noNextHeader, options: [0x1E, 0]), payload: []),
                         parsePacket)
    #expect(skip.extensions.unrecognizedOption == nil && skip.extensions.upperLayer == .noNextHeader)
    // The Authentication Header's length is in 4-octet units, plus 2.
    let ah: [UInt8] = [17, 4] + [UInt8](repeating: 0, count: 22)
    let withAH = try parse(try packet(first: .authenticationHeader, chain: ah, payload: [1, 2, 3, 4, 5, 6, 7, 8]), parsePacket)
    #expect(withAH.extensions.upperLayer == .udp && withAH.extensions.upperLayerOffset == 64)
}

@Test func extensionHeaderWalkRejectsHostileChains() throws {
    func reject(_ first: IPProtocol, _ chain: [UInt8], payload: [UInt8] = [], limits: IPv6ExtensionHeaderLimits = .default) throws -> WireError? {
        let bytes = try packet(first: first, chain: chain, payload: payload)
        return rejection(bytes) { (b) in try IPv6Packet.parse(b, limits: limits) }
    }
    // Hop-by-hop anywhere but first.
    #expect(try reject(.ipv6DestinationOptions, extensionHeader(next: .hopByHopOptions) + extensionHeader(next: .udp))
            == .malformed("Hop-by-Hop Options header not first"))
    // A long chain of destination options: the count limit, then the octet limit.
    var nine: [UInt8] = []
    for i in 0..<9 { nine += extensionHeader(next: i == 8 ? .noNextHeader : .ipv6DestinationOptions) }
    #expect(try reject(.ipv6DestinationOptions, nine) == .malformed("more than 8 IPv6 extension headers"))
    #expect(try reject(.ipv6DestinationOptions, nine, limits: IPv6ExtensionHeaderLimits(maximumHeaders: 9)) == nil)
    let big = extensionHeader(next: .noNextHeader, units: 65)                      // 520 octets
    #expect(try reject(.ipv6DestinationOptions, big) == .malformed("IPv6 extension headers longer than 512 octets"))
    // Two fragment headers.
    let f = try emitDirty { (b) in try IPv6FragmentHeader(nextHeader: .ipv6Fragment, fragmentOffset: 0, moreFragments: true, identification: 1).emit(into: b) }
    #expect(try reject(.ipv6Fragment, f + f) == .malformed("two IPv6 Fragment headers"))
    // Options that run past their header.
    #expect(try reject(.hopByHopOptions, [17, 0, 1, 5, 0, 0, 0, 0]) == .malformed("IPv6 option runs past its header"))
    // A header longer than the payload.
    #expect(try reject(.ipv6Routing, [17, 1, 0, 0, 0, 0, 0, 0]) == .truncated(needed: 56, have: 48))
    // Random chains never trap: whatever is accepted lies inside the packet.
    var random = TestRandom(seed: 44)
    let types: [UInt8] = [0, 43, 44, 51, 60, 135, 139, 140, 6, 17, 58, 59, 253]
    for _ in 0..<3000 {
        var body = random.bytes(Int.random(in: 0...120, using: &random))
        for i in stride(from: 0, to: body.count, by: 8) where Bool.random(using: &random) {
            body[i] = types.randomElement(using: &random)!
            if i + 1 < body.count { body[i + 1] = UInt8.random(in: 0...3, using: &random) }
        }
        let bytes = try packet(first: IPProtocol(rawValue: types.randomElement(using: &random)!), chain: body, payload: [])
        if let p = try? parse(bytes, parsePacket) {
            #expect(p.upperLayerRange.lowerBound <= p.upperLayerRange.upperBound && p.upperLayerRange.upperBound <= bytes.count)
            #expect(p.extensions.count <= 8 && p.extensions.byteCount <= 512)
        }
    }
}
