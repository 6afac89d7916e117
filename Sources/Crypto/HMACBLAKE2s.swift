// HMAC (RFC 2104) over BLAKE2s-256, as WireGuard's HMAC and Noise's HMAC-HASH use it: block length B = 64,
// output L = 32. Incremental, so KDF steps can MAC "T1 || 0x2" without building a concatenation.

/// HMAC-BLAKE2s-256.
public struct HMACBLAKE2s {
    /// RFC 2104 §2: "B=64 for all the above mentioned examples of hash functions"; BLAKE2s's block is 64 too.
    public static let blockLength = 64
    public static let outputLength = 32

    var inner: BLAKE2s
    /// K XOR opad, kept for the outer hash.
    var outerKey: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// Starts a MAC under `key`.
    public init(key: UnsafeRawBufferPointer) {
        inner = BLAKE2s()
        var padded: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &padded) { k in
            // RFC 2104 §2: "Applications that use keys longer than B bytes will first hash the key using H".
            if key.count > Self.blockLength {
                BLAKE2s.hash(key, into: UnsafeMutableRawBufferPointer(rebasing: k[0..<32]))
            } else if key.count > 0 {
                k.copyMemory(from: key)
            }
            // "(1) append zeros to the end of K to create a B byte string"; "(2) XOR ... with ipad" (0x36).
            withUnsafeMutableBytes(of: &outerKey) { o in
                for i in 0..<Self.blockLength { o[i] = k[i] ^ 0x5C }
            }
            for i in 0..<Self.blockLength { k[i] ^= 0x36 }
            inner.update(UnsafeRawBufferPointer(k))
            Sodium.wipe(k)
        }
    }

    /// Absorbs `data`.
    public mutating func update(_ data: UnsafeRawBufferPointer) { inner.update(data) }

    /// Absorbs one byte.
    public mutating func update(byte: UInt8) {
        var b = byte
        withUnsafeBytes(of: &b) { inner.update($0) }
    }

    /// Finishes and writes 32 bytes to `output`.
    public mutating func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= Self.outputLength)
        // "(6) append the H result from step (5) to the B byte string resulting from step (4); (7) apply H".
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { innerHash in
            inner.finalize(into: innerHash)
            var outer = BLAKE2s()
            withUnsafeMutableBytes(of: &outerKey) { o in
                outer.update(UnsafeRawBufferPointer(o))
                Sodium.wipe(o)
            }
            outer.update(UnsafeRawBufferPointer(innerHash))
            outer.finalize(into: output)
            Sodium.wipe(innerHash)
        }
    }

    /// HMAC(key, data) in one call.
    public static func authenticate(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer,
                                    into output: UnsafeMutableRawBufferPointer) {
        var mac = HMACBLAKE2s(key: key)
        mac.update(data)
        mac.finalize(into: output)
    }
}
