// Curve25519 Diffie–Hellman (RFC 7748) through libsodium's crypto_scalarmult.

import CSodium

/// A Curve25519 key pair: the private scalar in guarded memory and its public point.
public struct KeyPair: Sendable {
    public let privateKey: SecretKey
    public let publicKey: PublicKey

    /// The pair for `privateKey` (the public key is computed from it).
    public init(privateKey: SecretKey) {
        self.privateKey = privateKey
        self.publicKey = X25519.publicKey(for: privateKey)
    }

    /// A fresh pair from libsodium's CSPRNG.
    public static func random() -> KeyPair { KeyPair(privateKey: .random()) }

    /// A pair drawn from `generator` — reproducible, for simulations and tests only.
    public static func deterministic<G: RandomNumberGenerator>(using generator: inout G) -> KeyPair {
        KeyPair(privateKey: .deterministic(using: &generator))
    }
}

/// X25519 scalar multiplication.
public enum X25519 {
    /// The public key `privateKey · 9` (`crypto_scalarmult_base`; the scalar is clamped per RFC 7748 §5).
    public static func publicKey(for privateKey: SecretKey) -> PublicKey {
        var out = [UInt8](repeating: 0, count: 32)
        privateKey.withUnsafeBytes { sk in
            out.withUnsafeMutableBufferPointer { o in
                _ = crypto_scalarmult_base(o.baseAddress!, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return PublicKey(out)!
    }

    /// Writes DH(privateKey, publicKey) into `output`; false when the result is all zero (a low-order point).
    ///
    /// RFC 7748 §6.1: "Both [parties] MAY check, without leaking extra information about the value of K,
    /// whether K is the all-zero value and abort if so." libsodium returns -1 in that case; the zero
    /// check is repeated here in constant time so the rule does not depend on the library build.
    public static func sharedSecret(privateKey: SecretKey, publicKey: PublicKey, into output: SecretKey) -> Bool {
        let status = privateKey.withUnsafeBytes { sk in
            publicKey.withUnsafeBytes { pk in
                output.withUnsafeMutableBytes { o in
                    crypto_scalarmult(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      sk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      pk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        if status != 0 || output.isZero {
            output.wipe()
            return false
        }
        return true
    }

    /// DH(privateKey, publicKey) as a new key; nil for an all-zero result.
    public static func sharedSecret(privateKey: SecretKey, publicKey: PublicKey) -> SecretKey? {
        let out = SecretKey()
        return sharedSecret(privateKey: privateKey, publicKey: publicKey, into: out) ? out : nil
    }
}
