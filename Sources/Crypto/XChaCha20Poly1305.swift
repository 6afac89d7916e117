// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), through libsodium: WireGuard's cookie encryption (whitepaper §5.4.7)
// uses it with a random 24-byte nonce.

import CSodium

/// The XChaCha20-Poly1305 AEAD with an explicit 192-bit nonce.
public enum XChaCha20Poly1305 {
    public static let tagLength = 16
    public static let nonceLength = 24

    /// Encrypts `plaintext` into `output` (`plaintext.count + 16` bytes); returns the bytes written.
    @discardableResult
    public static func seal(key: SecretKey, nonce: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        precondition(nonce.count == nonceLength && output.count >= plaintext.count + tagLength)
        let o = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            o, o + plaintext.count, nil, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
            UInt64(plaintext.count),
            additionalData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(additionalData.count),
            nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self),
            key.pointer.assumingMemoryBound(to: UInt8.self))
        return plaintext.count + tagLength
    }

    /// Verifies `ciphertext` (with tag) and writes the plaintext to `output`; nil when authentication fails.
    public static func open(key: SecretKey, nonce: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard nonce.count == nonceLength, ciphertext.count >= tagLength,
              output.count >= ciphertext.count - tagLength else { return nil }
        let n = ciphertext.count - tagLength
        let c = ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            output.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, c, UInt64(n), c + n,
            additionalData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(additionalData.count),
            nonce.baseAddress!.assumingMemoryBound(to: UInt8.self),
            key.pointer.assumingMemoryBound(to: UInt8.self))
        return status == 0 ? n : nil
    }
}
