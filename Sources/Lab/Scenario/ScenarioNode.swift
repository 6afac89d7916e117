// Nodes of a scenario: Sluice bridges (configured with the bridge.yml schema) and hosts (a
// simulated IPv4 stack, a network namespace or a QEMU guest, depending on the backend).
import Engine
import Wire

/// A bridge or a host of the topology.
public struct ScenarioNode: Sendable {
    public enum Kind: Sendable {
        /// A Sluice engine; the config uses the bridge.yml schema (docs/config.md).
        case bridge(BridgeConfig)
        case host(HostNode)
    }

    public var name: String
    public var kind: Kind
    public var location: ScenarioLocation

    public init(name: String, kind: Kind, location: ScenarioLocation) {
        self.name = name; self.kind = kind; self.location = location
    }

    /// The bridge config, if this node is a bridge.
    public var bridge: BridgeConfig? { if case .bridge(let c) = kind { return c }; return nil }
    /// The host description, if this node is a host.
    public var host: HostNode? { if case .host(let h) = kind { return h }; return nil }
}

/// A segment of a bridge: where a host's NIC, a link end, a capture or a replay attaches.
public struct BridgeSegment: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The bridge node's name.
    public var bridge: String
    /// One of the bridge's segment names (a router interface name, or "lan").
    public var segment: String

    public init(bridge: String, segment: String) { self.bridge = bridge; self.segment = segment }

    public var description: String { "\(bridge).\(segment)" }
}

/// A host: one Ethernet NIC on one bridge segment.
public struct HostNode: Equatable, Sendable {
    /// The bridge segment the NIC is plugged into (directly, or through a link).
    public var attachment: BridgeSegment
    public var mac: MACAddress
    /// Whether `mac` was written in the file (else it was derived from the node's name).
    public var macIsExplicit: Bool
    public var address: HostAddressing
    /// The NIC's MTU; nil takes the host's default (1500).
    public var mtu: Int?
    /// IPv6 (`ipv6:`); nil: the host speaks no IPv6 and sends none.
    public var ipv6: HostIPv6Addressing?

    public init(attachment: BridgeSegment, mac: MACAddress, macIsExplicit: Bool, address: HostAddressing, mtu: Int? = nil,
                ipv6: HostIPv6Addressing? = nil) {
        self.attachment = attachment; self.mac = mac; self.macIsExplicit = macIsExplicit
        self.address = address; self.mtu = mtu; self.ipv6 = ipv6
    }

    /// A MAC derived from a node's name: QEMU's 52:54:00 prefix (what the qemu backend gives the
    /// guest too) and three bytes of the name's FNV-1a hash. Stable across runs and machines.
    public static func derivedMAC(for name: String) -> MACAddress {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        let low = (hash ^ (hash >> 24) ^ (hash >> 48)) & 0xFF_FFFF
        return MACAddress(rawValue: 0x5254_0000_0000 | low)
    }
}

/// How a host gets its IPv6 addresses. Both form the link-local address (fe80::/64 + the MAC's
/// modified EUI-64 id) with DAD, and send router solicitations.
public enum HostIPv6Addressing: Equatable, Sendable {
    /// Link-local, and SLAAC addresses from router advertisements.
    case auto
    /// Link-local, and this address (after DAD).
    case `static`(IPv6Network)
}

/// How a host gets its address.
public enum HostAddressing: Equatable, Sendable {
    /// No address until a timeline `dhcp` action (the usual case for `address: dhcp`).
    case dhcp
    /// Configured when the run starts.
    case `static`(IPv4Network, gateway: IPv4Address?)
    /// No address at all (a host that only receives replays, say).
    case none
}
