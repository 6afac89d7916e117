// Room: Noise — layer 2. The Noise protocol framework (rev 34): a generic handshake state machine over Crypto
// (patterns IK, IKpsk2, XX, IX, ...), checked against the cacophony vectors. Sans-IO: bytes in, bytes out.
//
// One suite is implemented: 25519 / ChaChaPoly / BLAKE2s (DHLEN = 32, HASHLEN = 32, BLOCKLEN = 64), the one
// WireGuard uses. Handshakes are a cold path and use arrays; transport encryption has an in-place variant.

import Crypto

/// Noise's fixed sizes for Noise_*_25519_ChaChaPoly_BLAKE2s.
public enum NoiseSuite {
    /// The suite name as it appears in protocol names.
    public static let name = "25519_ChaChaPoly_BLAKE2s"
    /// §12.1: "DHLEN = 32" for 25519.
    public static let dhLength = 32
    /// §12.5: "HASHLEN = 32" for BLAKE2s.
    public static let hashLength = 32
    /// §5.1: the AEAD tag appended by ENCRYPT.
    public static let tagLength = 16
    /// §11.4 / §3: "Noise messages ... are limited to 65535 bytes in length."
    public static let maxMessageLength = 65535
}

/// Why a Noise operation failed.
public enum NoiseError: Error, Equatable, Sendable {
    /// The protocol name is not `Noise_<pattern>_25519_ChaChaPoly_BLAKE2s` with a known pattern.
    case unsupportedProtocol(String)
    /// A key the pattern needs (s, rs, a psk, …) was not supplied, or one was supplied twice.
    case missingKey(String)
    /// The message is shorter than its tokens require.
    case truncated
    /// AEAD authentication failed.
    case decryptFailed
    /// A Diffie–Hellman result was all zero (a low-order public key).
    case invalidPublicKey
    /// §5.1: "If incrementing n results in 2^64-1, then any further EncryptWithAd() or DecryptWithAd() calls
    /// will signal an error."
    case nonceExhausted
    /// writeMessage/readMessage called out of turn or after the handshake finished.
    case outOfTurn
    /// A message or payload would exceed 65535 bytes.
    case tooLong
}
