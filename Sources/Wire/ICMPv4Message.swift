// ICMP for IPv4 (RFC 792), with the fragmentation-needed MTU field of RFC 1191 §4.
//
//   type(1) code(1) checksum(2) rest-of-header(4) data...
// Echo: rest = identifier(2) sequence(2), data = echoed payload.
// Errors: rest = unused (or next-hop MTU in its low 16 bits), data = the original IP header
// plus at least the first 64 bits of its payload.

/// ICMP message types (RFC 792; IANA "ICMP Type Numbers").
public struct ICMPv4Type: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let echoReply = ICMPv4Type(rawValue: 0)
    public static let destinationUnreachable = ICMPv4Type(rawValue: 3)
    public static let sourceQuench = ICMPv4Type(rawValue: 4)
    public static let redirect = ICMPv4Type(rawValue: 5)
    public static let echoRequest = ICMPv4Type(rawValue: 8)
    public static let timeExceeded = ICMPv4Type(rawValue: 11)
    public static let parameterProblem = ICMPv4Type(rawValue: 12)
    public static let timestamp = ICMPv4Type(rawValue: 13)
    public static let timestampReply = ICMPv4Type(rawValue: 14)

    /// Error messages, about which no ICMP error may be sent (RFC 1812 §4.3.2.7, RFC 1122 §3.2.2).
    @inlinable public var isError: Bool {
        switch rawValue { case 3, 4, 5, 11, 12: true; default: false }
    }
}

/// Codes of Destination Unreachable (RFC 792; RFC 1122 §3.2.2.1; RFC 1812 §5.2.7.1).
public enum ICMPv4UnreachableCode {
    public static let network: UInt8 = 0
    public static let host: UInt8 = 1
    public static let `protocol`: UInt8 = 2
    public static let port: UInt8 = 3
    /// "fragmentation needed and DF set"; RFC 1191 puts the next-hop MTU in the header.
    public static let fragmentationNeeded: UInt8 = 4
    public static let sourceRouteFailed: UInt8 = 5
    public static let networkUnknown: UInt8 = 6
    public static let hostUnknown: UInt8 = 7
    public static let communicationAdministrativelyProhibited: UInt8 = 13
}

/// Codes of Time Exceeded (RFC 792).
public enum ICMPv4TimeExceededCode {
    public static let timeToLiveExceededInTransit: UInt8 = 0
    public static let fragmentReassemblyTimeExceeded: UInt8 = 1
}

/// ICMP constants.
public enum ICMPv4Constants {
    /// Type, code, checksum and the 4-byte rest of header.
    public static let headerLength = 8
    /// RFC 792: the error data is "Internet Header + 64 bits of Original Data Datagram".
    public static let quotedPayloadLength = 8
}

/// An ICMPv4 message header; its data (echo payload or quoted datagram) follows in the buffer.
public struct ICMPv4Message: Hashable, Sendable {
    public var type: ICMPv4Type
    public var code: UInt8
    /// The four bytes after the checksum, interpreted per type (see the accessors).
    public var restOfHeader: UInt32
    /// The checksum as parsed. `emit` ignores it and writes the correct one.
    public var checksum: UInt16 = 0

    @inlinable public init(type: ICMPv4Type, code: UInt8, restOfHeader: UInt32 = 0) {
        self.type = type; self.code = code; self.restOfHeader = restOfHeader
    }

    /// Echo request (type 8) with identifier and sequence number.
    @inlinable public static func echoRequest(identifier: UInt16, sequenceNumber: UInt16) -> ICMPv4Message {
        ICMPv4Message(type: .echoRequest, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequenceNumber))
    }
    /// Echo reply (type 0). RFC 792: "The identifier and sequence number ... must be returned in the echo reply."
    @inlinable public static func echoReply(identifier: UInt16, sequenceNumber: UInt16) -> ICMPv4Message {
        ICMPv4Message(type: .echoReply, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequenceNumber))
    }
    /// Destination unreachable (type 3) with a code from `ICMPv4UnreachableCode`; `nextHopMTU`
    /// only for fragmentation-needed (RFC 1191 §4).
    @inlinable public static func destinationUnreachable(code: UInt8, nextHopMTU: UInt16 = 0) -> ICMPv4Message {
        ICMPv4Message(type: .destinationUnreachable, code: code, restOfHeader: UInt32(nextHopMTU))
    }
    /// Time exceeded (type 11) with a code from `ICMPv4TimeExceededCode`.
    @inlinable public static func timeExceeded(code: UInt8) -> ICMPv4Message {
        ICMPv4Message(type: .timeExceeded, code: code)
    }

    /// Echo identifier (high 16 bits of the rest of header).
    @inlinable public var identifier: UInt16 { UInt16(truncatingIfNeeded: restOfHeader >> 16) }
    /// Echo sequence number (low 16 bits of the rest of header).
    @inlinable public var sequenceNumber: UInt16 { UInt16(truncatingIfNeeded: restOfHeader) }
    /// Next-hop MTU of a fragmentation-needed message (RFC 1191 §4: "the low-order 16 bits").
    @inlinable public var nextHopMTU: UInt16 { UInt16(truncatingIfNeeded: restOfHeader) }
    /// True for error messages (unreachable, source quench, redirect, time exceeded, parameter problem).
    @inlinable public var isError: Bool { type.isError }

    /// Parses the message that fills `message` (the whole IP payload) and verifies its checksum,
    /// which covers the whole message. The data is `message.slice(from: 8)`.
    @inlinable public init(parsing message: UnsafeRawBufferPointer) throws(WireError) {
        try message.require(ICMPv4Constants.headerLength)
        // RFC 792: "The checksum is the 16-bit ones's complement of the one's complement sum of
        // the ICMP message starting with the ICMP Type."
        guard InternetChecksum.of(message) == 0 else { throw WireError.badChecksum }
        type = ICMPv4Type(rawValue: message.u8(0))
        code = message.u8(1)
        checksum = message.u16(2)
        restOfHeader = message.u32(4)
    }

    /// The original IP header quoted in an error message's data, and the range of the
    /// quoted payload bytes (the first 8 or more) in `data`.
    @inlinable public static func quotedDatagram(in data: UnsafeRawBufferPointer) throws(WireError)
        -> (header: IPv4Header, payload: Range<Int>)
    {
        let header = try IPv4Header(parsingQuoted: data)
        return (header, header.headerLength..<data.count)
    }

    /// Writes header and `data` (copied; it may overlap `message`); returns the message length.
    @inlinable public func emit(into message: UnsafeMutableRawBufferPointer, data: UnsafeRawBufferPointer) throws(WireError) -> Int {
        try message.requireSpace(ICMPv4Constants.headerLength + data.count)
        message.copyBytes(data, at: ICMPv4Constants.headerLength)
        return try emit(into: message, dataLength: data.count)
    }

    /// Writes the header in front of `dataLength` bytes already placed at offset 8, and the
    /// checksum over both; returns the message length.
    @inlinable public func emit(into message: UnsafeMutableRawBufferPointer, dataLength: Int) throws(WireError) -> Int {
        let length = ICMPv4Constants.headerLength + dataLength
        try message.requireSpace(length)
        message.setU8(0, type.rawValue)
        message.setU8(1, code)
        message.setU16(2, 0)
        message.setU32(4, restOfHeader)
        message.setU16(2, InternetChecksum.of(UnsafeRawBufferPointer(message.slice(0..<length))))
        return length
    }
}
