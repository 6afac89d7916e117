import Testing
@testable import Wire

private func parseICMP(_ b: UnsafeRawBufferPointer) throws(WireError) -> ICMPv4Message { try ICMPv4Message(parsing: b) }

@Test func icmpEchoRoundTripOnDirtyBuffer() throws {
    let data: [UInt8] = Array(1...37)                      // odd length: checksum pads the last byte
    for message in [ICMPv4Message.echoRequest(identifier: 0x1234, sequenceNumber: 7),
                    .echoReply(identifier: 0x1234, sequenceNumber: 7)] {
        let bytes = try emitDirty { (b) in
            try data.withUnsafeBytes { (d) in try message.emit(into: b, data: d) }
        }
        #expect(bytes.count == 8 + data.count)
        #expect(Array(bytes[8...]) == data)
        var parsed = try parse(bytes, parseICMP)
        #expect(parsed.identifier == 0x1234 && parsed.sequenceNumber == 7)
        #expect(!parsed.isError)
        parsed.checksum = 0
        #expect(parsed == message)
    }
}

@Test func icmpFragmentationNeededCarriesMTUAndQuotedHeader() throws {
    let original = IPv4Header(source: IPv4Address(10, 0, 0, 2), destination: IPv4Address(10, 1, 0, 2),
                              protocol: .udp, payloadLength: 1472, identification: 99, dontFragment: true)
    let quote = try emitDirty { (b) in try original.emit(into: b) } + [0, 53, 0, 53, 5, 0xC8, 0xAB, 0xCD]
    let message = ICMPv4Message.destinationUnreachable(code: ICMPv4UnreachableCode.fragmentationNeeded, nextHopMTU: 1400)
    let bytes = try emitDirty { (b) in
        try quote.withUnsafeBytes { (d) in try message.emit(into: b, data: d) }
    }
    #expect(Array(bytes[0..<2]) == [3, 4])
    #expect(Array(bytes[4..<8]) == [0, 0, 0x05, 0x78])       // RFC 1191: unused(16) next-hop MTU(16)
    let parsed = try parse(bytes, parseICMP)
    #expect(parsed.isError && parsed.nextHopMTU == 1400 && parsed.code == 4)
    let (header, payload) = try parse(Array(bytes[8...])) { (d) in try ICMPv4Message.quotedDatagram(in: d) }
    var expected = original; expected.checksum = header.checksum
    #expect(header == expected)
    #expect(payload == 20..<28)
    #expect(ICMPv4Message.timeExceeded(code: 0).isError)
    #expect(ICMPv4Type.redirect.isError && !ICMPv4Type.echoRequest.isError)
}

@Test func icmpRejectsEveryTruncation() throws {
    let data: [UInt8] = Array(1...20)
    let bytes = try emitDirty { (b) in
        try data.withUnsafeBytes { (d) in
            try ICMPv4Message.echoRequest(identifier: 1, sequenceNumber: 2).emit(into: b, data: d)
        }
    }
    expectRejectsEveryTruncation(bytes, parseICMP)
}

@Test func icmpRejectsCorruptChecksumAndShortQuote() throws {
    let good = try emitDirty { (b) in
        try ICMPv4Message.timeExceeded(code: 0).emit(into: b, data: UnsafeRawBufferPointer(start: nil, count: 0))
    }
    #expect(rejection(good, parseICMP) == nil)
    for i in good.indices {
        var bytes = good; bytes[i] ^= 0x40
        #expect(rejection(bytes, parseICMP) == .badChecksum, "flipped byte \(i)")
    }
    // An error whose data is too short to hold the original IP header.
    #expect(throws: WireError.truncated(needed: 20, have: 8)) {
        _ = try parse([UInt8](repeating: 0x45, count: 8)) { (d) in try ICMPv4Message.quotedDatagram(in: d) }
    }
}
