// TAI64N timestamps (https://cr.yp.to/libtai/tai64.html), as WireGuard's handshake initiation carries them
// (whitepaper §5.4.2: "TAI64N(): TAI64N timestamp of current time which is 12 bytes"). Built from a wall
// time passed in — this module never reads a clock.

/// A 12-byte TAI64N label: 8 bytes big-endian seconds (2^62 + 10 + Unix seconds, as WireGuard computes it),
/// then 4 bytes big-endian nanoseconds. Ordered as its bytes are.
public struct TAI64N: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Encoded length.
    public static let length = 12
    /// "TAI64 label 2^62 + x refers to the second beginning x seconds after 1970 TAI"; WireGuard adds 10
    /// (the 1970 TAI−UTC offset) and ignores leap seconds since, as wireguard-go's tai64n.go does.
    public static let base: UInt64 = 0x4000_0000_0000_000A

    public var seconds: UInt64
    public var nanoseconds: UInt32

    /// The label with these raw fields.
    public init(seconds: UInt64, nanoseconds: UInt32) {
        self.seconds = seconds; self.nanoseconds = nanoseconds
    }

    /// The label for a wall time given as nanoseconds since the Unix epoch.
    public init(unixNanoseconds: UInt64) {
        seconds = Self.base &+ unixNanoseconds / 1_000_000_000
        nanoseconds = UInt32(unixNanoseconds % 1_000_000_000)
    }

    /// Parses 12 bytes at the front of `bytes`; nil if fewer are present.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        var s: UInt64 = 0
        for i in 0..<8 { s = s << 8 | UInt64(bytes[i]) }
        var n: UInt32 = 0
        for i in 8..<12 { n = n << 8 | UInt32(bytes[i]) }
        seconds = s; nanoseconds = n
    }

    /// Writes the 12 bytes to the front of `buffer`.
    public func write(to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.length)
        for i in 0..<8 { buffer[i] = UInt8(truncatingIfNeeded: seconds >> (56 - 8 * UInt64(i))) }
        for i in 0..<4 { buffer[8 + i] = UInt8(truncatingIfNeeded: nanoseconds >> (24 - 8 * UInt32(i))) }
    }

    /// The 12 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.length)
        out.withUnsafeMutableBytes { write(to: $0) }
        return out
    }

    /// This label with the nanoseconds rounded down to a multiple of 2^24 ns (about 16.8 ms), as
    /// wireguard-go does so the timestamp does not leak a precise clock (its `whitenerMask`).
    public var whitened: TAI64N { TAI64N(seconds: seconds, nanoseconds: nanoseconds & ~UInt32(0xFF_FFFF)) }

    public static func < (a: TAI64N, b: TAI64N) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    public var description: String { "TAI64N(\(seconds &- Self.base)s+\(nanoseconds)ns)" }
}
