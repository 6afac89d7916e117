// The pcap file format's constants and link types, as libpcap names them.
//
// pcap(5) / draft-ietf-opsawg-pcap: a file header (magic, version, snaplen, link type), then
// records of a 16-byte header (seconds, sub-second fraction, captured length, original length)
// followed by the captured bytes. The magic 0xA1B23C4D says the fraction is in nanoseconds.
import CPcap

/// Constants of the pcap files Sluice writes.
public enum PcapFormat {
    /// The snapshot length: frames longer than this keep only their first bytes. libpcap's
    /// MAXIMUM_SNAPLEN, tcpdump's default; above the largest jumbo frame or GSO segment we carry.
    public static let snapLength = 262_144

    /// The latest time a record may carry, in whole seconds since the Unix epoch (2038-01-19):
    /// the largest value every reader takes the 32-bit seconds field to mean.
    public static let maximumSeconds = UInt32(Int32.max)

    /// Nanoseconds per second, the unit of the record header's fraction field.
    static let nanosecondsPerSecond: UInt64 = 1_000_000_000
}

/// A data link type (libpcap's DLT_ value): what the bytes of every record in a file are.
public struct LinkType: Hashable, Sendable, CustomStringConvertible {
    /// libpcap's DLT_ value (not the LINKTYPE_ value stored in the file; libpcap maps them).
    public var dlt: Int32

    @inlinable public init(dlt: Int32) { self.dlt = dlt }

    /// Ethernet II / 802.3 frames from the destination MAC on (DLT_EN10MB).
    public static let ethernet = LinkType(dlt: DLT_EN10MB)
    /// Bare IPv4 or IPv6 packets, as a TUN device carries them (DLT_RAW).
    public static let raw = LinkType(dlt: DLT_RAW)

    /// libpcap's short name ("EN10MB", "RAW"), or "DLT <n>" for a value it does not know.
    public var name: String {
        guard let name = pcap_datalink_val_to_name(dlt) else { return "DLT \(dlt)" }
        return String(cString: name)
    }

    public var description: String { "\(name) (\(dlt))" }
}

extension UnsafeRawBufferPointer {
    /// The bytes as libpcap's `const u_char *`, which must not be null even for zero bytes.
    @inline(__always)
    func withPcapBytes<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R {
        if let base = baseAddress { return body(base.assumingMemoryBound(to: UInt8.self)) }
        var none: UInt8 = 0
        return body(&none)
    }
}
