// IEEE 802 MAC-48 address, held in the low 48 bits of a UInt64 (first octet most significant).

public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    @inlinable public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        rawValue = UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24 | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5)
    }

    /// Reads six octets at `offset`. The caller has checked the length.
    @inlinable public init(_ buffer: UnsafeRawBufferPointer, at offset: Int) {
        rawValue = UInt64(buffer.u16(offset)) << 32 | UInt64(buffer.u32(offset + 2))
    }

    /// Parses "02:00:00:00:00:01" (also accepts '-' separators).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(b)
        }
        rawValue = v
    }

    /// Writes six octets at `offset`. The caller has checked the length.
    @inlinable public func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.setU16(offset, UInt16(truncatingIfNeeded: rawValue >> 32))
        buffer.setU32(offset + 2, UInt32(truncatingIfNeeded: rawValue))
    }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(rawValue: 0)

    /// Group bit (I/G) of the first octet: broadcast and multicast.
    @inlinable public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }
    @inlinable public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }
    @inlinable public var isUnicast: Bool { !isMulticast }
    /// Locally administered (U/L) bit.
    @inlinable public var isLocallyAdministered: Bool { rawValue & 0x0200_0000_0000 != 0 }

    @inlinable public static func < (a: MACAddress, b: MACAddress) -> Bool { a.rawValue < b.rawValue }

    public var octets: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64($0))) } }

    public var description: String {
        let hex = Array("0123456789abcdef")
        var s = ""
        for (i, b) in octets.enumerated() {
            if i > 0 { s.append(":") }
            s.append(hex[Int(b >> 4)]); s.append(hex[Int(b & 0xF)])
        }
        return s
    }
}
