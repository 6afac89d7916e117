// Noise rev 34 §5.2: the SymmetricState object — chaining key ck, handshake hash h, and a CipherState.

import Crypto

/// Noise's SymmetricState over BLAKE2s and HKDF-BLAKE2s. Non-copyable: it owns the chaining key.
public struct SymmetricState: ~Copyable {
    public private(set) var cipher = CipherState()
    /// ck — secret, in guarded memory.
    let chainingKey = SecretKey()
    /// h.
    public private(set) var handshakeHash: [UInt8]

    /// "InitializeSymmetric(protocol_name): If protocol_name is less than or equal to HASHLEN bytes in length,
    /// sets h equal to protocol_name with zero bytes appended to make HASHLEN bytes. Otherwise sets
    /// h = HASH(protocol_name). Sets ck = h. Calls InitializeKey(empty)."
    public init(protocolName: String) {
        let name = Array(protocolName.utf8)
        if name.count <= NoiseSuite.hashLength {
            handshakeHash = name + [UInt8](repeating: 0, count: NoiseSuite.hashLength - name.count)
        } else {
            handshakeHash = BLAKE2s.hash(name)
        }
        let h = handshakeHash
        chainingKey.withUnsafeMutableBytes { $0.copyBytes(from: h) }
    }

    /// "MixKey(input_key_material): Sets ck, temp_k = HKDF(ck, input_key_material, 2). ... Calls InitializeKey(temp_k)."
    public mutating func mixKey(_ input: UnsafeRawBufferPointer) {
        let temp = SecretKey()
        HKDF.kdf2(key: chainingKey, input: input, chainingKey, temp)
        cipher = CipherState(key: temp)
    }

    /// MixKey with a shared secret held as a key.
    public mutating func mixKey(_ input: SecretKey) { input.withUnsafeBytes { mixKey($0) } }

    /// "MixHash(data): Sets h = HASH(h || data)."
    public mutating func mixHash(_ data: [UInt8]) {
        var state = BLAKE2s()
        state.update(handshakeHash)
        state.update(data)
        handshakeHash = state.finalize()
    }

    /// "MixKeyAndHash(input_key_material): Sets ck, temp_h, temp_k = HKDF(ck, input_key_material, 3).
    /// Calls MixHash(temp_h). ... Calls InitializeKey(temp_k)." Used for pre-shared keys.
    public mutating func mixKeyAndHash(_ input: SecretKey) {
        let tempH = SecretKey(), tempK = SecretKey()
        input.withUnsafeBytes { HKDF.kdf3(key: chainingKey, input: $0, chainingKey, tempH, tempK) }
        mixHash(tempH.withUnsafeBytes { Array($0) })
        cipher = CipherState(key: tempK)
    }

    /// "EncryptAndHash(plaintext): Sets ciphertext = EncryptWithAd(h, plaintext), calls MixHash(ciphertext),
    /// and returns ciphertext. Note that if k is empty, the EncryptWithAd() call will set ciphertext equal to plaintext."
    public mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipher.encrypt(plaintext, additionalData: handshakeHash)
        mixHash(ciphertext)
        return ciphertext
    }

    /// "DecryptAndHash(ciphertext): Sets plaintext = DecryptWithAd(h, ciphertext), calls MixHash(ciphertext),
    /// and returns plaintext."
    public mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipher.decrypt(ciphertext, additionalData: handshakeHash)
        mixHash(ciphertext)
        return plaintext
    }

    /// "Split(): Sets temp_k1, temp_k2 = HKDF(ck, zerolen, 2). ... Creates two new CipherState objects c1 and c2.
    /// Calls c1.InitializeKey(temp_k1) and c2.InitializeKey(temp_k2). Returns the pair (c1, c2)."
    public func split() -> (CipherState, CipherState) {
        let k1 = SecretKey(), k2 = SecretKey()
        HKDF.kdf2(key: chainingKey, input: UnsafeRawBufferPointer(start: nil, count: 0), k1, k2)
        return (CipherState(key: k1), CipherState(key: k2))
    }
}
