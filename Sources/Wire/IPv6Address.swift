// IPv6 addresses and prefixes (RFC 4291), held as two host-order UInt64 halves; text per RFC 4291
// §2.2 (parsing) and RFC 5952 (the one canonical form we print); the multicast groups and
// interface identifiers that neighbour discovery and SLAAC need (RFC 4291 §2.5.1 and App. A,
// RFC 4861 §2.3, RFC 2464 §7, RFC 4862 §5.3).

public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Bits 0–63 (the first eight octets; the routing prefix of a /64).
    public var high: UInt64
    /// Bits 64–127 (the interface identifier of a /64).
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// Eight 16-bit groups, first group most significant: `IPv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)`.
    @inlinable public init(_ g0: UInt16, _ g1: UInt16, _ g2: UInt16, _ g3: UInt16,
                           _ g4: UInt16, _ g5: UInt16, _ g6: UInt16, _ g7: UInt16) {
        high = UInt64(g0) << 48 | UInt64(g1) << 32 | UInt64(g2) << 16 | UInt64(g3)
        low = UInt64(g4) << 48 | UInt64(g5) << 32 | UInt64(g6) << 16 | UInt64(g7)
    }

    /// Reads sixteen octets at `offset`. The caller has checked the length.
    @inlinable public init(_ buffer: UnsafeRawBufferPointer, at offset: Int) {
        high = UInt64(buffer.u32(offset)) << 32 | UInt64(buffer.u32(offset + 4))
        low = UInt64(buffer.u32(offset + 8)) << 32 | UInt64(buffer.u32(offset + 12))
    }

    /// Sixteen octets in network order; nil unless there are exactly sixteen.
    public init?(octets: some Collection<UInt8>) {
        guard octets.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in octets.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        high = h; low = l
    }

    /// Writes sixteen octets at `offset`. The caller has checked the length.
    @inlinable public func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.setU32(offset, UInt32(truncatingIfNeeded: high >> 32))
        buffer.setU32(offset + 4, UInt32(truncatingIfNeeded: high))
        buffer.setU32(offset + 8, UInt32(truncatingIfNeeded: low >> 32))
        buffer.setU32(offset + 12, UInt32(truncatingIfNeeded: low))
    }

    /// The sixteen octets in network order (allocates; for tests, options and diagnostics).
    public var octets: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> UInt64(56 - 8 * (i % 8))) }
    }

    /// Group `index` (0...7) of the eight 16-bit groups.
    @inlinable public func group(_ index: Int) -> UInt16 {
        let half = index < 4 ? high : low
        return UInt16(truncatingIfNeeded: half >> UInt64(48 - 16 * (index & 3)))
    }

    // MARK: Well-known addresses

    /// "::" (RFC 4291 §2.5.2).
    public static let unspecified = IPv6Address(high: 0, low: 0)
    /// "::1" (RFC 4291 §2.5.3).
    public static let loopback = IPv6Address(high: 0, low: 1)
    /// ff02::1, all nodes on the link (RFC 4291 §2.7.1).
    public static let allNodes = IPv6Address(0xFF02, 0, 0, 0, 0, 0, 0, 1)
    /// ff02::2, all routers on the link (RFC 4291 §2.7.1).
    public static let allRouters = IPv6Address(0xFF02, 0, 0, 0, 0, 0, 0, 2)
    /// ff02::16, all MLDv2-capable routers (RFC 3810 §11).
    public static let allMLDv2Routers = IPv6Address(0xFF02, 0, 0, 0, 0, 0, 0, 0x16)
    /// ff02::1:2, All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
    public static let allDHCPRelayAgentsAndServers = IPv6Address(0xFF02, 0, 0, 0, 0, 0, 1, 2)

    // MARK: Classification

    @inlinable public var isUnspecified: Bool { high == 0 && low == 0 }
    @inlinable public var isLoopback: Bool { high == 0 && low == 1 }
    /// ff00::/8 (RFC 4291 §2.7).
    @inlinable public var isMulticast: Bool { high >> 56 == 0xFF }
    /// fe80::/10 (RFC 4291 §2.5.6).
    @inlinable public var isLinkLocal: Bool { high >> 54 == 0xFE80 >> 6 }
    /// fc00::/7, unique local (RFC 4193).
    @inlinable public var isUniqueLocal: Bool { high >> 57 == 0xFC >> 1 }
    /// ::ffff:0:0/96, an IPv4-mapped address (RFC 4291 §2.5.5.2).
    @inlinable public var isIPv4Mapped: Bool { high == 0 && low >> 32 == 0xFFFF }
    /// The scope of a multicast address (RFC 4291 §2.7: 1 interface-local, 2 link-local, 5
    /// site-local, 8 organization-local, 0xE global), or nil for a unicast address.
    @inlinable public var multicastScope: UInt8? { isMulticast ? UInt8(truncatingIfNeeded: high >> 48) & 0xF : nil }
    /// ff02::1:ff00:0/104 (RFC 4291 §2.7.1).
    @inlinable public var isSolicitedNodeMulticast: Bool {
        high == 0xFF02_0000_0000_0000 && low >> 24 == 0x0000_0001_FF
    }

    /// The IPv4 address inside an IPv4-mapped address, or nil.
    public var mappedIPv4: IPv4Address? { isIPv4Mapped ? IPv4Address(rawValue: UInt32(truncatingIfNeeded: low)) : nil }
    /// ::ffff:a.b.c.d for `address` (RFC 4291 §2.5.5.2).
    public init(ipv4Mapped address: IPv4Address) { high = 0; low = 0xFFFF_0000_0000 | UInt64(address.rawValue) }

    // MARK: Neighbour discovery helpers

    /// The solicited-node multicast address ff02::1:ffXX:XXXX of this address: the prefix
    /// ff02:0:0:0:0:1:ff00::/104 and the low 24 bits (RFC 4291 §2.7.1).
    @inlinable public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(high: 0xFF02_0000_0000_0000, low: 0x0000_0001_FF00_0000 | (low & 0xFF_FFFF))
    }

    /// The Ethernet destination of a packet sent to this multicast address: 33:33 and the last
    /// four octets (RFC 2464 §7). Meaningful only for multicast addresses.
    @inlinable public var multicastMAC: MACAddress {
        MACAddress(rawValue: 0x3333_0000_0000 | (low & 0xFFFF_FFFF))
    }

    /// The modified EUI-64 interface identifier of a MAC-48 address: ff:fe inserted in the middle
    /// and the universal/local bit inverted (RFC 4291 App. A, RFC 2464 §4).
    @inlinable public static func interfaceIdentifier(eui48 mac: MACAddress) -> UInt64 {
        let m = mac.rawValue
        let id = (m >> 24) << 40 | 0xFF_FE00_0000 | (m & 0xFF_FFFF)
        return id ^ 0x0200_0000_0000_0000
    }

    /// The link-local address fe80::/64 + modified EUI-64 of `mac` (RFC 4862 §5.3, RFC 2464 §5).
    @inlinable public static func linkLocal(mac: MACAddress) -> IPv6Address {
        IPv6Address(high: 0xFE80_0000_0000_0000, low: interfaceIdentifier(eui48: mac))
    }

    @inlinable public static func < (a: IPv6Address, b: IPv6Address) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    // MARK: Text

    /// The most characters a textual IPv6 address can take
    /// ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255").
    public static let maximumTextLength = 45

    /// Parses the text forms of RFC 4291 §2.2: eight groups of one to four hex digits, one "::"
    /// standing for one or more zero groups, and an optional dotted-quad IPv4 tail in place of the
    /// last two groups. Zone indices ("%eth0") and prefixes are not part of an address: nil.
    public init?(_ text: some StringProtocol) {
        let chars = Array(text.utf8)
        guard chars.count >= 2, chars.count <= Self.maximumTextLength else { return nil }
        var head: [UInt16] = []          // groups before "::" (or all of them, without one)
        var tail: [UInt16] = []          // groups after "::"
        var sawDoubleColon = false
        var i = 0
        if chars[0] == UInt8(ascii: ":") {
            guard chars[1] == UInt8(ascii: ":") else { return nil }
            sawDoubleColon = true
            i = 2
        }
        while i < chars.count {
            // One group (or the IPv4 tail), then ':' or "::" or the end.
            var j = i
            while j < chars.count, chars[j] != UInt8(ascii: ":") { j += 1 }
            let field = chars[i..<j]
            guard !field.isEmpty else { return nil }
            if field.contains(UInt8(ascii: ".")) {
                // RFC 4291 §2.2 (3): only as the last field.
                guard j == chars.count, let v4 = IPv4Address(String(decoding: field, as: UTF8.self)) else { return nil }
                let pair = [UInt16(truncatingIfNeeded: v4.rawValue >> 16), UInt16(truncatingIfNeeded: v4.rawValue)]
                if sawDoubleColon { tail += pair } else { head += pair }
                i = j
                break
            }
            guard field.count <= 4 else { return nil }
            var v: UInt16 = 0
            for c in field {
                guard let d = Self.hexValue(c) else { return nil }
                v = v << 4 | UInt16(d)
            }
            if sawDoubleColon { tail.append(v) } else { head.append(v) }
            guard head.count + tail.count <= 8 else { return nil }
            if j == chars.count { i = j; break }
            // chars[j] == ':'
            if j + 1 < chars.count, chars[j + 1] == UInt8(ascii: ":") {
                guard !sawDoubleColon else { return nil }
                sawDoubleColon = true
                i = j + 2
            } else {
                guard j + 1 < chars.count else { return nil }     // a trailing single ':'
                i = j + 1
            }
        }
        let count = head.count + tail.count
        if sawDoubleColon {
            // "::" stands for at least one group of zeros.
            guard count <= 7 else { return nil }
        } else {
            guard count == 8 else { return nil }
        }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        self.init(groups[0], groups[1], groups[2], groups[3], groups[4], groups[5], groups[6], groups[7])
    }

    @usableFromInline static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The RFC 5952 text: lowercase hex without leading zeros (§4.1, §4.3); the longest run of two
    /// or more zero groups, the first of equal runs, shortened to "::" (§4.2); IPv4-mapped
    /// addresses with a dotted-quad tail (§5).
    public var description: String {
        if let v4 = mappedIPv4 { return "::ffff:" + v4.description }
        let groups = (0..<8).map(group)
        var bestStart = -1, bestLength = 0
        var runStart = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                let length = i - runStart
                // §4.2.2: "The symbol '::' MUST NOT be used to shorten just one 16-bit 0 field."
                // §4.2.3: the longest run; the first of equal runs.
                if length >= 2, length > bestLength { bestStart = runStart; bestLength = length }
                runStart = -1
            }
        }
        var s = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                s += "::"
                i += bestLength
                continue
            }
            if !s.isEmpty, !s.hasSuffix(":") { s += ":" }
            s += String(groups[i], radix: 16)
            i += 1
        }
        return s
    }
}

/// An address with a prefix length: "2001:db8::1/64" is interface 2001:db8::1 on 2001:db8::/64.
public struct IPv6Network: Hashable, Sendable, CustomStringConvertible {
    /// The address as written (for an interface, its own address; not necessarily the prefix).
    public var address: IPv6Address
    public var prefixLength: Int

    public init?(address: IPv6Address, prefixLength: Int) {
        guard (0...128).contains(prefixLength) else { return nil }
        self.address = address; self.prefixLength = prefixLength
    }

    /// Parses "2001:db8::1/64"; a bare address means /128. Prefix lengths are decimal 0...128
    /// without leading zeros beyond "0" itself.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let a = IPv6Address(parts[0]) else { return nil }
        var length = 128
        if parts.count == 2 {
            let p = parts[1]
            guard !p.isEmpty, p.count <= 3, p.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  p.count == 1 || p.first != "0", let l = Int(p), (0...128).contains(l) else { return nil }
            length = l
        }
        self.init(address: a, prefixLength: length)
    }

    /// The mask as two halves.
    @inlinable public var mask: (high: UInt64, low: UInt64) {
        let h: UInt64 = prefixLength >= 64 ? ~0 : (prefixLength <= 0 ? 0 : ~UInt64(0) << UInt64(64 - prefixLength))
        let l: UInt64 = prefixLength <= 64 ? 0 : (prefixLength >= 128 ? ~0 : ~UInt64(0) << UInt64(128 - prefixLength))
        return (h, l)
    }

    /// The address with the host bits cleared.
    @inlinable public var prefix: IPv6Address {
        let m = mask
        return IPv6Address(high: address.high & m.high, low: address.low & m.low)
    }

    @inlinable public func contains(_ a: IPv6Address) -> Bool {
        let m = mask
        return (a.high ^ address.high) & m.high == 0 && (a.low ^ address.low) & m.low == 0
    }

    /// The address made of this /64 prefix and `interfaceIdentifier` (RFC 4862 §5.5.3 (d): SLAAC
    /// needs a 64-bit interface identifier, so other prefix lengths give nil).
    @inlinable public func address(interfaceIdentifier: UInt64) -> IPv6Address? {
        guard prefixLength == 64 else { return nil }
        return IPv6Address(high: address.high, low: interfaceIdentifier)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
