// Sequence-number arithmetic (RFC 9293 §3.4): "all arithmetic dealing with sequence numbers must
// be performed modulo 2**32", compared with the wrapping "less than" of RFC 1982's serial numbers.
// Nothing here traps, whatever a peer sends.

/// A 32-bit TCP sequence number. `<` is the wrapping comparison: a < b when b − a, mod 2³², lies in
/// (0, 2³¹).
struct TCPSequenceNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    var rawValue: UInt32
    @inline(__always) init(_ rawValue: UInt32) { self.rawValue = rawValue }

    @inline(__always) static func < (a: Self, b: Self) -> Bool { Int32(bitPattern: a.rawValue &- b.rawValue) < 0 }
    @inline(__always) static func + (a: Self, n: Int) -> Self { Self(a.rawValue &+ UInt32(truncatingIfNeeded: n)) }
    @inline(__always) static func += (a: inout Self, n: Int) { a = a + n }
    /// The signed distance `a − b` (mod 2³², as an Int32 widened).
    @inline(__always) static func - (a: Self, b: Self) -> Int { Int(Int32(bitPattern: a.rawValue &- b.rawValue)) }

    static func max(_ a: Self, _ b: Self) -> Self { a < b ? b : a }
    static func min(_ a: Self, _ b: Self) -> Self { a < b ? a : b }

    var description: String { String(rawValue) }
}
