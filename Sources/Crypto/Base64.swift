// Room: Crypto — layer 1. Standard padded base64 (RFC 4648 §4) of any length, through libsodium's constant-time
// codec: the body of the mesh's text-armoured files (certificates, signing keys, revocation lists).

import CSodium

/// Base64 of arbitrary byte strings (KeyBase64 is the 32-byte special case).
public enum Base64 {
    /// The padded base64 text of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(Sodium.ready, "sodium_init failed")
        let capacity = sodium_base64_encoded_len(bytes.count, sodium_base64_VARIANT_ORIGINAL)
        var out = [CChar](repeating: 0, count: capacity)
        bytes.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                _ = sodium_bin2base64(o.baseAddress!, capacity, b.baseAddress, b.count, sodium_base64_VARIANT_ORIGINAL)
            }
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The bytes of padded base64 `text` (no whitespace inside); nil unless the whole text decodes.
    public static func decode(_ text: String) -> [UInt8]? {
        precondition(Sodium.ready, "sodium_init failed")
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        if chars.isEmpty { return [] }
        var out = [UInt8](repeating: 0, count: chars.count / 4 * 3)
        var written = 0
        let ok = chars.withUnsafeBufferPointer { c in
            c.withMemoryRebound(to: CChar.self) { cc in
                out.withUnsafeMutableBufferPointer { o in
                    var end: UnsafePointer<CChar>? = nil
                    let status = sodium_base642bin(o.baseAddress!, o.count, cc.baseAddress!, cc.count, nil, &written,
                                                   &end, sodium_base64_VARIANT_ORIGINAL)
                    return status == 0 && end == cc.baseAddress! + cc.count
                }
            }
        }
        return ok ? Array(out.prefix(written)) : nil
    }
}
