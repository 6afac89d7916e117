// Room: Crypto — layer 1. BLAKE2s (RFC 7693, our own), HMAC/HKDF-BLAKE2s, and libsodium wrappers (X25519,
// ChaCha20-Poly1305, XChaCha20-Poly1305), TAI64N, secret keys in sodium_malloc memory wiped on free. No I/O, no clocks.

import CSodium

/// libsodium's one-time initialisation (it picks the fastest ChaCha20 and Poly1305 code for this CPU).
///
/// Every type that holds key material touches `Sodium.ready` when it is created, so no packet pays for it.
public enum Sodium {
    /// True once `sodium_init()` has run; a Swift global `let` is initialised exactly once, thread-safely.
    public static let ready: Bool = sodium_init() >= 0

    /// Wipes `buffer` in a way the compiler may not elide (`sodium_memzero`).
    @inlinable public static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        sodium_memzero(base, buffer.count)
    }

    /// Constant-time equality of two equally long buffers (`sodium_memcmp`); false if the lengths differ.
    @inlinable public static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0 else { return true }
        return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }

    /// True when every byte of `buffer` is zero, in constant time (`sodium_is_zero`).
    @inlinable public static func isZero(_ buffer: UnsafeRawBufferPointer) -> Bool {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return true }
        return sodium_is_zero(base.assumingMemoryBound(to: UInt8.self), buffer.count) == 1
    }

    /// Fills `buffer` from libsodium's cryptographic RNG (`randombytes_buf`). Not a clock, not seeded.
    public static func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
        precondition(ready, "sodium_init failed")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }
}
