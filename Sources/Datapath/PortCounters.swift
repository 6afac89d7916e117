// Per-port traffic and drop counters. Trivial value type, fixed size: counting never allocates and
// a snapshot is a plain copy.

import Basics

/// Packets and bytes received and sent on one port, and drops by `PortDropReason`.
public struct PortCounters: Equatable, Sendable {
    /// Frames received from the port's device.
    public var rxPackets: UInt64 = 0
    /// Bytes of the frames received.
    public var rxBytes: UInt64 = 0
    /// Frames delivered to the port's device.
    public var txPackets: UInt64 = 0
    /// Bytes of the frames delivered.
    public var txBytes: UInt64 = 0
    /// Drops by reason.
    public var drops = ReasonCounts<PortDropReason>()

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
    @inlinable public mutating func countDrop(_ reason: PortDropReason) {
        drops.count(reason)
    }
}
