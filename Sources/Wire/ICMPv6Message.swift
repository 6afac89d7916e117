// ICMP for IPv6 (RFC 4443): the 8-octet header every message shares, its checksum over the IPv6
// pseudo-header (RFC 8200 §8.1), the error messages and echo. Neighbour discovery messages ride
// on the same header (NDPMessage.swift).
//
//   type(1) code(1) checksum(2) message body — the body's first 32 bits are a field of every
//   message type: unused, MTU, pointer, identifier+sequence, or NDP's flags/reserved.

/// ICMPv6 constants (RFC 4443).
public enum ICMPv6Constants {
    /// Type, code, checksum and the first 32 bits of the message body.
    public static let headerLength = 8
    /// RFC 4443 §2.4 (c): an error message carries "as much of invoking packet as possible
    /// without the ICMPv6 packet exceeding the minimum IPv6 MTU": 1280 − 40 − 8 octets of quote.
    public static let maximumQuoteLength = IPv6Constants.minimumMTU - IPv6Constants.headerLength - headerLength
}

/// The ICMPv6 type (IANA "ICMPv6 'type' Numbers").
public struct ICMPv6Type: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let destinationUnreachable = ICMPv6Type(rawValue: 1)
    public static let packetTooBig = ICMPv6Type(rawValue: 2)
    public static let timeExceeded = ICMPv6Type(rawValue: 3)
    public static let parameterProblem = ICMPv6Type(rawValue: 4)
    public static let echoRequest = ICMPv6Type(rawValue: 128)
    public static let echoReply = ICMPv6Type(rawValue: 129)
    /// Multicast Listener Query / Report / Done (RFC 2710), and the MLDv2 report (RFC 3810).
    public static let multicastListenerQuery = ICMPv6Type(rawValue: 130)
    public static let multicastListenerReport = ICMPv6Type(rawValue: 131)
    public static let multicastListenerDone = ICMPv6Type(rawValue: 132)
    public static let multicastListenerReportV2 = ICMPv6Type(rawValue: 143)
    /// Neighbour discovery (RFC 4861 §4).
    public static let routerSolicitation = ICMPv6Type(rawValue: 133)
    public static let routerAdvertisement = ICMPv6Type(rawValue: 134)
    public static let neighborSolicitation = ICMPv6Type(rawValue: 135)
    public static let neighborAdvertisement = ICMPv6Type(rawValue: 136)
    public static let redirect = ICMPv6Type(rawValue: 137)

    /// RFC 4443 §2.1: "Error messages are identified as such by a zero in the high-order bit of
    /// their message Type field values."
    @inlinable public var isError: Bool { rawValue & 0x80 == 0 }
}

/// Destination Unreachable codes (RFC 4443 §3.1).
public enum ICMPv6UnreachableCode {
    public static let noRoute: UInt8 = 0
    public static let administrativelyProhibited: UInt8 = 1
    public static let beyondScopeOfSourceAddress: UInt8 = 2
    public static let addressUnreachable: UInt8 = 3
    public static let portUnreachable: UInt8 = 4
    public static let sourceAddressFailedPolicy: UInt8 = 5
    public static let rejectRoute: UInt8 = 6
}

/// Time Exceeded codes (RFC 4443 §3.3).
public enum ICMPv6TimeExceededCode {
    public static let hopLimitExceeded: UInt8 = 0
    public static let fragmentReassemblyTimeExceeded: UInt8 = 1
}

/// Parameter Problem codes (RFC 4443 §3.4; code 3 from RFC 7112 §5).
public enum ICMPv6ParameterProblemCode {
    public static let erroneousHeaderField: UInt8 = 0
    public static let unrecognizedNextHeader: UInt8 = 1
    public static let unrecognizedOption: UInt8 = 2
    public static let incompleteHeaderChain: UInt8 = 3
}

/// An ICMPv6 message header: type, code and the first 32 bits of the body.
public struct ICMPv6Message: Hashable, Sendable {
    public var type: ICMPv6Type
    public var code: UInt8
    /// The 32 bits after the checksum: unused (0), the MTU, the pointer, or identifier and sequence.
    public var restOfHeader: UInt32
    /// The checksum as parsed. `emit` writes the correct one.
    public var checksum: UInt16 = 0

    @inlinable public init(type: ICMPv6Type, code: UInt8, restOfHeader: UInt32 = 0) {
        self.type = type; self.code = code; self.restOfHeader = restOfHeader
    }

    /// Echo request (RFC 4443 §4.1).
    @inlinable public static func echoRequest(identifier: UInt16, sequenceNumber: UInt16) -> ICMPv6Message {
        ICMPv6Message(type: .echoRequest, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequenceNumber))
    }
    /// Echo reply (RFC 4443 §4.2): identifier, sequence number and data of the request.
    @inlinable public static func echoReply(identifier: UInt16, sequenceNumber: UInt16) -> ICMPv6Message {
        ICMPv6Message(type: .echoReply, code: 0, restOfHeader: UInt32(identifier) << 16 | UInt32(sequenceNumber))
    }
    /// Destination Unreachable (RFC 4443 §3.1) with a code from `ICMPv6UnreachableCode`.
    @inlinable public static func destinationUnreachable(code: UInt8) -> ICMPv6Message {
        ICMPv6Message(type: .destinationUnreachable, code: code)
    }
    /// Packet Too Big (RFC 4443 §3.2): "The Maximum Transmission Unit of the next-hop link."
    @inlinable public static func packetTooBig(mtu: UInt32) -> ICMPv6Message {
        ICMPv6Message(type: .packetTooBig, code: 0, restOfHeader: mtu)
    }
    /// Time Exceeded (RFC 4443 §3.3) with a code from `ICMPv6TimeExceededCode`.
    @inlinable public static func timeExceeded(code: UInt8) -> ICMPv6Message {
        ICMPv6Message(type: .timeExceeded, code: code)
    }
    /// Parameter Problem (RFC 4443 §3.4): `pointer` is the octet offset in the invoking packet
    /// where the error was detected.
    @inlinable public static func parameterProblem(code: UInt8, pointer: UInt32) -> ICMPv6Message {
        ICMPv6Message(type: .parameterProblem, code: code, restOfHeader: pointer)
    }

    @inlinable public var identifier: UInt16 { UInt16(truncatingIfNeeded: restOfHeader >> 16) }
    @inlinable public var sequenceNumber: UInt16 { UInt16(truncatingIfNeeded: restOfHeader) }
    /// The MTU of a Packet Too Big message.
    @inlinable public var mtu: UInt32 { restOfHeader }
    /// The pointer of a Parameter Problem message.
    @inlinable public var pointer: UInt32 { restOfHeader }
    @inlinable public var isError: Bool { type.isError }

    /// Parses the message that fills `message` (the whole upper-layer payload) sent from `source`
    /// to `destination`, and verifies its checksum over the pseudo-header and the message. The
    /// data is `message.slice(from: 8)`. NDP messages (whose body may be shorter than the
    /// 8-octet header's last 32 bits would suggest — never: all are at least 8) parse here too.
    @inlinable public init(parsing message: UnsafeRawBufferPointer, source: IPv6Address, destination: IPv6Address) throws(WireError) {
        try message.require(ICMPv6Constants.headerLength)
        // RFC 4443 §2.3: the checksum covers "the entire ICMPv6 message, prepended with a
        // 'pseudo-header' of IPv6 header fields" with Next Header 58.
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, nextHeader: .icmpv6, length: message.count)
        sum.add(message)
        guard sum.value == 0 else { throw WireError.badChecksum }
        type = ICMPv6Type(rawValue: message.u8(0))
        code = message.u8(1)
        checksum = message.u16(2)
        restOfHeader = message.u32(4)
    }

    /// The invoking packet's fixed header quoted in an error message's data, its extension
    /// headers as far as the quote holds them, and the range of the quoted upper-layer bytes.
    /// The quote is cut short by design, so a chain running past it ends the walk there: the
    /// result's `extensions` is nil and the range starts after the fixed header.
    @inlinable public static func quotedPacket(in data: UnsafeRawBufferPointer) throws(WireError)
        -> (header: IPv6Header, extensions: IPv6ExtensionHeaders?, upperLayer: Range<Int>)
    {
        let header = try IPv6Header(parsingQuoted: data)
        // Walk over the quote as if its payload length were what is present.
        var clipped = header
        clipped.payloadLength = UInt16(truncatingIfNeeded: min(data.count - IPv6Constants.headerLength, Int(UInt16.max)))
        if let chain = try? IPv6ExtensionHeaders(walking: data, header: clipped) {
            return (header, chain, chain.upperLayerOffset..<data.count)
        }
        return (header, nil, IPv6Constants.headerLength..<data.count)
    }

    /// How many octets of an `invokingLength`-octet packet an error message quotes (RFC 4443 §2.4 (c)).
    @inlinable public static func quoteLength(invokingLength: Int) -> Int {
        max(0, min(invokingLength, ICMPv6Constants.maximumQuoteLength))
    }

    /// Writes header and `data` (copied; it may overlap `message`), with the checksum; returns the
    /// message length.
    @inlinable public func emit(
        into message: UnsafeMutableRawBufferPointer, data: UnsafeRawBufferPointer,
        source: IPv6Address, destination: IPv6Address
    ) throws(WireError) -> Int {
        try message.requireSpace(ICMPv6Constants.headerLength + data.count)
        message.copyBytes(data, at: ICMPv6Constants.headerLength)
        return try emit(into: message, dataLength: data.count, source: source, destination: destination)
    }

    /// Writes the header in front of `dataLength` octets already at offset 8, and the checksum
    /// over pseudo-header, header and data; returns the message length.
    @inlinable public func emit(
        into message: UnsafeMutableRawBufferPointer, dataLength: Int,
        source: IPv6Address, destination: IPv6Address
    ) throws(WireError) -> Int {
        let length = ICMPv6Constants.headerLength + dataLength
        guard dataLength >= 0, length <= Int(UInt16.max) else { throw WireError.badLength }
        try message.requireSpace(length)
        message.setU8(0, type.rawValue)
        message.setU8(1, code)
        message.setU16(2, 0)
        message.setU32(4, restOfHeader)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, nextHeader: .icmpv6, length: length)
        sum.add(UnsafeRawBufferPointer(message.slice(0..<length)))
        message.setU16(2, sum.value)
        return length
    }

    /// Whether RFC 4443 §2.4 (e) allows an error message about a packet: not about an ICMPv6
    /// error or a Redirect (`invokingICMPv6Type`, when the invoking packet's upper layer is
    /// ICMPv6 and its type was readable), not when it was sent to a multicast address — except
    /// Packet Too Big and Parameter Problem code 2 about an option with action 3 (`exception`) —
    /// and not from an address that does not name a single node (unspecified, multicast).
    @inlinable public static func mayReport(
        source: IPv6Address, destination: IPv6Address, invokingICMPv6Type: ICMPv6Type?, exception: Bool
    ) -> Bool {
        if let t = invokingICMPv6Type, t.isError || t == .redirect { return false }
        if destination.isMulticast && !exception { return false }
        if source.isUnspecified || source.isMulticast { return false }
        return true
    }
}

extension InternetChecksum {
    /// Adds a 64-bit value as its four big-endian 16-bit words (an IPv6 address half).
    @inlinable public mutating func add(_ word: UInt64) {
        add(UInt32(truncatingIfNeeded: word >> 32)); add(UInt32(truncatingIfNeeded: word))
    }

    /// Adds the IPv6 pseudo-header that upper-layer checksums cover (RFC 8200 §8.1): source
    /// address, destination address (the final one, with a Routing header), the 32-bit
    /// upper-layer packet length, three zero octets and the Next Header value of the upper layer.
    @inlinable public mutating func addPseudoHeader(
        source: IPv6Address, destination: IPv6Address, nextHeader: IPProtocol, length: Int
    ) {
        add(source.high); add(source.low); add(destination.high); add(destination.low)
        add(UInt32(truncatingIfNeeded: length))
        add(UInt16(nextHeader.rawValue))
    }
}
