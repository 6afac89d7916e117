// The 'chaddr' field: 16 octets of client hardware address (RFC 2131 §2, Table 1).

/// The 16-octet 'chaddr' field, held inline in two words (first octet most significant in
/// `high`). For Ethernet ('htype' 1, 'hlen' 6) the MAC address is the first six octets and the
/// other ten are zero.
public struct DHCPHardwareAddress: Hashable, Sendable, CustomStringConvertible {
    /// Octets 0–7.
    public var high: UInt64
    /// Octets 8–15.
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// An Ethernet address in the first six octets, the rest zero.
    @inlinable public init(_ mac: MACAddress) { high = mac.rawValue << 16; low = 0 }

    /// All 16 octets zero.
    public static let zero = DHCPHardwareAddress(high: 0, low: 0)

    /// Reads 16 octets at `offset`. The caller has checked the length.
    @inlinable public init(_ buffer: UnsafeRawBufferPointer, at offset: Int) {
        high = UInt64(buffer.u32(offset)) << 32 | UInt64(buffer.u32(offset + 4))
        low = UInt64(buffer.u32(offset + 8)) << 32 | UInt64(buffer.u32(offset + 12))
    }

    /// Writes 16 octets at `offset`. The caller has checked the length.
    @inlinable public func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.setU32(offset, UInt32(truncatingIfNeeded: high >> 32))
        buffer.setU32(offset + 4, UInt32(truncatingIfNeeded: high))
        buffer.setU32(offset + 8, UInt32(truncatingIfNeeded: low >> 32))
        buffer.setU32(offset + 12, UInt32(truncatingIfNeeded: low))
    }

    /// The first six octets as a MAC address (meaningful when 'htype' is 1 and 'hlen' 6).
    @inlinable public var macPrefix: MACAddress { MACAddress(rawValue: high >> 16) }

    /// Octet `index` (0..<16).
    @inlinable public subscript(index: Int) -> UInt8 {
        let word = index < 8 ? high : low
        return UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (index & 7)))
    }

    /// The first `count` octets (clamped to 0...16), e.g. the 'hlen' octets that identify a client.
    public func prefix(_ count: Int) -> [UInt8] { (0..<max(0, min(count, 16))).map { self[$0] } }

    /// All 16 octets in hex, colon-separated.
    public var description: String {
        let hex = Array("0123456789abcdef")
        var s = ""
        for i in 0..<16 {
            if i > 0 { s.append(":") }
            let b = self[i]
            s.append(hex[Int(b >> 4)]); s.append(hex[Int(b & 0xF)])
        }
        return s
    }
}
