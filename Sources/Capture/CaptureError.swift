// Everything that can go wrong opening, writing or reading a capture, or compiling a filter.
// Each case carries the file or filter it concerns and libpcap's own words where there are some.

/// A failure of pcap I/O or BPF compilation, with a message a user can act on.
public enum CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened or created; `message` is libpcap's or the system's reason.
    case openFailed(path: String, message: String)
    /// The file holds records of another link type than the reader expects.
    case unsupportedLinkType(path: String, linkType: LinkType, expected: LinkType)
    /// Reading a record failed (truncated or corrupt file); `message` is libpcap's.
    case readFailed(path: String, message: String)
    /// Buffered records could not be written out; `message` is the system's reason.
    case writeFailed(path: String, message: String)
    /// The writer was already closed.
    case closed(path: String)
    /// The record's time (epoch offset included) is past `PcapFormat.maximumSeconds`.
    case timestampOutOfRange(path: String, nanosecondsSinceEpoch: UInt64?)
    /// The original length given is shorter than the bytes captured, or over 32 bits.
    case invalidOriginalLength(path: String, captured: Int, original: Int)
    /// pcap_compile rejected the filter; `message` is libpcap's.
    case invalidFilter(expression: String, message: String)

    public var description: String {
        switch self {
        case let .openFailed(path, message):
            return "cannot open capture file \(path): \(message)"
        case let .unsupportedLinkType(path, linkType, expected):
            return "\(path): link type \(linkType) is not \(expected); only \(expected.name) captures can be read here"
        case let .readFailed(path, message):
            return "cannot read capture file \(path): \(message)"
        case let .writeFailed(path, message):
            return "cannot write capture file \(path): \(message)"
        case let .closed(path):
            return "capture file \(path) is already closed"
        case let .timestampOutOfRange(path, ns):
            let when = ns.map { "\($0) ns since the epoch" } ?? "more than 2^64 ns since the epoch"
            return "\(path): timestamp \(when) is past what pcap readers agree on (2^31 s since 1970, January 2038)"
        case let .invalidOriginalLength(path, captured, original):
            return "\(path): original length \(original) is invalid for a record of \(captured) captured bytes"
        case let .invalidFilter(expression, message):
            return "invalid capture filter \"\(expression)\": \(message)"
        }
    }
}
