// ChaCha20-Poly1305 AEAD, IETF variant (RFC 8439), through libsodium. The nonce is WireGuard's and Noise's:
// "32 bits of zeros followed by the 64-bit little-endian value of n" (Noise §12.3; WireGuard whitepaper §5.4.6).
// Encryption and decryption work in place on caller memory; nothing is allocated.

import CSodium

/// The IETF ChaCha20-Poly1305 AEAD with a 64-bit counter nonce.
public enum ChaCha20Poly1305 {
    /// Poly1305 tag bytes.
    public static let tagLength = 16
    public static let keyLength = 32
    public static let nonceLength = 12

    /// Encrypts `buffer[0..<plaintextCount]` in place and writes the tag right after it.
    /// `buffer` must hold `plaintextCount + 16` bytes. Returns the ciphertext length (`plaintextCount + 16`).
    /// Inlinable (as is `open`) so a caller in another module reaches libsodium directly, without a call through this
    /// module or a retain of `key` around it: per packet, these two are WireGuard's transport path.
    @inlinable @discardableResult
    public static func seal(key: SecretKey, counter: UInt64, buffer: UnsafeMutableRawBufferPointer,
                            plaintextCount: Int, additionalData: UnsafeRawBufferPointer = .init(start: nil, count: 0)) -> Int {
        precondition(plaintextCount >= 0 && buffer.count >= plaintextCount + tagLength, "no room for the tag")
        var nonce = Nonce(counter: counter)
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        withUnsafeBytes(of: &nonce.bytes) { n in
            _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                base, base + plaintextCount, nil, base, UInt64(plaintextCount),
                additionalData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(additionalData.count),
                nil, n.baseAddress!.assumingMemoryBound(to: UInt8.self),
                key.pointer.assumingMemoryBound(to: UInt8.self))
        }
        return plaintextCount + tagLength
    }

    /// Verifies and decrypts `buffer[0..<ciphertextCount]` (ciphertext then tag) in place.
    /// Returns the plaintext length, or nil when authentication fails (libsodium then zeroes the plaintext region, so no
    /// unauthenticated bytes are ever released).
    @inlinable
    public static func open(key: SecretKey, counter: UInt64, buffer: UnsafeMutableRawBufferPointer,
                            ciphertextCount: Int, additionalData: UnsafeRawBufferPointer = .init(start: nil, count: 0)) -> Int? {
        guard ciphertextCount >= tagLength, buffer.count >= ciphertextCount else { return nil }
        let plaintextCount = ciphertextCount - tagLength
        var nonce = Nonce(counter: counter)
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status = withUnsafeBytes(of: &nonce.bytes) { n in
            crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                base, nil, base, UInt64(plaintextCount), base + plaintextCount,
                additionalData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(additionalData.count),
                n.baseAddress!.assumingMemoryBound(to: UInt8.self),
                key.pointer.assumingMemoryBound(to: UInt8.self))
        }
        return status == 0 ? plaintextCount : nil
    }

    /// Encrypts `plaintext` into `output` (which must hold `plaintext.count + 16` bytes; the regions may be the same).
    @discardableResult
    public static func seal(key: SecretKey, counter: UInt64, plaintext: UnsafeRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        precondition(output.count >= plaintext.count + tagLength)
        if plaintext.count > 0, plaintext.baseAddress != UnsafeRawPointer(output.baseAddress) {
            output.baseAddress!.copyMemory(from: plaintext.baseAddress!, byteCount: plaintext.count)
        }
        return seal(key: key, counter: counter, buffer: output, plaintextCount: plaintext.count,
                    additionalData: additionalData)
    }

    /// Verifies `ciphertext` (with its tag) and writes the plaintext to `output`; nil on failure.
    public static func open(key: SecretKey, counter: UInt64, ciphertext: UnsafeRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard ciphertext.count >= tagLength, output.count >= ciphertext.count - tagLength else { return nil }
        let plaintextCount = ciphertext.count - tagLength
        var nonce = Nonce(counter: counter)
        let c = ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status = withUnsafeBytes(of: &nonce.bytes) { n in
            crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                output.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, c, UInt64(plaintextCount),
                c + plaintextCount,
                additionalData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(additionalData.count),
                n.baseAddress!.assumingMemoryBound(to: UInt8.self),
                key.pointer.assumingMemoryBound(to: UInt8.self))
        }
        return status == 0 ? plaintextCount : nil
    }

    /// The 96-bit nonce: four zero bytes, then the counter little-endian.
    @usableFromInline struct Nonce {
        @usableFromInline var bytes: (UInt32, UInt32, UInt32) = (0, 0, 0)
        @inlinable init(counter: UInt64) {
            Swift.withUnsafeMutableBytes(of: &bytes) { $0.storeBytes(of: counter.littleEndian, toByteOffset: 4, as: UInt64.self) }
        }
    }
}
