// Fuzz target `checksum-incremental` (layer 1, Wire), differential: the NAT rewrites addresses and
// ports by RFC 1624 incremental updates; the result must equal recomputing the checksum of the
// rewritten bytes. Input: a 16-bit-word offset, a new 16-bit and a new 32-bit value, then the
// data (at least 8 bytes).
import Wire

enum ChecksumTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let selector = Int(input.u16())
        let new16 = input.u16()
        let new32 = input.u32()
        var bytes = exactCopy(input.rest())
        guard bytes.count >= 8 else { return }
        bytes.withUnsafeMutableBytes { buffer in
            let words = buffer.count / 2
            let checksum = InternetChecksum.of(UnsafeRawBufferPointer(buffer))
            // A 16-bit field (a port) at an even offset.
            let at16 = (selector % words) * 2
            let old16 = buffer.u16(at16)
            buffer.setU16(at16, new16)
            let incremental16 = InternetChecksum.update(checksum, old: old16, new: new16)
            let full16 = InternetChecksum.of(UnsafeRawBufferPointer(buffer))
            check(incremental16, full16, UnsafeRawBufferPointer(buffer), "16-bit field at \(at16): \(old16) → \(new16)")
            // A 32-bit field (an address) at an even offset, on top of the first change.
            guard words >= 2 else { return }
            let at32 = (selector % (words - 1)) * 2
            let old32 = buffer.u32(at32)
            buffer.setU32(at32, new32)
            let incremental32 = InternetChecksum.update(full16, old: old32, new: new32)
            let full32 = InternetChecksum.of(UnsafeRawBufferPointer(buffer))
            check(incremental32, full32, UnsafeRawBufferPointer(buffer), "32-bit field at \(at32): \(old32) → \(new32)")
        }
    }

    /// RFC 1624 §3: eqn. 3 never yields 0xFFFF where recomputation gives 0x0000 or the other way, except
    /// that one's-complement has two zeros — recomputation over all-zero data gives 0xFFFF, and eqn. 3 may
    /// give 0x0000 for it (§4 notes the same checksum verifies either way on a receiver). Anything else is a bug.
    static func check(_ incremental: UInt16, _ full: UInt16, _ data: UnsafeRawBufferPointer, _ what: String) {
        if incremental == full { return }
        let bothZero = (incremental == 0 || incremental == 0xFFFF) && (full == 0 || full == 0xFFFF)
        if bothZero && data.allSatisfy({ $0 == 0 }) { return }
        fatalError("incremental checksum \(incremental) ≠ recomputed \(full) after changing the \(what)")
    }

    static func seeds() -> [[UInt8]] {
        // Real headers: an IPv4 header with its checksum, and a UDP datagram, with a port and an address to change.
        let ipHeader: [UInt8] = [0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        let udp: [UInt8] = [0x13, 0x88, 0, 53, 0, 20, 0, 0] + Array("twelve bytes".utf8)
        return [
            [6, 0, 0x9C, 0x40, 192, 168, 1, 1] + ipHeader,
            [0, 0, 0x9C, 0x40, 172, 16, 0, 9] + udp,
            [1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 8),
        ]
    }
}
