// An address with a prefix length, IPv4 now and IPv6 in the same form: a node's overlay address (10.99.0.5/16 —
// the address and the overlay subnet it sits in), a routable prefix (192.168.7.0/24), or a CA's allowed network.

import Wire

/// An IPv4 or IPv6 address and prefix length. Hashable and ordered by its encoding.
public struct OverlayNetwork: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// 4 or 6.
    public let family: UInt8
    /// The address bytes (4 or 16).
    public let address: [UInt8]
    public let prefixLength: UInt8

    /// Nil unless the family, byte count and prefix length agree.
    public init?(family: UInt8, address: [UInt8], prefixLength: UInt8) {
        switch family {
        case 4: guard address.count == 4, prefixLength <= 32 else { return nil }
        case 6: guard address.count == 16, prefixLength <= 128 else { return nil }
        default: return nil
        }
        self.family = family; self.address = address; self.prefixLength = prefixLength
    }

    public init(_ network: IPv4Network) {
        self.init(family: 4, address: network.address.octets, prefixLength: UInt8(network.prefixLength))!
    }

    /// Parses "a.b.c.d/len" (IPv4; IPv6 text is for a later session — the encoding already carries it).
    public init?(_ text: some StringProtocol) {
        guard let n = IPv4Network(text) else { return nil }
        self.init(n)
    }

    /// The address with every bit past the prefix cleared.
    public var networkAddress: [UInt8] {
        var out = address
        for i in 0..<out.count {
            let bitsHere = max(0, min(8, Int(prefixLength) - i * 8))
            out[i] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
        }
        return out
    }

    /// True when no bit past the prefix is set (a prefix, not an address inside one).
    public var isNetwork: Bool { networkAddress == address }

    /// True when `other` lies inside this network: same family, no shorter prefix, same leading bits.
    public func covers(_ other: OverlayNetwork) -> Bool {
        guard family == other.family, other.prefixLength >= prefixLength else { return false }
        return OverlayNetwork(family: family, address: other.address, prefixLength: prefixLength)!.networkAddress
            == networkAddress
    }

    /// True when the IPv4 address `a` is inside this network.
    public func contains(_ a: IPv4Address) -> Bool {
        covers(OverlayNetwork(family: 4, address: a.octets, prefixLength: 32)!)
    }

    /// The IPv4 address (nil for IPv6).
    public var ipv4: IPv4Address? {
        guard family == 4 else { return nil }
        return IPv4Address(address[0], address[1], address[2], address[3])
    }

    /// The IPv4 address as a number (0 for IPv6).
    var ipv4Raw: UInt32 {
        guard family == 4 else { return 0 }
        return UInt32(address[0]) << 24 | UInt32(address[1]) << 16 | UInt32(address[2]) << 8 | UInt32(address[3])
    }

    /// Encoded form: family, address bytes, prefix length.
    var encoded: [UInt8] { [family] + address + [prefixLength] }

    public static func < (a: OverlayNetwork, b: OverlayNetwork) -> Bool { a.encoded.lexicographicallyPrecedes(b.encoded) }

    public var description: String {
        if family == 4 { return address.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(address[i]) << 8 | UInt16(address[i + 1]), radix: 16)) }
        return groups.joined(separator: ":") + "/\(prefixLength)"
    }
}

/// What a node may do for others.
public struct Capabilities: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Forwards other nodes' sessions along its routes.
    public static let relay = Capabilities(rawValue: 1)
    /// Tells nodes their reflexive addresses and brokers hole punching.
    public static let rendezvous = Capabilities(rawValue: 2)
    /// Every bit this version defines; others are rejected on parse.
    public static let known: Capabilities = [.relay, .rendezvous]

    /// Parses "relay,rendezvous" (empty text: none); nil on an unknown name.
    public init?(names: String) {
        var c: Capabilities = []
        for name in names.split(separator: ",").map({ $0.trimmingCharacters() }) where !name.isEmpty {
            switch name {
            case "relay": c.insert(.relay)
            case "rendezvous": c.insert(.rendezvous)
            default: return nil
            }
        }
        self = c
    }

    public var names: [String] {
        var out: [String] = []
        if contains(.relay) { out.append("relay") }
        if contains(.rendezvous) { out.append("rendezvous") }
        return out
    }
    public var description: String { names.isEmpty ? "none" : names.joined(separator: ",") }
}

extension StringProtocol {
    /// The text without leading and trailing spaces.
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
