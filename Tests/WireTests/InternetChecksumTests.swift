import Testing
@testable import Wire

/// RFC 1071 §3 example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2; the checksum is its complement.
@Test func checksumMatchesRFC1071Example() {
    let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
    let c = bytes.withUnsafeBytes { InternetChecksum.of($0) }
    #expect(~c == 0xDDF2)
    #expect(c == 0x220D)
    // Appending the checksum makes the whole verify to zero.
    let withSum = bytes + [UInt8(c >> 8), UInt8(c & 0xFF)]
    #expect(withSum.withUnsafeBytes { InternetChecksum.of($0) } == 0)
    // An odd trailing byte is padded with zero on the right.
    #expect([UInt8(0x12)].withUnsafeBytes { InternetChecksum.of($0) } == ~UInt16(0x1200))
}

/// Word-sized adds equal adding the same bytes.
@Test func checksumWordAddsMatchByteAdds() {
    var rng = TestRandom(seed: 3)
    for _ in 0..<200 {
        let bytes = rng.bytes(Int.random(in: 0...64, using: &rng) * 2)
        var byWord = InternetChecksum()
        for i in stride(from: 0, to: bytes.count, by: 2) { byWord.add(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
        #expect(byWord.value == bytes.withUnsafeBytes { InternetChecksum.of($0) })
    }
}

/// RFC 1624 incremental update equals a full recompute, for random 16- and 32-bit field changes.
@Test func incrementalUpdateEqualsFullRecompute() {
    var rng = TestRandom(seed: 1624)
    for _ in 0..<2000 {
        var bytes = rng.bytes(2 * Int.random(in: 2...40, using: &rng))
        let before = bytes.withUnsafeBytes { InternetChecksum.of($0) }
        let wide = Bool.random(using: &rng) && bytes.count >= 4
        let word = Int.random(in: 0..<(bytes.count / 2 - (wide ? 1 : 0)), using: &rng) * 2
        let updated: UInt16
        if wide {
            let old = bytes.withUnsafeBytes { $0.u32(word) }
            let new = rng.next() & 1 == 0 ? UInt32.random(in: 0...UInt32.max, using: &rng) : 0
            bytes.withUnsafeMutableBytes { $0.setU32(word, new) }
            updated = InternetChecksum.update(before, old: old, new: new)
        } else {
            let old = bytes.withUnsafeBytes { $0.u16(word) }
            let new = UInt16.random(in: 0...UInt16.max, using: &rng)
            bytes.withUnsafeMutableBytes { $0.setU16(word, new) }
            updated = InternetChecksum.update(before, old: old, new: new)
        }
        let full = bytes.withUnsafeBytes { InternetChecksum.of($0) }
        // One's complement has two zeros; a header checksum of 0x0000 and 0xFFFF verify the same.
        #expect(updated == full || (updated ^ full == 0xFFFF && (full == 0 || full == 0xFFFF)),
                "update gave \(updated), recompute \(full)")
    }
}

/// The eight-bytes-at-a-time sum equals RFC 1071's definition (big-endian 16-bit words, an odd
/// last byte padded with zero) at every length 0…80, at unaligned starts, in pieces, and for
/// runs of 0xFF (where one's-complement zero has two forms).
@Test func checksumEqualsTheWordByWordDefinition() {
    func reference(_ bytes: ArraySlice<UInt8>, _ initial: [UInt16] = []) -> UInt16 {
        var sum: UInt64 = initial.reduce(0) { $0 + UInt64($1) }
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex { sum += UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1]); i += 2 }
        if i < bytes.endIndex { sum += UInt64(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
    var rng = TestRandom(seed: 1071)
    for length in 0...80 {
        for start in 0..<3 {
            let all = length % 7 == 0 ? [UInt8](repeating: 0xFF, count: length + start) : rng.bytes(length + start)
            let piece = all[start...]
            let fast = all.withUnsafeBytes { InternetChecksum.of(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            #expect(fast == reference(piece), "length \(length), start \(start)")
            // After a word and before an even-length first piece: the same as one buffer.
            let cut = start + (length / 4) * 2
            var c = InternetChecksum()
            c.add(UInt16(0xABCD))
            all.withUnsafeBytes { c.add(UnsafeRawBufferPointer(rebasing: $0[start..<cut])); c.add(UnsafeRawBufferPointer(rebasing: $0[cut...])) }
            #expect(c.value == reference(piece, [0xABCD]), "length \(length), start \(start), cut \(cut)")
        }
    }
}
