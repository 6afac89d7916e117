// IPv4 addresses and networks (RFC 791, RFC 4632), held as host-order UInt32.

public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }
    /// Reads four octets at `offset`. The caller has checked the length.
    @inlinable public init(_ buffer: UnsafeRawBufferPointer, at offset: Int) { rawValue = buffer.u32(offset) }

    /// Parses dotted-quad "10.0.0.1" (exactly four decimal octets, no leading '+').
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), p.allSatisfy(\.isNumber),
                  let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        rawValue = v
    }

    @inlinable public func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.setU32(offset, rawValue)
    }

    public static let any = IPv4Address(rawValue: 0)
    public static let broadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

    @inlinable public var isMulticast: Bool { rawValue >> 28 == 0xE }
    @inlinable public var isLimitedBroadcast: Bool { rawValue == 0xFFFF_FFFF }
    @inlinable public var isLoopback: Bool { rawValue >> 24 == 127 }
    @inlinable public var isUnspecified: Bool { rawValue == 0 }

    @inlinable public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.rawValue < b.rawValue }

    public var octets: [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: rawValue >> $0) } }
    public var description: String { octets.map(String.init).joined(separator: ".") }
}

/// An address with a prefix length: "10.0.0.1/24" is interface 10.0.0.1 on network 10.0.0.0/24.
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    /// The address as written (for an interface, its own address; not necessarily the network address).
    public var address: IPv4Address
    public var prefixLength: Int

    public init?(address: IPv4Address, prefixLength: Int) {
        guard (0...32).contains(prefixLength) else { return nil }
        self.address = address; self.prefixLength = prefixLength
    }

    /// Parses "10.0.0.1/24"; a bare address means /32.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let a = IPv4Address(parts[0]) else { return nil }
        var length = 32
        if parts.count == 2 {
            guard parts[1].count <= 2, parts[1].allSatisfy(\.isNumber), let l = Int(parts[1]), (0...32).contains(l) else { return nil }
            length = l
        }
        self.init(address: a, prefixLength: length)
    }

    @inlinable public var mask: UInt32 { prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength) }
    public var netmask: IPv4Address { IPv4Address(rawValue: mask) }
    public var networkAddress: IPv4Address { IPv4Address(rawValue: address.rawValue & mask) }
    public var broadcastAddress: IPv4Address { IPv4Address(rawValue: address.rawValue | ~mask) }

    @inlinable public func contains(_ a: IPv4Address) -> Bool { (a.rawValue ^ address.rawValue) & mask == 0 }

    public var description: String { "\(address)/\(prefixLength)" }
}
