// A 32-byte secret (private key, preshared key, chaining key, cipher key) in sodium_malloc memory.
//
// STYLE.md: "Secrets live in sodium_malloc memory, compared with sodium_memcmp, freed with sodium_free."
// The 32 bytes are a slot of a sodium_malloc'd slab (SecretSlab.swift: mlocked, between guard pages, many keys to a
// slab so thousands of sessions stay under vm.max_map_count); the slot is wiped with sodium_memzero when the key is
// released, and the slab freed with sodium_free when all its slots are. The owner is a final class, so the slot is
// given back exactly once, when the last reference goes.

import CSodium

/// Thirty-two secret bytes in guarded memory, wiped and freed once when the key is released.
public final class SecretKey: @unchecked Sendable, Equatable, CustomStringConvertible {
    /// Every secret in WireGuard and Noise_25519_ChaChaPoly_BLAKE2s is 32 bytes.
    public static let length = 32

    @usableFromInline let pointer: UnsafeMutableRawPointer
    let slot: SecretSlot

    /// An all-zero key (the default preshared key, or a slot to derive into).
    public init() {
        slot = SecretSlabPool.shared.allocate()
        pointer = slot.pointer
    }

    /// A copy of `bytes`, which must be exactly 32 bytes; nil otherwise.
    public convenience init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.length else { return nil }
        self.init()
        pointer.copyMemory(from: bytes.baseAddress!, byteCount: Self.length)
    }

    /// A copy of `bytes` (32 of them); nil otherwise.
    public convenience init?(_ bytes: [UInt8]) {
        guard let key = bytes.withUnsafeBytes({ SecretKey(bytes: $0) }) else { return nil }
        self.init()
        key.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: Self.length) }
    }

    /// Parses 64 hex digits.
    public convenience init?(hex: String) {
        guard let bytes = [UInt8](hex: hex) else { return nil }
        self.init(bytes)
    }

    /// Parses a WireGuard base64 key (44 characters, standard alphabet, padded).
    public convenience init?(base64: String) {
        guard let bytes = KeyBase64.decode(base64) else { return nil }
        self.init(bytes)
    }

    /// A fresh key from libsodium's CSPRNG (`randombytes_buf`).
    public static func random() -> SecretKey {
        let key = SecretKey()
        key.withUnsafeMutableBytes { Sodium.randomBytes($0) }
        return key
    }

    /// A key drawn from `generator` — for simulations and tests that must be reproducible, never for real keys.
    public static func deterministic<G: RandomNumberGenerator>(using generator: inout G) -> SecretKey {
        let key = SecretKey()
        key.withUnsafeMutableBytes { b in
            for i in 0..<4 { b.storeBytes(of: generator.next(), toByteOffset: i * 8, as: UInt64.self) }
        }
        return key
    }

    deinit { SecretSlabPool.shared.release(slot) }

    /// Reads the 32 bytes.
    @inlinable public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: Self.length))
    }

    /// Writes the 32 bytes in place.
    @inlinable public func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: Self.length))
    }

    /// A new key with the same bytes.
    public func copy() -> SecretKey {
        let key = SecretKey()
        key.pointer.copyMemory(from: pointer, byteCount: Self.length)
        return key
    }

    /// Overwrites this key with `other`'s bytes.
    public func assign(_ other: SecretKey) {
        guard other !== self else { return }
        pointer.copyMemory(from: other.pointer, byteCount: Self.length)
    }

    /// Wipes the bytes to zero (`sodium_memzero`); the memory stays allocated until release.
    public func wipe() { sodium_memzero(pointer, Self.length) }

    /// True when all 32 bytes are zero (constant time).
    public var isZero: Bool { sodium_is_zero(pointer.assumingMemoryBound(to: UInt8.self), Self.length) == 1 }

    /// Constant-time comparison (`sodium_memcmp`).
    public static func == (a: SecretKey, b: SecretKey) -> Bool {
        sodium_memcmp(a.pointer, b.pointer, length) == 0
    }

    /// The key in WireGuard's base64 form (for configuration files; handle with care).
    public var base64: String { withUnsafeBytes { KeyBase64.encode($0) } }

    /// Never prints the secret.
    public var description: String { "SecretKey(…)" }
}
