// A BPF capture filter ("udp port 67", "arp", ...) compiled by libpcap and run on frames in memory.
//
// Filters are compiled with pcap_compile against a dead handle of the capture's
// link type and evaluated offline with pcap_offline_filter.
import CPcap

/// A compiled capture filter. Immutable once compiled; the program is freed once, by `deinit`.
public final class BPFFilter: @unchecked Sendable {  // the program is only read after init
    /// The filter as written.
    public let expression: String
    /// The link type the program expects frames of.
    public let linkType: LinkType

    private let program: UnsafeMutablePointer<bpf_program>

    /// Compiles `expression` (pcap-filter(7) syntax) for frames of `linkType`. Throws
    /// `.invalidFilter` with libpcap's message when it does not compile.
    public init(_ expression: String, linkType: LinkType = .ethernet) throws(CaptureError) {
        self.expression = expression
        self.linkType = linkType
        guard let dead = pcap_open_dead(linkType.dlt, Int32(PcapFormat.snapLength)) else {
            throw .invalidFilter(expression: expression, message: "libpcap could not create a handle for link type \(linkType)")
        }
        defer { pcap_close(dead) }
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        // No netmask is known offline; only "ip broadcast" needs one, and it then fails to compile.
        guard pcap_compile(dead, program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            let message = String(cString: pcap_geterr(dead))
            program.deallocate()
            throw .invalidFilter(expression: expression, message: message)
        }
        self.program = program
    }

    deinit {
        pcap_freecode(program)
        program.deallocate()
    }

    /// Whether the filter accepts `frame`, which had `originalLength` bytes on the wire
    /// (default: `frame.count`). No allocation.
    public func matches(frame: UnsafeRawBufferPointer, originalLength: Int? = nil) -> Bool {
        var header = pcap_pkthdr(
            ts: timeval(tv_sec: 0, tv_usec: 0),
            caplen: UInt32(clamping: frame.count),
            len: UInt32(clamping: max(originalLength ?? frame.count, frame.count)))
        let accepted = frame.withPcapBytes { pcap_offline_filter(program, &header, $0) }
        return accepted != 0
    }

    /// Whether the filter accepts a recorded frame.
    public func matches(_ record: CaptureRecord) -> Bool {
        record.bytes.withUnsafeBytes { matches(frame: $0, originalLength: record.originalLength) }
    }
}
