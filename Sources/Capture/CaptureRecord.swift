// One captured frame as a value: what a pcap record holds, and what a tap keeps in memory.
import Basics

/// A frame with its capture time and the length it had on the wire.
public struct CaptureRecord: Equatable, Sendable {
    /// When the frame was seen (for records read from a file: nanoseconds since the Unix epoch).
    public var time: Instant
    /// The frame's length on the wire; more than `bytes.count` when the capture truncated it.
    public var originalLength: Int
    /// The captured bytes (at most `PcapFormat.snapLength`).
    public var bytes: [UInt8]

    public init(time: Instant, originalLength: Int, bytes: [UInt8]) {
        self.time = time
        self.originalLength = originalLength
        self.bytes = bytes
    }

    /// The capture kept only the first `bytes.count` bytes of the frame.
    public var isTruncated: Bool { bytes.count < originalLength }
}
