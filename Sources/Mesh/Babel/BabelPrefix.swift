// A routed prefix (RFC 8966 §3.2): IPv4 or IPv6, host bits cleared. Held as two UInt64 words, the address's leading
// bits first (an IPv4 address fills the top 32 bits of `high`), so masking and containment are shared by both.

import Wire

/// An IPv4 or IPv6 prefix, normalised (no host bits). Trivial and ordered (family, address, length).
public struct BabelPrefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 4 or 6.
    public let family: UInt8
    public let high: UInt64
    public let low: UInt64
    public let length: UInt8

    /// Nil when the length exceeds the family's address size or the family is not 4 or 6. Host bits are cleared.
    public init?(family: UInt8, high: UInt64, low: UInt64, length: UInt8) {
        guard (family == 4 && length <= 32) || (family == 6 && length <= 128) else { return nil }
        self.family = family; self.length = length
        let (mh, ml) = Self.mask(length)
        self.high = high & mh
        self.low = family == 4 ? 0 : low & ml
    }

    public init(_ network: IPv4Network) {
        self.init(family: 4, high: UInt64(network.address.rawValue) << 32, low: 0, length: UInt8(network.prefixLength))!
    }

    public init(ipv4 address: IPv4Address, length: UInt8) {
        self.init(family: 4, high: UInt64(address.rawValue) << 32, low: 0, length: min(length, 32))!
    }

    /// From address bytes (4 or 16, or fewer: the rest are zero).
    init?(family: UInt8, bytes: some Collection<UInt8>, length: UInt8) {
        var h: UInt64 = 0, l: UInt64 = 0
        var i = 0
        for b in bytes {
            guard i < 16 else { return nil }
            if i < 8 { h |= UInt64(b) << UInt64(56 - 8 * i) } else { l |= UInt64(b) << UInt64(56 - 8 * (i - 8)) }
            i += 1
        }
        self.init(family: family, high: h, low: l, length: length)
    }

    /// A certificate's network as a prefix.
    public init?(_ overlay: OverlayNetwork) {
        self.init(family: overlay.family, bytes: overlay.address, length: overlay.prefixLength)
    }

    static func mask(_ length: UInt8) -> (UInt64, UInt64) {
        let l = Int(length)
        let h: UInt64 = l == 0 ? 0 : l >= 64 ? .max : ~UInt64(0) << UInt64(64 - l)
        let lo: UInt64 = l <= 64 ? 0 : l >= 128 ? .max : ~UInt64(0) << UInt64(128 - l)
        return (h, lo)
    }

    /// Address byte `i` (0-based).
    func byte(_ i: Int) -> UInt8 {
        i < 8 ? UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)) : UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * (i - 8)))
    }

    /// Octets of the prefix on the wire (§4.1.5: only the bytes the length needs).
    var significantBytes: Int { (Int(length) + 7) / 8 }

    /// The IPv4 network address (nil for IPv6).
    public var ipv4: IPv4Address? { family == 4 ? IPv4Address(rawValue: UInt32(truncatingIfNeeded: high >> 32)) : nil }

    /// True when `other` lies inside this prefix (same family, no shorter, same leading bits).
    public func covers(_ other: BabelPrefix) -> Bool {
        guard family == other.family, other.length >= length else { return false }
        let (mh, ml) = Self.mask(length)
        return other.high & mh == high && other.low & ml == low
    }

    /// True when the IPv4 address lies inside this (IPv4) prefix.
    public func contains(_ address: IPv4Address) -> Bool {
        guard family == 4 else { return false }
        let (mh, _) = Self.mask(length)
        return (UInt64(address.rawValue) << 32) & mh == high
    }

    public static func < (a: BabelPrefix, b: BabelPrefix) -> Bool {
        (a.family, a.high, a.low, a.length) < (b.family, b.high, b.low, b.length)
    }

    public var description: String {
        if let v4 = ipv4 { return "\(v4)/\(length)" }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(byte(i)) << 8 | UInt16(byte(i + 1)), radix: 16)) }
        return groups.joined(separator: ":") + "/\(length)"
    }
}
