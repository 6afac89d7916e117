// WireGuard's KDF_n (whitepaper §5.4, "HKDF" of RFC 5869 over HMAC-BLAKE2s, with an empty info string) — the
// same construction as Noise's HKDF(chaining_key, input_key_material, num_outputs) (Noise rev 34 §4.3):
//
//     temp_key = HMAC(key, input)               (extract)
//     output1  = HMAC(temp_key, 0x1)
//     output2  = HMAC(temp_key, output1 || 0x2)
//     output3  = HMAC(temp_key, output2 || 0x3)
//
// Intermediate values live in scratch memory that is wiped before returning.

/// HKDF over HMAC-BLAKE2s yielding one, two or three 32-byte outputs.
public enum HKDF {
    /// Derives `outputs.count` (1…3) values of 32 bytes from `key` (chaining key) and `input`.
    public static func derive(key: UnsafeRawBufferPointer, input: UnsafeRawBufferPointer,
                              outputs: [UnsafeMutableRawBufferPointer]) {
        precondition((1...3).contains(outputs.count))
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { scratch in
            let tempKey = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<32])
            let previous = UnsafeMutableRawBufferPointer(rebasing: scratch[32..<64])
            HMACBLAKE2s.authenticate(key: key, data: input, into: tempKey)
            for (i, output) in outputs.enumerated() {
                var mac = HMACBLAKE2s(key: UnsafeRawBufferPointer(tempKey))
                if i > 0 { mac.update(UnsafeRawBufferPointer(previous)) }
                mac.update(byte: UInt8(i + 1))
                mac.finalize(into: previous)
                output.copyMemory(from: UnsafeRawBufferPointer(previous))
            }
            Sodium.wipe(scratch)
        }
    }

    /// KDF1: one output.
    public static func kdf1(key: SecretKey, input: UnsafeRawBufferPointer, _ t0: SecretKey) {
        key.withUnsafeBytes { k in
            withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { o in
                derive(key: k, input: input, outputs: [o])
                t0.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(o)) }
                Sodium.wipe(o)
            }
        }
    }

    /// KDF2: two outputs. `t0` may be `key` itself (the chaining key is usually overwritten).
    public static func kdf2(key: SecretKey, input: UnsafeRawBufferPointer, _ t0: SecretKey, _ t1: SecretKey) {
        key.withUnsafeBytes { k in
            withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { o in
                derive(key: k, input: input, outputs: [.init(rebasing: o[0..<32]), .init(rebasing: o[32..<64])])
                t0.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: o[0..<32])) }
                t1.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: o[32..<64])) }
                Sodium.wipe(o)
            }
        }
    }

    /// KDF3: three outputs. `t0` may be `key` itself.
    public static func kdf3(key: SecretKey, input: UnsafeRawBufferPointer,
                            _ t0: SecretKey, _ t1: SecretKey, _ t2: SecretKey) {
        key.withUnsafeBytes { k in
            withUnsafeTemporaryAllocation(byteCount: 96, alignment: 8) { o in
                derive(key: k, input: input, outputs: [
                    .init(rebasing: o[0..<32]), .init(rebasing: o[32..<64]), .init(rebasing: o[64..<96])])
                t0.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: o[0..<32])) }
                t1.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: o[32..<64])) }
                t2.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: o[64..<96])) }
                Sodium.wipe(o)
            }
        }
    }
}
