// A 32-byte public value: an X25519 public key, or any other non-secret 32-byte string (a hash).

/// Thirty-two public bytes held inline (four words): trivially copyable, hashable, comparable by value.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let length = 32
    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64)

    /// All zeroes.
    public static let zero = PublicKey(words: (0, 0, 0, 0))

    @usableFromInline init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// The first 32 bytes of `bytes`; nil if there are fewer.
    @inlinable public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        words = (0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<32])) }
    }

    /// Exactly 32 bytes; nil otherwise.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.length, let k = bytes.withUnsafeBytes({ PublicKey(bytes: $0) }) else { return nil }
        self = k
    }

    /// Parses 64 hex digits.
    public init?(hex: String) {
        guard let bytes = [UInt8](hex: hex) else { return nil }
        self.init(bytes)
    }

    /// Parses a WireGuard base64 key (44 characters).
    public init?(base64: String) {
        guard let bytes = KeyBase64.decode(base64) else { return nil }
        self.init(bytes)
    }

    /// Reads the 32 bytes.
    @inlinable public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var w = words
        return try Swift.withUnsafeBytes(of: &w) { (b) throws(E) -> R in try body(b) }
    }

    /// Copies the 32 bytes to `buffer` at `offset`.
    @inlinable public func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + 32]).copyMemory(from: $0) }
    }

    /// The bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The key in WireGuard's base64 form.
    public var base64: String { withUnsafeBytes { KeyBase64.encode($0) } }

    /// True when all bytes are zero.
    public var isZero: Bool { words == (0, 0, 0, 0) }

    public static func == (a: PublicKey, b: PublicKey) -> Bool { a.words == b.words }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
    }

    public var description: String { base64 }
}

extension Array where Element == UInt8 {
    /// Parses an even number of hex digits (either case); nil on anything else.
    public init?(hex: String) {
        var out: [UInt8] = []
        out.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8? = nil
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        guard high == nil else { return nil }
        self = out
    }

    /// Lower-case hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var s: [UInt8] = []
        s.reserveCapacity(count * 2)
        for b in self { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return String(decoding: s, as: UTF8.self)
    }
}
