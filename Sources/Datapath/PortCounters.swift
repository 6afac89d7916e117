// Per-port traffic and drop counters. Trivial value type, fixed size: counting never allocates and
// a snapshot is a plain copy.

/// Packets and bytes received and sent on one port, and drops by `DropReason`.
public struct PortCounters: Equatable, Sendable {
    /// Frames received from the port's device.
    public var rxPackets: UInt64 = 0
    /// Bytes of the frames received.
    public var rxBytes: UInt64 = 0
    /// Frames delivered to the port's device.
    public var txPackets: UInt64 = 0
    /// Bytes of the frames delivered.
    public var txBytes: UInt64 = 0
    /// Drops indexed by `DropReason.rawValue`; room for `DropReason.capacity` reasons.
    @usableFromInline var dropCounts = SIMD32<UInt64>()

    public init() {}

    /// Counts one received frame of `bytes` bytes.
    @inlinable public mutating func countReceived(bytes: Int) {
        rxPackets &+= 1
        rxBytes &+= UInt64(truncatingIfNeeded: bytes)
    }

    /// Counts one sent frame of `bytes` bytes.
    @inlinable public mutating func countSent(bytes: Int) {
        txPackets &+= 1
        txBytes &+= UInt64(truncatingIfNeeded: bytes)
    }

    /// Counts one drop for `reason`.
    @inlinable public mutating func countDrop(_ reason: DropReason) {
        dropCounts[Int(reason.rawValue)] &+= 1
    }

    /// Drops counted for `reason`.
    @inlinable public func drops(_ reason: DropReason) -> UInt64 { dropCounts[Int(reason.rawValue)] }

    /// Drops over all reasons.
    public var totalDrops: UInt64 { dropCounts.wrappedSum() }

    /// Reasons with a non-zero count, in raw-value order (for reports; allocates).
    public var nonZeroDrops: [(reason: DropReason, count: UInt64)] {
        DropReason.allCases.compactMap { drops($0) == 0 ? nil : ($0, drops($0)) }
    }
}
