// What one direction of a link did with the frames offered to it. Every frame offered ends in
// exactly one of: delivered, lost, queue drop, MTU drop, down drop — or is still in flight.
// Duplicates add to what is delivered (or dropped at delivery when the link went down meanwhile):
//   sent + duplicated == delivered + lost + queueDrops + mtuDrops + downDrops + inFlight

/// Counters of one link direction.
public struct LinkCounters: Equatable, Sendable, CustomStringConvertible {
    /// Frames offered to the direction.
    public var sent = 0
    /// Their bytes.
    public var sentBytes = 0
    /// Frames handed to the far end (copies from `duplicate` included).
    public var delivered = 0
    /// Their bytes.
    public var deliveredBytes = 0
    /// Frames lost on the wire (the loss model).
    public var lost = 0
    /// Extra copies made by `duplicate`.
    public var duplicated = 0
    /// Frames held back and sent out of turn by `reorder`.
    public var reordered = 0
    /// Frames with one bit flipped by `corrupt`.
    public var corrupted = 0
    /// Frames dropped because the rate limiter's queue was full.
    public var queueDrops = 0
    /// Frames dropped for being longer than `mtu + 14`.
    public var mtuDrops = 0
    /// Frames dropped because the direction was down when they were sent, or went down while they
    /// were queued or on the wire.
    public var downDrops = 0
    /// Frames (and copies) scheduled for delivery and not yet delivered or dropped.
    public var inFlight = 0

    public init() {}

    public var description: String {
        "sent \(sent) delivered \(delivered) lost \(lost) duplicated \(duplicated) reordered \(reordered) "
            + "corrupted \(corrupted) queue-drops \(queueDrops) mtu-drops \(mtuDrops) down-drops \(downDrops) "
            + "in-flight \(inFlight)"
    }
}
