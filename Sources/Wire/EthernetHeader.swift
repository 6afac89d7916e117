// Ethernet II (DIX) header with an optional IEEE 802.1Q tag.
//
//   destination(6) source(6) [0x8100 TCI(2)] EtherType(2)  — 14 bytes, or 18 with a tag.
// The frame check sequence is not present: devices hand us frames without it.

/// An EtherType (IEEE 802.3 clause 3.2.6; IANA/IEEE registry). Values of 1500 and below are an
/// IEEE 802.3 length field rather than a type.
public struct EtherType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ipv4 = EtherType(rawValue: 0x0800)
    public static let arp = EtherType(rawValue: 0x0806)
    /// IEEE 802.1Q customer VLAN tag (TPID).
    public static let vlan = EtherType(rawValue: 0x8100)
    /// IEEE 802.1ad service VLAN tag (QinQ outer TPID).
    public static let serviceVLAN = EtherType(rawValue: 0x88A8)
    public static let ipv6 = EtherType(rawValue: 0x86DD)

    /// "values ≤ 1500 (0x05DC) are a length" (IEEE 802.3 clause 3.2.6): not an Ethernet II type.
    @inlinable public var isLengthField: Bool { rawValue <= 1500 }

    public var description: String {
        let hex = String(rawValue, radix: 16)
        return "0x" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}

/// The 16-bit Tag Control Information of an IEEE 802.1Q tag: priority (PCP), drop eligible (DEI), VLAN id.
public struct VLANTag: Hashable, Sendable {
    /// Priority Code Point, 0...7.
    public var priority: UInt8
    /// Drop Eligible Indicator.
    public var dropEligible: Bool
    /// VLAN identifier, 0...4095 (0 = priority tag only, 4095 reserved).
    public var identifier: UInt16

    @inlinable public init(priority: UInt8 = 0, dropEligible: Bool = false, identifier: UInt16) {
        self.priority = priority & 0x7; self.dropEligible = dropEligible; self.identifier = identifier & 0x0FFF
    }
    @inlinable public init(tci: UInt16) {
        self.init(priority: UInt8(tci >> 13), dropEligible: tci & 0x1000 != 0, identifier: tci & 0x0FFF)
    }
    @inlinable public var tci: UInt16 {
        UInt16(priority & 0x7) << 13 | (dropEligible ? 0x1000 : 0) | (identifier & 0x0FFF)
    }
}

/// An Ethernet II header, with the 802.1Q tag parsed when present.
public struct EthernetHeader: Hashable, Sendable {
    public var destination: MACAddress
    public var source: MACAddress
    /// The 802.1Q tag, if the frame carries one (TPID 0x8100).
    public var vlan: VLANTag?
    /// The type of the payload (after the tag, if any).
    public var etherType: EtherType

    /// Untagged header length.
    public static let untaggedLength = 14
    /// Header length with one 802.1Q tag.
    public static let taggedLength = 18
    /// Smallest frame (without FCS) a wired Ethernet sends; shorter frames are padded (IEEE 802.3 §4.2.3.3).
    public static let minimumFrameLength = 60

    @inlinable public init(destination: MACAddress, source: MACAddress, vlan: VLANTag? = nil, etherType: EtherType) {
        self.destination = destination; self.source = source; self.vlan = vlan; self.etherType = etherType
    }

    /// Bytes this header occupies: 14, or 18 with a tag. The payload starts here.
    @inlinable public var headerLength: Int { vlan == nil ? Self.untaggedLength : Self.taggedLength }

    /// Parses the header at the start of `frame`. The payload is `frame.slice(from: headerLength)`.
    @inlinable public init(parsing frame: UnsafeRawBufferPointer) throws(WireError) {
        try frame.require(Self.untaggedLength)
        destination = MACAddress(frame, at: 0)
        source = MACAddress(frame, at: 6)
        let type = frame.u16(12)
        if type == EtherType.vlan.rawValue {
            try frame.require(Self.taggedLength)
            vlan = VLANTag(tci: frame.u16(14))
            etherType = EtherType(rawValue: frame.u16(16))
        } else {
            vlan = nil
            etherType = EtherType(rawValue: type)
        }
    }

    /// Writes the header; returns its length (14 or 18).
    @inlinable public func emit(into frame: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let length = headerLength
        try frame.requireSpace(length)
        destination.write(to: frame, at: 0)
        source.write(to: frame, at: 6)
        if let vlan {
            frame.setU16(12, EtherType.vlan.rawValue)
            frame.setU16(14, vlan.tci)
            frame.setU16(16, etherType.rawValue)
        } else {
            frame.setU16(12, etherType.rawValue)
        }
        return length
    }

    /// Hot path: overwrites the destination and source addresses of a frame in place (router
    /// forwarding). The frame must hold at least 12 bytes.
    @inlinable public static func rewriteAddresses(
        in frame: UnsafeMutableRawBufferPointer, source: MACAddress, destination: MACAddress
    ) {
        destination.write(to: frame, at: 0)
        source.write(to: frame, at: 6)
    }
}
