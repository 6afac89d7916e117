// Reads a pcap file (either timestamp precision) through libpcap, with times in nanoseconds.
import Basics
import CPcap
import Glibc

/// A pcap file being read, one record at a time. Closed by `deinit`.
public final class PcapReader {
    /// The file's path, for messages.
    public let path: String
    /// What every record in the file is.
    public let linkType: LinkType
    /// The file's snapshot length: no record holds more bytes than this.
    public let snapLength: Int

    private let handle: OpaquePointer  // pcap_t *

    /// Opens `path` and reads its header. Throws `.unsupportedLinkType` unless the file's link
    /// type is `expected` (Ethernet unless told otherwise).
    public init(path: String, expecting expected: LinkType = .ethernet) throws(CaptureError) {
        self.path = path
        // fopen ourselves rather than pcap_open_offline, to get O_CLOEXEC ("e").
        guard let file = fopen(path, "rbe") else {
            throw .openFailed(path: path, message: String(cString: strerror(errno)))
        }
        // Timestamps are scaled to nanoseconds whatever precision the file was written with.
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_fopen_offline_with_tstamp_precision(
            file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
        else {
            fclose(file)  // libpcap leaves the FILE to its caller when it fails
            throw .openFailed(path: path, message: errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        let linkType = LinkType(dlt: pcap_datalink(handle))
        guard linkType == expected else {
            pcap_close(handle)
            throw .unsupportedLinkType(path: path, linkType: linkType, expected: expected)
        }
        self.handle = handle
        self.linkType = linkType
        self.snapLength = Int(pcap_snapshot(handle))
    }

    deinit { pcap_close(handle) }

    /// Reads the next record and lends its bytes to `body` without copying; nil at the end of
    /// the file. `time` is nanoseconds since the Unix epoch (subtract the writer's epoch offset
    /// to get back the `Instant` it was given). The bytes are valid only inside `body`.
    public func nextFrame<R>(
        _ body: (_ frame: UnsafeRawBufferPointer, _ originalLength: Int, _ time: Instant) -> R
    ) throws(CaptureError) -> R? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            guard let header = header?.pointee, let data else {
                throw .readFailed(path: path, message: "libpcap returned a record without data")
            }
            // pcap(5): the seconds field is an unsigned 32-bit count; libpcap hands it over
            // sign-extended, so take back its 32 bits. The fraction is already in nanoseconds.
            let seconds = UInt64(UInt32(truncatingIfNeeded: header.ts.tv_sec))
            guard header.ts.tv_usec >= 0 else {
                throw .readFailed(path: path, message: "negative timestamp fraction \(header.ts.tv_usec)")
            }
            let ns = seconds * PcapFormat.nanosecondsPerSecond + UInt64(header.ts.tv_usec)
            return body(UnsafeRawBufferPointer(start: data, count: Int(header.caplen)),
                        Int(header.len), Instant(nanoseconds: ns))
        case PCAP_ERROR_BREAK:  // -2: no more records
            return nil
        default:
            throw .readFailed(path: path, message: String(cString: pcap_geterr(handle)))
        }
    }

    /// Reads the next record as a value; nil at the end of the file.
    public func next() throws(CaptureError) -> CaptureRecord? {
        try nextFrame { frame, originalLength, time in
            CaptureRecord(time: time, originalLength: originalLength, bytes: Array(frame))
        }
    }

    /// Reads every remaining record.
    public func readAll() throws(CaptureError) -> [CaptureRecord] {
        var records: [CaptureRecord] = []
        while let record = try next() { records.append(record) }
        return records
    }
}
