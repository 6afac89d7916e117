// UDP (RFC 768) and TCP (RFC 9293) carried by IPv6: the same headers, with the checksum taken
// over the IPv6 pseudo-header (RFC 8200 §8.1) instead of IPv4's.

extension UDPHeader {
    /// Parses the datagram at the start of `datagram` sent over IPv6 from `source` to
    /// `destination` (the final destination, with a Routing header). Unlike over IPv4 the
    /// checksum is mandatory: RFC 8200 §8.1, "IPv6 receivers must discard UDP packets containing
    /// a zero checksum". The length field must fit the buffer; bytes past it are ignored.
    @inlinable public init(parsing datagram: UnsafeRawBufferPointer, source: IPv6Address, destination: IPv6Address) throws(WireError) {
        try self.init(parsingFieldsOf: datagram)
        guard checksum != 0 else { throw WireError.malformed("UDP over IPv6 without a checksum") }
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, nextHeader: .udp, length: Int(length))
        try verifyChecksum(of: datagram, startingWith: sum)
    }

    /// Writes header and `payload` (copied; it may overlap `datagram`) for IPv6, with the length
    /// and the checksum; returns the datagram length.
    @inlinable public func emit(
        into datagram: UnsafeMutableRawBufferPointer, payload: UnsafeRawBufferPointer,
        source: IPv6Address, destination: IPv6Address
    ) throws(WireError) -> Int {
        try datagram.requireSpace(UDPConstants.headerLength + payload.count)
        datagram.copyBytes(payload, at: UDPConstants.headerLength)
        return try emit(into: datagram, payloadLength: payload.count, source: source, destination: destination)
    }

    /// Writes the header in front of `payloadLength` octets already at offset 8, for IPv6;
    /// returns the datagram length.
    @inlinable public func emit(
        into datagram: UnsafeMutableRawBufferPointer, payloadLength: Int,
        source: IPv6Address, destination: IPv6Address
    ) throws(WireError) -> Int {
        try emit(into: datagram, payloadLength: payloadLength) { total in
            var sum = InternetChecksum()
            sum.addPseudoHeader(source: source, destination: destination, nextHeader: .udp, length: total)
            return sum
        }
    }
}

extension TCPHeader {
    /// Parses the segment that fills `segment` (the whole upper-layer payload) sent over IPv6,
    /// verifying the checksum over the IPv6 pseudo-header, header and data.
    @inlinable public init(parsing segment: UnsafeRawBufferPointer, source: IPv6Address, destination: IPv6Address) throws(WireError) {
        try segment.require(TCPConstants.minimumHeaderLength)
        let offset = Int(segment.u8(12) >> 4) * 4
        guard offset >= TCPConstants.minimumHeaderLength else { throw WireError.badLength }
        try segment.require(offset)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, nextHeader: .tcp, length: segment.count)
        sum.add(segment)
        guard sum.value == 0 else { throw WireError.badChecksum }
        self.init(sourcePort: segment.u16(0), destinationPort: segment.u16(2), sequenceNumber: segment.u32(4),
                  acknowledgmentNumber: segment.u32(8), flags: TCPFlags(rawValue: segment.u8(13)),
                  window: segment.u16(14), urgentPointer: segment.u16(18),
                  options: HeaderOptions(copying: segment.slice(TCPConstants.minimumHeaderLength..<offset)))
        checksum = segment.u16(16)
    }

    /// Writes the header in front of `payloadLength` octets already at `headerLength`, with the
    /// checksum over the IPv6 pseudo-header; returns the segment length.
    @inlinable public func emit(
        into segment: UnsafeMutableRawBufferPointer, payloadLength: Int,
        source: IPv6Address, destination: IPv6Address
    ) throws(WireError) -> Int {
        guard payloadLength >= 0 else { throw WireError.badLength }
        // The IPv4 emitter writes every field; its pseudo-header sum is then replaced by ours.
        // Unspecified addresses make the IPv4 pseudo-header contribute only protocol and length,
        // which the checksum is recomputed without, so nothing of it survives.
        let total = try emit(into: segment, payloadLength: payloadLength, source: IPv4Address.any, destination: IPv4Address.any)
        segment.setU16(16, 0)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, nextHeader: .tcp, length: total)
        sum.add(UnsafeRawBufferPointer(segment.slice(0..<total)))
        segment.setU16(16, sum.value)
        return total
    }

    /// Writes header and `payload` (copied; it may overlap `segment`) for IPv6; returns the segment length.
    @inlinable public func emit(
        into segment: UnsafeMutableRawBufferPointer, payload: UnsafeRawBufferPointer,
        source: IPv6Address, destination: IPv6Address
    ) throws(WireError) -> Int {
        try segment.requireSpace(headerLength + payload.count)
        segment.copyBytes(payload, at: headerLength)
        return try emit(into: segment, payloadLength: payload.count, source: source, destination: destination)
    }
}
