// WireGuard's textual key form: standard base64 (RFC 4648 §4) of 32 bytes, 44 characters with one '='.

import CSodium

/// Encoding and decoding of 32-byte keys as base64, through libsodium's constant-time codec.
public enum KeyBase64 {
    /// 4 * ceil(32 / 3) = 44 characters.
    public static let encodedLength = 44

    /// The base64 text of `bytes`.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let capacity = sodium_base64_encoded_len(bytes.count, sodium_base64_VARIANT_ORIGINAL)
        var out = [CChar](repeating: 0, count: capacity)
        out.withUnsafeMutableBufferPointer { o in
            _ = sodium_bin2base64(o.baseAddress!, capacity, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                  bytes.count, sodium_base64_VARIANT_ORIGINAL)
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The 32 bytes encoded by `text`; nil unless it is exactly a padded base64 encoding of 32 bytes.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count == encodedLength else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        var written = 0
        let ok = chars.withUnsafeBufferPointer { c in
            c.withMemoryRebound(to: CChar.self) { cc in
                out.withUnsafeMutableBufferPointer { o in
                    var end: UnsafePointer<CChar>? = nil
                    let status = sodium_base642bin(o.baseAddress!, 32, cc.baseAddress!, cc.count, nil, &written,
                                                   &end, sodium_base64_VARIANT_ORIGINAL)
                    // libsodium stops at the first byte outside the alphabet; the whole text must be consumed.
                    return status == 0 && end.map { $0 - UnsafePointer(cc.baseAddress!) } == cc.count
                }
            }
        }
        guard ok, written == 32 else { return nil }
        return out
    }
}
