// A capture point on a port of the datapath: every frame passing it is offered to `record`,
// an optional BPF filter decides, and the frame goes to its sink: a pcap file, an in-memory ring,
// or both. The driver builds the sink (it owns the file) and hands the tap to the engine, which
// only records into it; the driver closes it (`close()`) when it shuts down.
import Basics

/// Where a tap's recorded frames go. The file is opened by whoever builds the sink (a driver,
/// never the engine); the ring is the in-memory twin of a file, for tests and reports.
public enum CaptureSink {
    /// A pcap file.
    case file(PcapWriter)
    /// The last `capacity` frames, in memory (`CaptureTap.records`).
    case memory(capacity: Int)
    /// Both: the file, and the last `capacity` frames in memory.
    case fileAndMemory(PcapWriter, capacity: Int)

    /// A pcap file sink at `path` (created or truncated), times moved by `epochOffsetNanoseconds`.
    public static func file(path: String, epochOffsetNanoseconds: UInt64 = 0) throws(CaptureError) -> CaptureSink {
        .file(try PcapWriter(path: path, epochOffsetNanoseconds: epochOffsetNanoseconds))
    }

    var writer: PcapWriter? {
        switch self {
        case .file(let w), .fileAndMemory(let w, _): w
        case .memory: nil
        }
    }

    var memoryCapacity: Int {
        switch self {
        case .file: 0
        case .memory(let c), .fileAndMemory(_, let c): c
        }
    }
}

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

    /// A tap named `name` recording the frames `filter` accepts into `sink`.
    public init(name: String, filter: BPFFilter? = nil, sink: CaptureSink) {
        self.name = name
        self.filter = filter
        self.writer = sink.writer
        self.ring = CaptureRing(capacity: sink.memoryCapacity)
    }

    /// Flushes and closes the tap's file, if it has one that is still open (its ring stays
    /// readable). Frames recorded afterwards count as write failures.
    public func close() throws(CaptureError) {
        guard let writer, writer.isOpen else { return }
        try writer.close()
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
