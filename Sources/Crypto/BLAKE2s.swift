// BLAKE2s, written from RFC 7693 (§2 parameters, §3 algorithm). Used for Noise's HASH, WireGuard's MAC1/MAC2
// and cookies. Incremental; no heap allocation; 1…32-byte output; optional key of up to 32 bytes.

/// The BLAKE2s hash function (RFC 7693), incremental.
public struct BLAKE2s: Sendable {
    /// RFC 7693 §2.1: BLAKE2s block bytes bb = 64.
    public static let blockLength = 64
    /// RFC 7693 §2.1: hash bytes 1 <= nn <= 32.
    public static let maxOutputLength = 32
    /// RFC 7693 §2.1: key bytes 0 <= kk <= 32.
    public static let maxKeyLength = 32

    /// RFC 7693 §2.6: IV[0..7] — the same as SHA-256's.
    @usableFromInline static let iv: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19)

    /// RFC 7693 §2.7: the message word schedule SIGMA, ten rounds of sixteen indices.
    @usableFromInline static let sigma: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ]
    /// The schedule flattened into one table of bytes, read in `compress`.
    static let sigmaFlat: [UInt8] = sigma.flatMap { $0.map(UInt8.init) }

    var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
    /// RFC 7693 §3.3: t, the 2w-bit offset counter (bytes compressed so far).
    var t: UInt64 = 0
    /// The pending block: kept back until more input arrives, because the final block is compressed differently.
    var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    var blockCount = 0
    /// nn, the number of output bytes.
    public let outputLength: Int

    /// Starts a hash of `outputLength` bytes (1…32), keyed when `key` is non-empty (at most 32 bytes).
    public init(outputLength: Int = 32, key: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        precondition((1...Self.maxOutputLength).contains(outputLength), "BLAKE2s output is 1…32 bytes")
        precondition(key.count <= Self.maxKeyLength, "BLAKE2s key is at most 32 bytes")
        self.outputLength = outputLength
        h = Self.iv
        // RFC 7693 §3.3: "h[0..7] := IV[0..7]  // Initialization Vector.
        //                  h[0] := h[0] ^ 0x01010kknn  // Parameter block p[0]"
        h.0 ^= 0x0101_0000 ^ UInt32(key.count) << 8 ^ UInt32(outputLength)
        // "if kk > 0 then d[0] = key padded to bb bytes": the key is the whole first block.
        if key.count > 0 {
            withUnsafeMutableBytes(of: &block) { b in
                b.copyMemory(from: key)
            }
            blockCount = Self.blockLength
        }
    }

    /// Absorbs `data`.
    public mutating func update(_ data: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < data.count {
            if blockCount == Self.blockLength {
                // More input follows, so the buffered block is not the last one.
                t &+= UInt64(Self.blockLength)
                compress(last: false)
                blockCount = 0
            }
            let take = min(Self.blockLength - blockCount, data.count - offset)
            let start = blockCount
            withUnsafeMutableBytes(of: &block) { b in
                UnsafeMutableRawBufferPointer(rebasing: b[start..<start + take])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: data[offset..<offset + take]))
            }
            blockCount += take
            offset += take
        }
    }

    /// Absorbs the bytes of `data`.
    public mutating func update(_ data: some Sequence<UInt8>) {
        let done: Void? = data.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(data).withUnsafeBytes { update($0) } }
    }

    /// Finishes and writes `outputLength` bytes to the front of `output`.
    public mutating func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= outputLength)
        t &+= UInt64(blockCount)
        let count = blockCount
        withUnsafeMutableBytes(of: &block) { b in
            // "The final block is padded with zeros."
            for i in count..<Self.blockLength { b[i] = 0 }
        }
        compress(last: true)
        withUnsafeBytes(of: &h) { hb in
            // RFC 7693 §3.3: "RETURN first "nn" bytes from little-endian word array h[]."
            for i in 0..<8 {
                let word = hb.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian
                withUnsafeBytes(of: word) { w in
                    for j in 0..<4 where i * 4 + j < outputLength { output[i * 4 + j] = w[j] }
                }
            }
        }
        block = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// Finishes and returns the digest.
    public mutating func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        out.withUnsafeMutableBytes { finalize(into: $0) }
        return out
    }

    /// The digest of `data` in one call.
    public static func hash(_ data: UnsafeRawBufferPointer, outputLength: Int = 32,
                            key: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                            into output: UnsafeMutableRawBufferPointer) {
        var state = BLAKE2s(outputLength: outputLength, key: key)
        state.update(data)
        state.finalize(into: output)
    }

    /// The digest of `data` in one call, as an array (convenience for tests and cold paths).
    public static func hash(_ data: [UInt8], outputLength: Int = 32, key: [UInt8] = []) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        data.withUnsafeBytes { d in
            key.withUnsafeBytes { k in
                out.withUnsafeMutableBytes { o in hash(d, outputLength: outputLength, key: k, into: o) }
            }
        }
        return out
    }

    /// RFC 7693 §3.2, the compression function F over the buffered block.
    mutating func compress(last: Bool) {
        let t = self.t
        let sigma = Self.sigmaFlat
        withUnsafeMutableBytes(of: &h) { hb in
            withUnsafeBytes(of: &block) { mb in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 32) { scratch in
                    let v = scratch.baseAddress!
                    let m = v + 16
                    for i in 0..<16 { m[i] = mb.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian }
                    let hw = hb.baseAddress!.assumingMemoryBound(to: UInt32.self)
                    // "v[0..7] := h[0..7]; v[8..15] := IV[0..7]"
                    for i in 0..<8 { v[i] = hw[i] }
                    withUnsafeBytes(of: Self.iv) { ivb in
                        for i in 0..<8 { v[8 + i] = ivb.load(fromByteOffset: i * 4, as: UInt32.self) }
                    }
                    // "v[12] := v[12] ^ (t mod 2**w); v[13] := v[13] ^ (t >> w)"
                    v[12] ^= UInt32(truncatingIfNeeded: t)
                    v[13] ^= UInt32(truncatingIfNeeded: t >> 32)
                    // "IF f = TRUE THEN v[14] := v[14] ^ 0xFF..FF"
                    if last { v[14] = ~v[14] }
                    @inline(__always) func g(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt32, _ y: UInt32) {
                        // RFC 7693 §3.1, rotation constants (R1, R2, R3, R4) = (16, 12, 8, 7).
                        v[a] = v[a] &+ v[b] &+ x; v[d] = (v[d] ^ v[a]).rotatedRight(16)
                        v[c] = v[c] &+ v[d];      v[b] = (v[b] ^ v[c]).rotatedRight(12)
                        v[a] = v[a] &+ v[b] &+ y; v[d] = (v[d] ^ v[a]).rotatedRight(8)
                        v[c] = v[c] &+ v[d];      v[b] = (v[b] ^ v[c]).rotatedRight(7)
                    }
                    sigma.withUnsafeBufferPointer { sg in
                        for round in 0..<10 {
                            let s = round * 16
                            @inline(__always) func w(_ i: Int) -> UInt32 { m[Int(sg[s + i])] }
                            g(0, 4, 8, 12, w(0), w(1))
                            g(1, 5, 9, 13, w(2), w(3))
                            g(2, 6, 10, 14, w(4), w(5))
                            g(3, 7, 11, 15, w(6), w(7))
                            g(0, 5, 10, 15, w(8), w(9))
                            g(1, 6, 11, 12, w(10), w(11))
                            g(2, 7, 8, 13, w(12), w(13))
                            g(3, 4, 9, 14, w(14), w(15))
                        }
                    }
                    // "h[i] := h[i] ^ v[i] ^ v[i + 8]"
                    for i in 0..<8 { hw[i] ^= v[i] ^ v[i + 8] }
                    for i in 0..<32 { v[i] = 0 }
                }
            }
        }
    }
}

extension UInt32 {
    @inlinable @inline(__always) func rotatedRight(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
}
