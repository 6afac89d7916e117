import Testing
@testable import Wire

private let a = IPv4Address(10, 0, 0, 2), b = IPv4Address(10, 0, 0, 1)
private func parseUDP(_ d: UnsafeRawBufferPointer) throws(WireError) -> UDPHeader { try UDPHeader(parsing: d, source: a, destination: b) }

private func emitUDP(_ payload: [UInt8], source: IPv4Address = a, destination: IPv4Address = b) throws -> [UInt8] {
    try emitDirty { (buf) in
        try payload.withUnsafeBytes { (p) in
            try UDPHeader(sourcePort: 68, destinationPort: 67).emit(into: buf, payload: p, source: source, destination: destination)
        }
    }
}

@Test func udpRoundTripOnDirtyBuffer() throws {
    let payload: [UInt8] = Array(100...140)
    let bytes = try emitUDP(payload)
    #expect(bytes.count == 8 + payload.count)
    let h = try parse(bytes, parseUDP)
    #expect(h.sourcePort == 68 && h.destinationPort == 67)
    #expect(Int(h.length) == bytes.count && h.checksum != 0)
    #expect(Array(bytes[h.payloadRange]) == payload)
}

@Test func udpRejectsEveryTruncation() throws {
    expectRejectsEveryTruncation(try emitUDP([1, 2, 3, 4, 5]), parseUDP)
}

@Test func udpRejectsCorruptChecksumAndLength() throws {
    let good = try emitUDP([9, 8, 7, 6])
    #expect(rejection(good, parseUDP) == nil)
    var bytes = good; bytes[7] ^= 1
    #expect(rejection(bytes, parseUDP) == .badChecksum)
    bytes = good; bytes[9] ^= 1
    #expect(rejection(bytes, parseUDP) == .badChecksum)
    // The pseudo-header counts: the same bytes from another source do not verify.
    #expect(rejection(good) { (d) in try UDPHeader(parsing: d, source: b, destination: a) } == nil)
    #expect(rejection(good) { (d) in try UDPHeader(parsing: d, source: b, destination: b) } == .badChecksum)
    bytes = good; bytes[5] = 7; bytes[6] = 0; bytes[7] = 0   // length 7 < 8 (no checksum)
    #expect(rejection(bytes, parseUDP) == .badLength)
    bytes = good; bytes[5] = 13; bytes[6] = 0; bytes[7] = 0  // length 13 > 12 present
    #expect(rejection(bytes, parseUDP) == .truncated(needed: 13, have: 12))
    // Checksum zero means "none": accepted whatever the data.
    bytes = good; bytes[6] = 0; bytes[7] = 0; bytes[10] ^= 0xFF
    #expect(rejection(bytes, parseUDP) == nil)
}

/// RFC 768: a computed checksum of zero is sent as all ones (zero would mean "no checksum").
@Test func udpSendsComputedZeroChecksumAsAllOnes() throws {
    let first = try emitUDP([0, 0])
    let c = UInt16(first[6]) << 8 | UInt16(first[7])
    // Putting the checksum itself in the data makes the sum come out as zero.
    let bytes = try emitUDP([UInt8(c >> 8), UInt8(c & 0xFF)])
    #expect(Array(bytes[6..<8]) == [0xFF, 0xFF])
    #expect(rejection(bytes, parseUDP) == nil)
}
