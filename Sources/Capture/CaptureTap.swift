// A capture point on a port of the datapath: every frame passing it is offered to `record`,
// an optional BPF filter decides, and the frame goes to a pcap file and/or an in-memory ring.
import Basics

/// Records the frames seen at one point of the datapath. With only a file attached, recording
/// a frame allocates nothing.
public final class CaptureTap {
    /// Where the tap sits ("br0", "vm1.tx"), for reports.
    public let name: String
    /// Frames the filter rejects are counted, not recorded. nil records everything.
    public let filter: BPFFilter?
    /// The file recorded frames are written to, if any.
    public let writer: PcapWriter?
    /// The most recent recorded frames, if the tap keeps any in memory.
    public private(set) var ring: CaptureRing

    /// Frames recorded (to the file, the ring, or both).
    public private(set) var recorded: UInt64 = 0
    /// Frames the filter rejected.
    public private(set) var filteredOut: UInt64 = 0
    /// Frames the file writer refused; the frame still goes to the ring.
    public private(set) var writeFailures: UInt64 = 0
    /// The latest writer error, for the report.
    public private(set) var lastError: CaptureError?

    /// A tap named `name` writing to `writer` and/or keeping the last `memoryCapacity` frames,
    /// recording only frames `filter` accepts.
    public init(name: String, filter: BPFFilter? = nil, writer: PcapWriter? = nil, memoryCapacity: Int = 0) {
        self.name = name
        self.filter = filter
        self.writer = writer
        self.ring = CaptureRing(capacity: memoryCapacity)
    }

    /// Offers a frame seen at `time` that had `originalLength` bytes on the wire (default:
    /// `frame.count`). Returns whether it was recorded (false: the filter rejected it).
    @discardableResult
    public func record(frame: UnsafeRawBufferPointer, originalLength: Int? = nil, at time: Instant) -> Bool {
        let original = originalLength ?? frame.count
        if let filter, !filter.matches(frame: frame, originalLength: original) {
            filteredOut &+= 1
            return false
        }
        if let writer {
            do throws(CaptureError) {
                try writer.write(frame: frame, originalLength: original, at: time)
            } catch {
                noteWriteFailure(error)
            }
        }
        ring.append(frame: frame, originalLength: original, at: time)
        recorded &+= 1
        return true
    }

    @inline(never)
    private func noteWriteFailure(_ error: CaptureError) {
        writeFailures &+= 1
        lastError = error
    }

    /// The frames held in memory, oldest first.
    public var records: [CaptureRecord] { ring.records }

    /// How many frames held in memory `filter` accepts.
    public func count(matching filter: BPFFilter) -> Int {
        ring.records.reduce(0) { $0 + (filter.matches($1) ? 1 : 0) }
    }
}
