import Testing
@testable import Wire

private func sampleHeader(options: [UInt8] = [0x94, 0x04, 0x00, 0x00], payloadLength: Int = 12) -> IPv4Header {
    var h = IPv4Header(source: IPv4Address(10, 0, 0, 2), destination: IPv4Address(192, 168, 7, 9),
                       protocol: .udp, payloadLength: payloadLength, timeToLive: 17, identification: 0xBEEF,
                       dontFragment: true, dscp: 46, ecn: 1, options: HeaderOptions(options)!)
    h.moreFragments = true
    h.fragmentOffset = 0x1ABC
    return h
}

/// Header + payload bytes (payload 1, 2, 3, …).
private func samplePacket(_ header: IPv4Header) throws -> [UInt8] {
    let payload = (0..<header.payloadLength).map { UInt8($0 + 1) }
    return try emitDirty { (b) in try header.emit(into: b) } + payload
}

private func parseIP(_ b: UnsafeRawBufferPointer) throws(WireError) -> IPv4Header { try IPv4Header(parsing: b) }

@Test func ipv4RoundTripOnDirtyBuffer() throws {
    for header in [sampleHeader(), sampleHeader(options: [], payloadLength: 0)] {
        let bytes = try samplePacket(header)
        #expect(bytes.count == Int(header.totalLength))
        #expect(bytes[0] == 0x40 | UInt8(header.headerLength / 4))
        var parsed = try parse(bytes, parseIP)
        #expect(parsed.checksum != 0)
        #expect(parsed.payloadRange == header.headerLength..<bytes.count)
        parsed.checksum = 0
        #expect(parsed == header)
    }
    let h = try parse(try samplePacket(sampleHeader()), parseIP)
    #expect(h.dscp == 46 && h.ecn == 1 && h.dontFragment && h.moreFragments && h.fragmentOffset == 0x1ABC)
    #expect(h.options.bytes == [0x94, 0x04, 0x00, 0x00])
    #expect(h.isFragment)
}

@Test func ipv4IgnoresTrailingEthernetPadding() throws {
    let header = sampleHeader(options: [], payloadLength: 8)
    let bytes = try samplePacket(header) + [UInt8](repeating: 0, count: 18)
    let parsed = try parse(bytes, parseIP)
    #expect(parsed.totalLength == 28)
    #expect(parsed.payloadRange == 20..<28)
}

@Test func ipv4RejectsEveryTruncation() throws {
    expectRejectsEveryTruncation(try samplePacket(sampleHeader()), parseIP)
}

@Test func ipv4RejectsCorruptChecksumAndLengths() throws {
    let good = try samplePacket(sampleHeader())
    #expect(rejection(good, parseIP) == nil)
    var bytes = good; bytes[10] ^= 0x01
    #expect(rejection(bytes, parseIP) == .badChecksum)
    bytes = good; bytes[8] = 99                       // TTL changed, checksum stale
    #expect(rejection(bytes, parseIP) == .badChecksum)
    // Length fields corrupted with a valid checksum: the length check itself must catch them.
    bytes = good; bytes[2] = 0; bytes[3] = UInt8(good.count + 1); refreshIPv4Checksum(&bytes)
    #expect(rejection(bytes, parseIP) == .truncated(needed: good.count + 1, have: good.count))
    bytes = good; bytes[2] = 0; bytes[3] = 23; refreshIPv4Checksum(&bytes)
    #expect(rejection(bytes, parseIP) == .badLength)  // total 23 < header 24
    bytes = good; bytes[0] = 0x44; refreshIPv4Checksum(&bytes)
    #expect(rejection(bytes, parseIP) == .badLength)  // IHL 4
    bytes = good; bytes[0] = 0x4F                     // IHL 15 = 60 bytes > 36 present
    #expect(rejection(bytes, parseIP) == .truncated(needed: 60, have: good.count))
    bytes = good; bytes[0] = 0x66
    #expect(rejection(bytes, parseIP) == .unsupported("IP version"))
}

@Test func ipv4EmitRejectsInconsistentHeaders() {
    var h = sampleHeader()
    h.totalLength = 10
    #expect(throws: WireError.badLength) { _ = try emitDirty { (b) in try h.emit(into: b) } }
    h = sampleHeader(options: [1, 1, 1])
    #expect(throws: WireError.malformed("IPv4 options not a multiple of 4 bytes")) {
        _ = try emitDirty { (b) in try h.emit(into: b) }
    }
    var small = [UInt8](repeating: 0, count: 23)
    #expect(throws: WireError.noSpace(needed: 24, have: 23)) {
        _ = try small.withUnsafeMutableBytes { (b) in try sampleHeader().emit(into: b) }
    }
}

/// In-place TTL decrement with RFC 1624 patching leaves a header that verifies, equal to a re-emit.
@Test func ipv4TTLDecrementMatchesFullRecompute() throws {
    var rng = TestRandom(seed: 1812)
    for _ in 0..<500 {
        var h = sampleHeader(options: Bool.random(using: &rng) ? [] : [1, 1, 1, 0], payloadLength: 0)
        h.timeToLive = UInt8.random(in: 1...255, using: &rng)
        h.identification = UInt16.random(in: 0...UInt16.max, using: &rng)
        h.source = IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &rng))
        h.protocol = IPProtocol(rawValue: UInt8.random(in: 0...255, using: &rng))
        var bytes = try samplePacket(h)
        let newTTL = bytes.withUnsafeMutableBytes { IPv4Header.decrementTimeToLive(in: $0) }
        #expect(newTTL == h.timeToLive - 1)
        let parsed = try parse(bytes, parseIP)           // checksum verified here
        #expect(parsed.timeToLive == h.timeToLive - 1)
        var expected = h; expected.timeToLive -= 1
        let reemitted = try samplePacket(expected)
        #expect(bytes == reemitted)
    }
}

@Test func headerOptionsHoldAtMostFortyBytes() {
    #expect(HeaderOptions([UInt8](repeating: 1, count: 40))?.count == 40)
    #expect(HeaderOptions([UInt8](repeating: 1, count: 41)) == nil)
    #expect(HeaderOptions([1, 2]) != HeaderOptions([1, 2, 0]))
    #expect(HeaderOptions([1, 2])?.bytes == [1, 2])
}
