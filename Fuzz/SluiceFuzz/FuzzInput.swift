// Fuzz harness: reading structured choices out of the raw input, never trapping on its bytes.

/// Consumes an input front to back; reads past the end give zeros / empty slices.
struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }
    var isEmpty: Bool { remaining <= 0 }

    mutating func u8() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }

    /// The next `count` bytes (fewer at the end).
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let n = max(0, min(count, remaining))
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    /// A record: a 16-bit little-endian length, then that many bytes (fewer at the end).
    mutating func record() -> UnsafeRawBufferPointer { take(Int(u16())) }

    /// Everything left.
    mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}

/// Builds a record stream (the inverse of `FuzzInput.record()`), for seeds.
func records(_ parts: [[UInt8]]) -> [UInt8] {
    var out: [UInt8] = []
    for p in parts {
        let n = min(p.count, Int(UInt16.max))
        out += [UInt8(n & 0xFF), UInt8(n >> 8)] + p.prefix(n)
    }
    return out
}

/// Copies an input slice into a fresh array, so the code under test gets memory of exactly that size
/// (AddressSanitizer then catches a read one past the end).
func exactCopy(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { Array(bytes) }
