// Room: Crypto — layer 1. Ed25519 signatures (RFC 8032) through libsodium's crypto_sign_*: the mesh's certificate
// authorities sign certificates and revocation lists with them. The secret is the 32-byte seed, held in guarded
// memory like every other secret here; the 64-byte expanded key libsodium signs with exists only for one call.

import CSodium

/// An Ed25519 public (verification) key: 32 bytes.
public struct SigningPublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let length = 32
    /// The 32 bytes (the type is shared with X25519 keys only as storage).
    public let key: PublicKey

    public init(_ key: PublicKey) { self.key = key }

    /// Exactly 32 bytes; nil otherwise.
    public init?(_ bytes: [UInt8]) {
        guard let k = PublicKey(bytes) else { return nil }
        key = k
    }

    public var bytes: [UInt8] { key.bytes }
    public var base64: String { key.base64 }
    public var description: String { "ed25519:\(key.base64)" }

    /// RFC 8032 §5.1.7 verification of `signature` (64 bytes) over `message` (`crypto_sign_verify_detached`,
    /// which also rejects small-order public keys and non-canonical signatures). False for any other length.
    public func verify(signature: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Bool {
        precondition(Sodium.ready, "sodium_init failed")
        guard signature.count == Ed25519.signatureLength else { return false }
        return key.withUnsafeBytes { pk in
            crypto_sign_verify_detached(signature.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                        message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                        UInt64(message.count),
                                        pk.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0
        }
    }

    /// `verify` over arrays (cold paths).
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        signature.withUnsafeBytes { s in message.withUnsafeBytes { verify(signature: s, message: $0) } }
    }
}

/// An Ed25519 signing key: the RFC 8032 32-byte secret seed in guarded memory, and its public key.
public struct SigningKey: Sendable {
    /// The seed ("the private key is 32 octets of cryptographically secure random data", RFC 8032 §5.1.5).
    public let seed: SecretKey
    public let publicKey: SigningPublicKey

    /// The key for `seed` (the public key is derived with `crypto_sign_seed_keypair`).
    public init(seed: SecretKey) {
        precondition(Sodium.ready, "sodium_init failed")
        self.seed = seed
        var pk = [UInt8](repeating: 0, count: 32)
        Ed25519.withExpandedKey(seed) { _, derived in pk = derived }
        publicKey = SigningPublicKey(pk)!
    }

    /// A fresh key from libsodium's CSPRNG.
    public static func random() -> SigningKey { SigningKey(seed: .random()) }

    /// A key drawn from `generator` — reproducible, for tests and golden vectors only.
    public static func deterministic<G: RandomNumberGenerator>(using generator: inout G) -> SigningKey {
        SigningKey(seed: .deterministic(using: &generator))
    }

    /// The 64-byte signature of `message` (`crypto_sign_detached`; Ed25519 signatures are deterministic).
    public func sign(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Ed25519.signatureLength)
        Ed25519.withExpandedKey(seed) { sk, _ in
            signature.withUnsafeMutableBufferPointer { s in
                _ = crypto_sign_detached(s.baseAddress!, nil, message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                         UInt64(message.count), sk)
            }
        }
        return signature
    }

    /// `sign` over an array.
    public func sign(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { sign($0) } }
}

/// Ed25519's sizes and the seed expansion.
public enum Ed25519 {
    public static let signatureLength = 64
    public static let seedLength = 32

    /// Calls `body` with libsodium's 64-byte secret key for `seed` (in sodium_malloc memory, wiped and freed after)
    /// and the public key.
    static func withExpandedKey(_ seed: SecretKey, _ body: (UnsafePointer<UInt8>, [UInt8]) -> Void) {
        let length = Int(crypto_sign_secretkeybytes())
        guard let sk = sodium_malloc(length) else { fatalError("sodium_malloc failed: out of memory") }
        defer { sodium_free(sk) }
        var pk = [UInt8](repeating: 0, count: 32)
        let skp = sk.assumingMemoryBound(to: UInt8.self)
        seed.withUnsafeBytes { s in
            pk.withUnsafeMutableBufferPointer { p in
                _ = crypto_sign_seed_keypair(p.baseAddress!, skp, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        body(UnsafePointer(skp), pk)
    }
}
