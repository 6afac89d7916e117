import Testing
@testable import Wire

private let a = IPv4Address(192, 0, 2, 1), b = IPv4Address(198, 51, 100, 7)
private func parseTCP(_ d: UnsafeRawBufferPointer) throws(WireError) -> TCPHeader { try TCPHeader(parsing: d, source: a, destination: b) }
private let sample = TCPHeader(sourcePort: 40000, destinationPort: 443, sequenceNumber: 0xDEAD_BEEF,
                               acknowledgmentNumber: 0x0102_0304, flags: [.syn, .ack, .ece], window: 64240,
                               urgentPointer: 3, options: HeaderOptions([2, 4, 0x05, 0xB4, 1, 1, 4, 2])!)

private func emitTCP(_ header: TCPHeader, _ payload: [UInt8]) throws -> [UInt8] {
    try emitDirty { (buf) in
        try payload.withUnsafeBytes { (p) in try header.emit(into: buf, payload: p, source: a, destination: b) }
    }
}

@Test func tcpRoundTripOnDirtyBuffer() throws {
    let payload: [UInt8] = Array("GET / HTTP/1.1\r\n".utf8)
    let bytes = try emitTCP(sample, payload)
    #expect(bytes.count == 28 + payload.count)
    #expect(bytes[12] == 7 << 4)
    var parsed = try parse(bytes, parseTCP)
    #expect(parsed.checksum != 0)
    #expect(Array(bytes[parsed.headerLength...]) == payload)
    parsed.checksum = 0
    #expect(parsed == sample)
}

@Test func tcpRejectsEveryTruncation() throws {
    expectRejectsEveryTruncation(try emitTCP(sample, [1, 2, 3]), parseTCP)
}

@Test func tcpRejectsCorruptChecksumAndDataOffset() throws {
    let good = try emitTCP(sample, [5, 6, 7, 8])
    #expect(rejection(good, parseTCP) == nil)
    var bytes = good; bytes[17] ^= 1
    #expect(rejection(bytes, parseTCP) == .badChecksum)
    bytes = good; bytes[4] ^= 0x80                  // sequence number, checksum stale
    #expect(rejection(bytes, parseTCP) == .badChecksum)
    bytes = good; bytes[12] = 4 << 4                // data offset 4 words < 5
    #expect(rejection(bytes, parseTCP) == .badLength)
    bytes = good; bytes[12] = 15 << 4               // 60 bytes > 32 present
    #expect(rejection(bytes, parseTCP) == .truncated(needed: 60, have: 32))
    #expect(rejection(good) { (d) in try TCPHeader(parsing: d, source: b, destination: a) } == nil)
    #expect(rejection(good) { (d) in try TCPHeader(parsing: d, source: a, destination: a) } == .badChecksum)
}
