// Writes a pcap file with nanosecond timestamps through libpcap's dumper.
//
// The dumper hangs off a "dead" pcap handle (no device) that carries the link type, snapshot
// length and timestamp precision into the file header. Per frame, `write` builds the record
// header on the stack and hands libpcap pointers: no allocation.
import Basics
import CPcap
import Glibc

/// A pcap file being written. Closed exactly once: by `close()` or, failing that, by `deinit`.
public final class PcapWriter {
    /// The file's path, for messages.
    public let path: String
    /// What every record in the file is.
    public let linkType: LinkType
    /// Added to every `Instant` to get nanoseconds since the Unix epoch (0 for virtual time).
    public let epochOffsetNanoseconds: UInt64
    /// Records written so far.
    public private(set) var recordCount: UInt64 = 0

    private var deadHandle: OpaquePointer?  // pcap_t *
    private var dumper: OpaquePointer?      // pcap_dumper_t *

    /// Creates (or truncates) `path` and writes the file header. Times are written as
    /// `epochOffsetNanoseconds + instant` nanoseconds since the Unix epoch.
    public init(path: String, linkType: LinkType = .ethernet, epochOffsetNanoseconds: UInt64 = 0) throws(CaptureError) {
        self.path = path
        self.linkType = linkType
        self.epochOffsetNanoseconds = epochOffsetNanoseconds
        guard let dead = pcap_open_dead_with_tstamp_precision(
            linkType.dlt, Int32(PcapFormat.snapLength), UInt32(PCAP_TSTAMP_PRECISION_NANO))
        else { throw .openFailed(path: path, message: "libpcap could not create a handle for link type \(linkType)") }
        // fopen ourselves rather than pcap_dump_open, to get O_CLOEXEC ("e"): the bridge spawns
        // processes (QEMU) that must not inherit capture files.
        guard let file = fopen(path, "wbe") else {
            let reason = String(cString: strerror(errno))
            pcap_close(dead)
            throw .openFailed(path: path, message: reason)
        }
        guard let dumper = pcap_dump_fopen(dead, file) else {
            let reason = String(cString: pcap_geterr(dead))
            fclose(file)
            pcap_close(dead)
            throw .openFailed(path: path, message: reason)
        }
        self.deadHandle = dead
        self.dumper = dumper
    }

    deinit { release() }

    /// Appends one record: `frame`'s bytes (the first `PcapFormat.snapLength` of them) seen at
    /// `time`, which had `originalLength` bytes on the wire (default: `frame.count`).
    /// Errors surface here only for bad arguments; I/O errors surface at `flush` or `close`.
    public func write(frame: UnsafeRawBufferPointer, originalLength: Int? = nil, at time: Instant) throws(CaptureError) {
        guard let dumper else { throw .closed(path: path) }
        let captured = min(frame.count, PcapFormat.snapLength)
        let original = originalLength ?? frame.count
        guard original >= frame.count, let wireLength = UInt32(exactly: original) else {
            throw .invalidOriginalLength(path: path, captured: frame.count, original: original)
        }
        let (total, overflow) = epochOffsetNanoseconds.addingReportingOverflow(time.nanoseconds)
        let seconds = total / PcapFormat.nanosecondsPerSecond
        // pcap(5): the record header's seconds field is 32 bits. The format says unsigned, but
        // libpcap 1.10 reads it signed, so stay below 2^31 s (2038) to be read alike everywhere.
        guard !overflow, seconds <= UInt64(PcapFormat.maximumSeconds) else {
            throw .timestampOutOfRange(path: path, nanosecondsSinceEpoch: overflow ? nil : total)
        }
        // With nanosecond precision, libpcap reads ts.tv_usec as nanoseconds.
        var header = pcap_pkthdr(
            ts: timeval(tv_sec: Int(seconds), tv_usec: Int(total % PcapFormat.nanosecondsPerSecond)),
            caplen: UInt32(captured), len: wireLength)
        frame.withPcapBytes { pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, $0) }
        recordCount &+= 1
    }

    /// Pushes buffered records to the file.
    public func flush() throws(CaptureError) {
        guard let dumper else { throw .closed(path: path) }
        if pcap_dump_flush(dumper) != 0 || ferror(pcap_dump_file(dumper)) != 0 {
            throw .writeFailed(path: path, message: String(cString: strerror(errno)))
        }
    }

    /// Flushes and closes the file. The file is closed even when the final flush fails (the
    /// error says so); a second `close` throws `.closed`.
    public func close() throws(CaptureError) {
        defer { release() }
        try flush()
    }

    /// Whether the file is still open for writing.
    public var isOpen: Bool { dumper != nil }

    private func release() {
        if let dumper { pcap_dump_close(dumper) }
        if let deadHandle { pcap_close(deadHandle) }
        dumper = nil
        deadHandle = nil
    }
}
