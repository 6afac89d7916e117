import Testing
@testable import Wire

private let a = IPv4Address(192, 0, 2, 1), b = IPv4Address(198, 51, 100, 7)

private func synOptions() -> TCPOptions {
    var o = TCPOptions()
    o.maximumSegmentSize = 1460
    o.windowScale = 7
    o.sackPermitted = true
    o.timestamp = (0x0102_0304, 0)
    return o
}

private func ackOptions() -> TCPOptions {
    var o = TCPOptions()
    o.timestamp = (0xAABB_CCDD, 0x1122_3344)
    o.appendSACKBlock(TCPSACKBlock(left: 0xFFFF_FF00, right: 0x0000_0100))   // wraps
    o.appendSACKBlock(TCPSACKBlock(left: 5000, right: 6000))
    o.appendSACKBlock(TCPSACKBlock(left: 7000, right: 9000))
    return o
}

/// A whole segment carrying `options`, emitted on a dirty buffer.
private func segment(_ options: TCPOptions, payload: [UInt8] = [9, 8, 7]) throws -> [UInt8] {
    let header = TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: 1, acknowledgmentNumber: 2,
                           flags: [.ack], window: 100, options: try options.emitted())
    return try emitDirty { buf in try payload.withUnsafeBytes { try header.emit(into: buf, payload: $0, source: a, destination: b) } }
}

private func parseSegmentOptions(_ d: UnsafeRawBufferPointer) throws(WireError) -> TCPOptions {
    try TCPOptions(parsing: TCPHeader(parsing: d, source: a, destination: b).options)
}

@Suite("TCP options")
struct TCPOptionsTests {
    @Test("SYN and ACK option sets survive emit → parse inside a segment on a dirty buffer")
    func roundTrip() throws {
        for options in [synOptions(), ackOptions(), TCPOptions()] {
            let bytes = try segment(options)
            #expect((bytes.count - 3) % 4 == 0)
            let parsed = try parse(bytes, parseSegmentOptions)
            #expect(parsed == options)
            #expect(options.encodedLength == Int(bytes[12] >> 4) * 4 - 20)
        }
        // SYN layout of RFC 7323 Appendix A: MSS, NOP WS, SACK-permitted TS.
        let raw = try synOptions().emitted().bytes
        #expect(raw == [2, 4, 0x05, 0xB4, 1, 3, 3, 7, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0])
        #expect(try ackOptions().emitted().count == 12 + 4 + 24)
    }

    @Test("Every truncation of a segment with options is rejected")
    func truncations() throws {
        expectRejectsEveryTruncation(try segment(ackOptions()), parseSegmentOptions)
        expectRejectsEveryTruncation(try segment(synOptions()), parseSegmentOptions)
    }

    @Test("Bad checksum, option lengths past the end, and wrong fixed lengths are rejected")
    func corruption() throws {
        let good = try segment(synOptions())
        #expect(rejection(good, parseSegmentOptions) == nil)
        var bytes = good; bytes[22] ^= 1               // inside the MSS value, checksum stale
        #expect(rejection(bytes, parseSegmentOptions) == .badChecksum)

        func raw(_ options: [UInt8]) -> WireError? {
            rejection(options) { (d) throws(WireError) in try TCPOptions(parsingBytes: d) }
        }
        #expect(raw([2, 4, 5, 0xB4]) == nil)
        #expect(raw([2, 5, 5, 0xB4, 0]) == .malformed("TCP MSS option length 5"))
        #expect(raw([3, 4, 7, 0]) == .malformed("TCP window scale option length 4"))
        #expect(raw([4, 3, 0]) == .malformed("TCP SACK-permitted option length 3"))
        #expect(raw([5, 9, 0, 0, 0, 0, 0, 0, 0]) == .malformed("TCP SACK option length 9"))
        #expect(raw([8, 8, 0, 0, 0, 0, 0, 0]) == .malformed("TCP timestamps option length 8"))
        #expect(raw([2, 1]) == .malformed("TCP option 2 length 1"))
        #expect(raw([1, 1, 30, 6, 0, 0]) == .truncated(needed: 8, have: 6))   // unknown kind running past the end
        #expect(raw([1, 1, 30]) == .truncated(needed: 4, have: 3))            // kind without a length byte
        // Unknown options are skipped; End of Option List ends parsing.
        let skipped = try parse([30, 4, 0xFF, 0xFF, 3, 3, 2, 0, 2, 4, 0, 0]) { (d) throws(WireError) in try TCPOptions(parsingBytes: d) }
        #expect(skipped.windowScale == 2 && skipped.maximumSegmentSize == nil)
    }

    @Test("Random option bytes never trap and never exceed four SACK blocks")
    func random() {
        var r = TestRandom(seed: 11)
        for _ in 0..<20_000 {
            let n = Int.random(in: 0...40, using: &r)
            var bytes = r.bytes(n)
            // Bias towards known kinds so the length checks are exercised.
            for i in stride(from: 0, to: n, by: 3) where Bool.random(using: &r) { bytes[i] = [1, 2, 3, 4, 5, 8][Int.random(in: 0..<6, using: &r)] }
            if let o = try? parse(bytes, { (d) throws(WireError) in try TCPOptions(parsingBytes: d) }) {
                #expect(o.sackBlockCount <= 4)
            }
        }
    }
}
