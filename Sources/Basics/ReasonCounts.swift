// One counter per reason, for every "dropped, and counted under exactly one reason" in Sluice:
// the port, router, NAT, DHCP server, WAN and WireGuard drop counters are all `ReasonCounts` of
// their own reason enum. The raw values of a reason enum index the counters, so they are part of
// the contract: append new reasons, never renumber.

/// A `UInt64` per case of `Reason`, stored inline (256 bytes, no allocation): counting is an
/// indexed add, a snapshot a plain copy. Holds reasons with raw values 0..<32; each reason enum
/// has a test that it fits (`fits`).
public struct ReasonCounts<Reason: CaseIterable & RawRepresentable>: Equatable, Sendable
where Reason.RawValue: BinaryInteger {
    @usableFromInline var storage = SIMD32<UInt64>()

    /// How many reasons fit.
    public static var capacity: Int { 32 }

    @inlinable public init() {}

    /// The count for `reason`.
    @inlinable public subscript(reason: Reason) -> UInt64 {
        get { storage[Int(truncatingIfNeeded: reason.rawValue)] }
        set { storage[Int(truncatingIfNeeded: reason.rawValue)] = newValue }
    }

    /// Counts one more for `reason` (wrapping).
    @inlinable public mutating func count(_ reason: Reason) {
        storage[Int(truncatingIfNeeded: reason.rawValue)] &+= 1
    }

    /// Over all reasons.
    public var total: UInt64 { storage.wrappedSum() }

    /// Nonzero counters, in declaration order (allocates; for reports).
    public var nonzero: [(reason: Reason, count: UInt64)] {
        Reason.allCases.compactMap { self[$0] == 0 ? nil : ($0, self[$0]) }
    }

    /// True when every reason's raw value indexes a counter (for the tests of each reason enum).
    public static var fits: Bool {
        Reason.allCases.allSatisfy { $0.rawValue >= 0 && $0.rawValue < capacity }
    }
}
