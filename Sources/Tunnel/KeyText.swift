// The text forms of `wg genkey`, `wg genpsk` and `wg pubkey` (wireguard-tools genkey.c, pubkey.c): base64 of 32
// bytes, one line each. A private key from genkey is clamped as Curve25519 wants it (RFC 7748 §5), like wg's.

import Crypto

/// Why `pubkey` refused its input (the messages are wg's own).
public enum KeyTextError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not 44 characters of base64 encoding 32 bytes.
    case badKey
    /// Something other than whitespace after the key.
    case trailingCharacters

    public var description: String {
        switch self {
        case .badKey: "Key is not the correct length or format"
        case .trailingCharacters: "Trailing characters found after key"
        }
    }
}

/// `wg genkey`, `wg genpsk` and `wg pubkey` as functions from and to text.
public enum KeyText {
    /// A new private key, clamped (wg genkey's curve25519_clamp_secret: clear bits 0–2 and 255, set bit 254).
    public static func generatePrivateKey() -> String {
        let key = SecretKey.random()
        return key.withUnsafeMutableBytes { b in
            b[0] &= 248
            b[31] = (b[31] & 127) | 64
            return KeyBase64.encode(UnsafeRawBufferPointer(b))
        }
    }

    /// A new preshared key: 32 random bytes.
    public static func generatePresharedKey() -> String { SecretKey.random().base64 }

    /// The public key for the private key in `input` (what was read from standard input). As wg pubkey: exactly
    /// 44 characters first, then nothing but whitespace (spaces, tabs, newlines, NULs).
    public static func publicKey(fromPrivateKeyInput input: [UInt8]) throws(KeyTextError) -> String {
        guard input.count >= KeyBase64.encodedLength else { throw .badKey }
        let trailing = input[KeyBase64.encodedLength...]
        guard trailing.allSatisfy({ [0, 9, 10, 11, 12, 13, 32].contains($0) }) else { throw .trailingCharacters }
        let text = String(decoding: input[0..<KeyBase64.encodedLength], as: UTF8.self)
        guard let key = SecretKey(base64: text) else { throw .badKey }
        return X25519.publicKey(for: key).base64
    }
}
