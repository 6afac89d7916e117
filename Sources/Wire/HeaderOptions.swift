// Raw option bytes of an IPv4 header (RFC 791 §3.1 "Options") or a TCP header (RFC 9293 §3.1),
// kept uninterpreted. Both are at most 40 bytes (a 4-bit length in 32-bit words, minus the
// 20-byte fixed part), so they fit inline: no heap allocation when a header is parsed.

/// Up to 40 option bytes, stored inline.
public struct HeaderOptions: Hashable, Sendable {
    /// The most option bytes an IPv4 or TCP header can carry: (15 − 5) × 4.
    public static let capacity = 40

    @usableFromInline var storage: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    /// Number of option bytes.
    public var count: Int { _count }
    @usableFromInline var _count: Int = 0

    /// No options.
    @inlinable public init() {}

    /// Copies `bytes`; `nil` if there are more than 40.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count <= Self.capacity else { return nil }
        _count = bytes.count
        bytes.withUnsafeBytes { src in withUnsafeMutableBytes(of: &storage) { $0.copyBytes(src, at: 0) } }
    }

    /// Copies `bytes`, which the caller has checked are at most 40.
    @inlinable init(copying bytes: UnsafeRawBufferPointer) {
        _count = bytes.count
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(bytes, at: 0) }
    }

    /// The options as a byte array (allocates; for tests and diagnostics).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Calls `body` with the option bytes.
    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let n = count
        return Swift.withUnsafeBytes(of: storage) { body($0.slice(0..<n)) }
    }

    /// Writes the option bytes at `offset`. The caller checked space.
    @inlinable func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        withUnsafeBytes { buffer.copyBytes($0, at: offset) }
    }

    // Bytes past `count` are always zero, so comparing the whole storage compares the options.
    @inlinable public static func == (a: HeaderOptions, b: HeaderOptions) -> Bool {
        a.count == b.count && a.storage.0 == b.storage.0 && a.storage.1 == b.storage.1
            && a.storage.2 == b.storage.2 && a.storage.3 == b.storage.3 && a.storage.4 == b.storage.4
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        hasher.combine(storage.0); hasher.combine(storage.1); hasher.combine(storage.2)
        hasher.combine(storage.3); hasher.combine(storage.4)
    }
}
