// Room: Crypto — layer 1. BLAKE2s (RFC 7693, our own), HMAC/HKDF-BLAKE2s, and libsodium wrappers (X25519,
// ChaCha20-Poly1305, XChaCha20-Poly1305), TAI64N, secret keys in sodium_malloc memory wiped on free. No I/O, no clocks.
