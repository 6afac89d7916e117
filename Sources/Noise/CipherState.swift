// Noise rev 34 §5.1: the CipherState object — a key k (or empty) and a 64-bit nonce n.

import Crypto

/// Noise's CipherState: encrypts with ChaChaPoly under `k` and the counter nonce `n`.
public struct CipherState: Sendable {
    /// k; nil is Noise's "empty".
    public private(set) var key: SecretKey?
    /// n.
    public private(set) var nonce: UInt64 = 0

    /// A CipherState with an empty key.
    public init() {}

    /// "InitializeKey(key): Sets k = key. Sets n = 0." (The key is copied; callers keep theirs.)
    public init(key: SecretKey?) {
        self.key = key?.copy()
    }

    /// "HasKey(): Returns true if k is non-empty, false otherwise."
    public var hasKey: Bool { key != nil }

    /// "SetNonce(nonce): Sets n = nonce." Used for out-of-order transport messages.
    public mutating func setNonce(_ n: UInt64) { nonce = n }

    /// "EncryptWithAd(ad, plaintext): If k is non-empty returns ENCRYPT(k, n++, ad, plaintext). Otherwise
    /// returns plaintext."
    public mutating func encrypt(_ plaintext: [UInt8], additionalData ad: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        // §5.1: "If incrementing n results in 2^64-1, then any further EncryptWithAd() ... will signal an error".
        guard nonce != .max else { throw .nonceExhausted }
        var out = plaintext + [UInt8](repeating: 0, count: NoiseSuite.tagLength)
        let n = nonce
        out.withUnsafeMutableBytes { o in
            ad.withUnsafeBytes { a in
                _ = ChaCha20Poly1305.seal(key: key, counter: n, buffer: o, plaintextCount: plaintext.count, additionalData: a)
            }
        }
        nonce += 1
        return out
    }

    /// "DecryptWithAd(ad, ciphertext): If k is non-empty returns DECRYPT(k, n++, ad, ciphertext). Otherwise
    /// returns ciphertext. If an authentication failure occurs in DECRYPT() then n is not incremented and an
    /// error is signaled to the caller."
    public mutating func decrypt(_ ciphertext: [UInt8], additionalData ad: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        guard nonce != .max else { throw .nonceExhausted }
        guard ciphertext.count >= NoiseSuite.tagLength else { throw .truncated }
        var out = ciphertext
        let n = nonce
        let count = out.withUnsafeMutableBytes { o in
            ad.withUnsafeBytes { a in
                ChaCha20Poly1305.open(key: key, counter: n, buffer: o, ciphertextCount: ciphertext.count, additionalData: a)
            }
        }
        guard let count else { throw .decryptFailed }
        nonce += 1
        return Array(out.prefix(count))
    }

    /// Encrypts `buffer[0..<plaintextCount]` in place, appending the tag; returns the ciphertext length.
    /// No allocation: for transport messages on a hot path.
    public mutating func encrypt(inPlace buffer: UnsafeMutableRawBufferPointer, plaintextCount: Int,
                                 additionalData ad: UnsafeRawBufferPointer = .init(start: nil, count: 0)) throws(NoiseError) -> Int {
        guard let key else { return plaintextCount }
        guard nonce != .max else { throw .nonceExhausted }
        let n = ChaCha20Poly1305.seal(key: key, counter: nonce, buffer: buffer, plaintextCount: plaintextCount, additionalData: ad)
        nonce += 1
        return n
    }

    /// Verifies and decrypts `buffer[0..<ciphertextCount]` in place; returns the plaintext length.
    public mutating func decrypt(inPlace buffer: UnsafeMutableRawBufferPointer, ciphertextCount: Int,
                                 additionalData ad: UnsafeRawBufferPointer = .init(start: nil, count: 0)) throws(NoiseError) -> Int {
        guard let key else { return ciphertextCount }
        guard nonce != .max else { throw .nonceExhausted }
        guard let n = ChaCha20Poly1305.open(key: key, counter: nonce, buffer: buffer, ciphertextCount: ciphertextCount,
                                            additionalData: ad) else { throw .decryptFailed }
        nonce += 1
        return n
    }

    /// "Rekey(): Sets k = REKEY(k)" where §12.3 "REKEY(k): Returns a new 32-byte cipher key as a pseudorandom
    /// function of k ... ENCRYPT(k, maxnonce, zerolen, zeros)", the first 32 bytes, maxnonce = 2^64 - 1.
    public mutating func rekey() {
        guard let key else { return }
        var block = [UInt8](repeating: 0, count: 32 + NoiseSuite.tagLength)
        let fresh = SecretKey()
        block.withUnsafeMutableBytes { b in
            _ = ChaCha20Poly1305.seal(key: key, counter: .max, buffer: b, plaintextCount: 32)
            fresh.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[0..<32])) }
            Sodium.wipe(b)
        }
        self.key = fresh
    }
}
