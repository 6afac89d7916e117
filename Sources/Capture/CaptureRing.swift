// The in-memory twin of a capture file: the last N records, oldest first, for assertions.
import Basics

/// A fixed number of the most recent records. When full, each new record replaces the oldest
/// and reuses its byte storage, so a warmed-up ring allocates only for frames longer than the
/// one they replace.
public struct CaptureRing: Sendable {
    /// The most records kept.
    public let capacity: Int
    /// Records dropped to make room for newer ones.
    public private(set) var evicted: UInt64 = 0

    private var slots: [CaptureRecord] = []
    private var oldest = 0  // index of the oldest record once the ring is full

    /// A ring keeping up to `capacity` records (0 keeps none).
    public init(capacity: Int) {
        precondition(capacity >= 0, "CaptureRing capacity must not be negative")
        self.capacity = capacity
        slots.reserveCapacity(capacity)
    }

    /// Records currently held.
    public var count: Int { slots.count }

    /// Copies the frame (at most `PcapFormat.snapLength` bytes) in as the newest record.
    public mutating func append(frame: UnsafeRawBufferPointer, originalLength: Int, at time: Instant) {
        guard capacity > 0 else { return }
        let kept = UnsafeRawBufferPointer(rebasing: frame.prefix(PcapFormat.snapLength))
        if slots.count < capacity {
            slots.append(CaptureRecord(time: time, originalLength: originalLength, bytes: Array(kept)))
            return
        }
        slots[oldest].time = time
        slots[oldest].originalLength = originalLength
        slots[oldest].bytes.removeAll(keepingCapacity: true)
        slots[oldest].bytes.append(contentsOf: kept)
        oldest = (oldest + 1) % capacity
        evicted &+= 1
    }

    /// The records held, oldest first.
    public var records: [CaptureRecord] {
        Array(slots[oldest...] + slots[..<oldest])
    }

    /// Forgets every record (keeps the count of evictions).
    public mutating func removeAll() {
        slots.removeAll(keepingCapacity: true)
        oldest = 0
    }
}
