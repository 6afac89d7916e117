// The Transmission Control Protocol header (RFC 9293 §3.1). Options are kept as raw bytes.
//
//   source port(2) destination port(2) sequence(4) acknowledgment(4)
//   data offset(4 bits) reserved(4 bits) flags(8) window(2) checksum(2) urgent pointer(2) options...

/// TCP constants (RFC 9293 §3.1).
public enum TCPConstants {
    /// Data offset 5: the header without options.
    public static let minimumHeaderLength = 20
    /// Data offset is 4 bits: at most 15 words.
    public static let maximumHeaderLength = 60
    /// RFC 9293 §3.7.1: "If an MSS Option is not received at connection setup, TCP implementations
    /// MUST assume a default send MSS of 536 (576 - 60) for IPv4".
    public static let defaultMaximumSegmentSize = 536
}

/// The control bits (RFC 9293 §3.1; CWR/ECE from RFC 3168).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

/// A TCP header. Parsing verifies the checksum against the IPv4 pseudo-header.
public struct TCPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: UInt32
    public var acknowledgmentNumber: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    /// The checksum as parsed. `emit` ignores it and writes the correct one.
    public var checksum: UInt16 = 0
    public var urgentPointer: UInt16
    /// Option bytes, a multiple of 4 (pad with End-of-Option-List zeros).
    public var options: HeaderOptions

    @inlinable public init(
        sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: UInt32, acknowledgmentNumber: UInt32 = 0,
        flags: TCPFlags, window: UInt16, urgentPointer: UInt16 = 0, options: HeaderOptions = HeaderOptions()
    ) {
        self.sourcePort = sourcePort; self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber; self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags; self.window = window; self.urgentPointer = urgentPointer; self.options = options
    }

    /// Header length in bytes (data offset × 4); the data starts here.
    @inlinable public var headerLength: Int { TCPConstants.minimumHeaderLength + options.count }

    /// Parses the segment that fills `segment` (the whole IP payload) from `source` to
    /// `destination`, verifying the checksum over pseudo-header, header and data.
    /// The data is `segment.slice(from: headerLength)`.
    @inlinable public init(parsing segment: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address) throws(WireError) {
        try segment.require(TCPConstants.minimumHeaderLength)
        let offset = Int(segment.u8(12) >> 4) * 4
        // RFC 9293 §3.1: Data Offset "the number of 32-bit words in the TCP header"; at least 5.
        guard offset >= TCPConstants.minimumHeaderLength else { throw WireError.badLength }
        try segment.require(offset)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocol: .tcp, length: segment.count)
        sum.add(segment)
        guard sum.value == 0 else { throw WireError.badChecksum }
        sourcePort = segment.u16(0)
        destinationPort = segment.u16(2)
        sequenceNumber = segment.u32(4)
        acknowledgmentNumber = segment.u32(8)
        flags = TCPFlags(rawValue: segment.u8(13))
        window = segment.u16(14)
        checksum = segment.u16(16)
        urgentPointer = segment.u16(18)
        options = HeaderOptions(copying: segment.slice(TCPConstants.minimumHeaderLength..<offset))
    }

    /// Writes header and `payload` (copied; it may overlap `segment`) with the checksum; returns
    /// the segment length.
    @inlinable public func emit(
        into segment: UnsafeMutableRawBufferPointer, payload: UnsafeRawBufferPointer,
        source: IPv4Address, destination: IPv4Address
    ) throws(WireError) -> Int {
        try segment.requireSpace(headerLength + payload.count)
        segment.copyBytes(payload, at: headerLength)
        return try emit(into: segment, payloadLength: payload.count, source: source, destination: destination)
    }

    /// Writes the header in front of `payloadLength` bytes already at `headerLength`, with the
    /// checksum; returns the segment length.
    @inlinable public func emit(
        into segment: UnsafeMutableRawBufferPointer, payloadLength: Int,
        source: IPv4Address, destination: IPv4Address
    ) throws(WireError) -> Int {
        let length = headerLength
        guard options.count % 4 == 0 else { throw WireError.malformed("TCP options not a multiple of 4 bytes") }
        let total = length + payloadLength
        try segment.requireSpace(total)
        segment.setU16(0, sourcePort)
        segment.setU16(2, destinationPort)
        segment.setU32(4, sequenceNumber)
        segment.setU32(8, acknowledgmentNumber)
        segment.setU8(12, UInt8(length / 4) << 4)
        segment.setU8(13, flags.rawValue)
        segment.setU16(14, window)
        segment.setU16(16, 0)
        segment.setU16(18, urgentPointer)
        options.write(to: segment, at: TCPConstants.minimumHeaderLength)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocol: .tcp, length: total)
        sum.add(UnsafeRawBufferPointer(segment.slice(0..<total)))
        segment.setU16(16, sum.value)
        return total
    }
}
