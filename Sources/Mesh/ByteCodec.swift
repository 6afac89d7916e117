// A bounds-checked reader and an appending writer for the mesh's big-endian encodings (certificates, revocation
// lists, handshake payloads). The reader never traps: every read checks the remaining length and throws.

/// Reads big-endian fields from bytes; any overrun throws `CertificateError.malformed`.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes; offset = start; self.end = min(end ?? bytes.count, bytes.count)
    }

    var remaining: Int { end - offset }

    mutating func u8() throws(CertificateError) -> UInt8 {
        guard remaining >= 1 else { throw .malformed }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(CertificateError) -> UInt16 {
        let hi = try u8(), lo = try u8()
        return UInt16(hi) << 8 | UInt16(lo)
    }

    mutating func u64() throws(CertificateError) -> UInt64 {
        guard remaining >= 8 else { throw .malformed }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }

    mutating func i64() throws(CertificateError) -> Int64 { Int64(bitPattern: try u64()) }

    mutating func take(_ count: Int) throws(CertificateError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw .malformed }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}

/// Appends big-endian fields.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    mutating func u64(_ v: UInt64) { for i in (0..<8).reversed() { bytes.append(UInt8(truncatingIfNeeded: v >> (UInt64(i) * 8))) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func append(_ b: [UInt8]) { bytes += b }
}
