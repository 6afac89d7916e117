// The User Datagram Protocol header (RFC 768).
//
//   source port(2) destination port(2) length(2) checksum(2) data...

/// UDP constants (RFC 768; IANA port numbers used by Sluice).
public enum UDPConstants {
    public static let headerLength = 8
    /// DHCP/BOOTP server port (RFC 2131 §4.1).
    public static let bootpServerPort: UInt16 = 67
    /// DHCP/BOOTP client port (RFC 2131 §4.1).
    public static let bootpClientPort: UInt16 = 68
}

/// A UDP header. Parsing verifies the checksum against the IPv4 pseudo-header.
public struct UDPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// Header plus data, in bytes, as parsed. `emit` writes 8 + the data length instead.
    public var length: UInt16 = 0
    /// The checksum as parsed (0 = none sent). `emit` writes the correct one.
    public var checksum: UInt16 = 0

    @inlinable public init(sourcePort: UInt16, destinationPort: UInt16) {
        self.sourcePort = sourcePort; self.destinationPort = destinationPort
    }

    /// Where the data lies in the buffer the header was parsed from.
    @inlinable public var payloadRange: Range<Int> { UDPConstants.headerLength..<Int(length) }

    /// Parses the datagram at the start of `datagram` (the IP payload) sent from `source` to
    /// `destination`. The length field must fit the buffer; bytes past it are ignored. A nonzero
    /// checksum must verify ("An all zero transmitted checksum value means that the transmitter
    /// generated no checksum").
    @inlinable public init(parsing datagram: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address) throws(WireError) {
        try self.init(parsingFieldsOf: datagram)
        if checksum != 0 {
            var sum = InternetChecksum()
            sum.addPseudoHeader(source: source, destination: destination, protocol: .udp, length: Int(length))
            try verifyChecksum(of: datagram, startingWith: sum)
        }
    }

    /// The ports, length and checksum field of the datagram at the start of `datagram`, the length
    /// checked against the buffer (the part both IP versions share).
    @inlinable init(parsingFieldsOf datagram: UnsafeRawBufferPointer) throws(WireError) {
        try datagram.require(UDPConstants.headerLength)
        sourcePort = datagram.u16(0)
        destinationPort = datagram.u16(2)
        length = datagram.u16(4)
        checksum = datagram.u16(6)
        // "Length is the length in octets of this user datagram including this header and the data."
        guard Int(length) >= UDPConstants.headerLength else { throw WireError.badLength }
        guard Int(length) <= datagram.count else { throw WireError.truncated(needed: Int(length), have: datagram.count) }
    }

    /// Checks the checksum of the `length` octets of `datagram`, `pseudoHeader` holding the sum of
    /// the IP version's pseudo-header.
    @inlinable func verifyChecksum(of datagram: UnsafeRawBufferPointer, startingWith pseudoHeader: InternetChecksum) throws(WireError) {
        var sum = pseudoHeader
        sum.add(datagram.slice(0..<Int(length)))
        guard sum.value == 0 else { throw WireError.badChecksum }
    }

    /// Writes header and `payload` (copied; it may overlap `datagram`), with the length and the
    /// checksum; returns the datagram length.
    @inlinable public func emit(
        into datagram: UnsafeMutableRawBufferPointer, payload: UnsafeRawBufferPointer,
        source: IPv4Address, destination: IPv4Address
    ) throws(WireError) -> Int {
        try datagram.requireSpace(UDPConstants.headerLength + payload.count)
        datagram.copyBytes(payload, at: UDPConstants.headerLength)
        return try emit(into: datagram, payloadLength: payload.count, source: source, destination: destination)
    }

    /// Writes the header in front of `payloadLength` bytes already at offset 8, with the length
    /// and the checksum; returns the datagram length.
    @inlinable public func emit(
        into datagram: UnsafeMutableRawBufferPointer, payloadLength: Int,
        source: IPv4Address, destination: IPv4Address
    ) throws(WireError) -> Int {
        try emit(into: datagram, payloadLength: payloadLength) { total in
            var sum = InternetChecksum()
            sum.addPseudoHeader(source: source, destination: destination, protocol: .udp, length: total)
            return sum
        }
    }

    /// Writes the header in front of `payloadLength` octets already at offset 8, the checksum
    /// starting from `pseudoHeader(total length)` (the IP version's pseudo-header); returns the
    /// datagram length.
    @inlinable func emit(
        into datagram: UnsafeMutableRawBufferPointer, payloadLength: Int, pseudoHeader: (Int) -> InternetChecksum
    ) throws(WireError) -> Int {
        let total = UDPConstants.headerLength + payloadLength
        guard payloadLength >= 0, total <= Int(UInt16.max) else { throw WireError.badLength }
        try datagram.requireSpace(total)
        datagram.setU16(0, sourcePort)
        datagram.setU16(2, destinationPort)
        datagram.setU16(4, UInt16(total))
        datagram.setU16(6, 0)
        var sum = pseudoHeader(total)
        sum.add(UnsafeRawBufferPointer(datagram.slice(0..<total)))
        // RFC 768: "If the computed checksum is zero, it is transmitted as all ones" (and RFC 8200 §8.1
        // for IPv6: "it must be changed to hex FFFF").
        let c = sum.value
        datagram.setU16(6, c == 0 ? 0xFFFF : c)
        return total
    }
}
