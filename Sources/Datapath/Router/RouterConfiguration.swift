// What a router is told at start: its interfaces, its routes, and the knobs of ARP and ICMP.
import Basics
import Wire

/// What an interface's link is, and so what the router hands over and takes there (see
/// docs/architecture.md, "Interface media").
public enum InterfaceMedium: Hashable, Sendable {
    /// Ethernet II frames to and from `mac`; neighbors are found with ARP (segments, a TAP uplink).
    case ethernet(mac: MACAddress)
    /// Bare IP packets to and from the one other end of the link (a WireGuard or UDP tunnel): no
    /// link-layer addresses and no ARP; every next hop on the interface is that other end.
    case pointToPoint
}

/// One routed interface: its medium, its address and prefix ("10.0.0.1/24"), and its MTU.
public struct RouterInterface: Hashable, Sendable {
    public var medium: InterfaceMedium
    /// The interface's own address with the prefix of its connected network. On a point-to-point
    /// interface the prefix may be /31 (RFC 3021) or /32 (no connected network but the address).
    public var network: IPv4Network
    /// Largest IP datagram (header included) sent on this interface.
    public var mtu: Int

    /// An Ethernet interface with MAC address `mac`.
    public init(mac: MACAddress, network: IPv4Network, mtu: Int = 1500) {
        self.init(medium: .ethernet(mac: mac), network: network, mtu: mtu)
    }

    public init(medium: InterfaceMedium, network: IPv4Network, mtu: Int = 1500) {
        self.medium = medium; self.network = network; self.mtu = mtu
    }

    /// A point-to-point interface.
    public static func pointToPoint(network: IPv4Network, mtu: Int = 1500) -> RouterInterface {
        RouterInterface(medium: .pointToPoint, network: network, mtu: mtu)
    }

    /// The interface's own IPv4 address.
    @inlinable public var address: IPv4Address { network.address }

    /// The MAC address of an Ethernet interface; nil on a point-to-point one.
    @inlinable public var mac: MACAddress? {
        if case .ethernet(let mac) = medium { return mac }
        return nil
    }

    @inlinable public var isPointToPoint: Bool { medium == .pointToPoint }

    /// The connected network's broadcast address; nil for /31 and /32, which have none (RFC 3021).
    @inlinable public var broadcastAddress: IPv4Address? {
        network.prefixLength <= 30 ? network.broadcastAddress : nil
    }
}

/// Where a static route sends its datagrams.
public enum RouteNextHop: Hashable, Sendable, CustomStringConvertible {
    /// A neighbor on a connected network (found with ARP on Ethernet).
    case gateway(IPv4Address)
    /// Out of a point-to-point interface (by index): its other end is the next hop, whatever the
    /// destination. (A point-to-multipoint medium would pick the peer by destination here.)
    case interface(Int)

    public var description: String {
        switch self {
        case .gateway(let a): "\(a)"
        case .interface(let i): "interface \(i)"
        }
    }
}

/// A static route: datagrams for `destination` go to `nextHop`.
public struct StaticRoute: Hashable, Sendable {
    public var destination: IPv4Network
    public var nextHop: RouteNextHop
    /// Via `gateway`, which must lie on a connected network.
    public init(destination: IPv4Network, gateway: IPv4Address) {
        self.destination = destination; self.nextHop = .gateway(gateway)
    }
    /// Straight out of point-to-point interface `interface`.
    public init(destination: IPv4Network, interface: Int) {
        self.destination = destination; self.nextHop = .interface(interface)
    }
    /// The gateway of a route via one.
    public var gateway: IPv4Address? {
        if case .gateway(let g) = nextHop { return g }
        return nil
    }
}

/// ARP resolver settings (RFC 826; RFC 1122 §2.3.2.1 asks for retransmission limits and cache timeouts).
public struct ARPConfiguration: Hashable, Sendable {
    /// Requests sent before giving up on a neighbor (RFC 1122 §2.3.2.1: "at most one per second").
    public var attempts: Int = 3
    /// Time between requests.
    public var retryInterval: Duration = .seconds(1)
    /// How long a learned entry stays valid.
    public var cacheLifetime: Duration = .seconds(120)
    /// Most neighbors remembered; the soonest to expire is evicted first.
    public var cacheCapacity: Int = 1024
    /// Most neighbors being resolved at once.
    public var maxPendingResolutions: Int = 64
    /// Packets held per unresolved neighbor; when full the oldest is dropped (RFC 1122
    /// §2.3.2.2: "SHOULD save ... at least one (the latest) packet").
    public var queuePerDestination: Int = 4
    /// Packets held in all, for all unresolved neighbors.
    public var queueTotal: Int = 64
    public init() {}
}

/// Everything a `Router` needs at start.
public struct RouterConfiguration: Hashable, Sendable {
    public var interfaces: [RouterInterface]
    public var staticRoutes: [StaticRoute] = []
    /// Gateway of the default route (0.0.0.0/0), if any.
    public var defaultGateway: IPv4Address? = nil
    public var arp = ARPConfiguration()
    /// ICMP error rate limit (RFC 1812 §4.3.2.8): a token bucket refilled at this rate...
    public var icmpErrorsPerSecond: Int = 100
    /// ...holding at most this many tokens.
    public var icmpErrorBurst: Int = 50
    /// UDP ports handed to `RouterOutput.deliver` (the DHCP server's 67 by default); datagrams to
    /// other ports of the router get ICMP port unreachable.
    public var localUDPPorts: [UInt16] = [UDPConstants.bootpServerPort]

    public init(interfaces: [RouterInterface]) { self.interfaces = interfaces }
}

/// Why a configuration was refused.
public enum RouterConfigurationError: Error, Equatable, Sendable {
    case noInterfaces
    case badInterface(index: Int, reason: String)
    case duplicateAddress(IPv4Address)
    case gatewayNotOnConnectedNetwork(IPv4Address)
    /// A route names an interface that does not exist or is not point-to-point.
    case routeInterfaceNotPointToPoint(Int)
    case badLimit(String)
}

extension RouterConfiguration {
    /// Checks the configuration; throws the first problem found.
    public func validate() throws(RouterConfigurationError) {
        guard !interfaces.isEmpty else { throw .noInterfaces }
        for (i, interface) in interfaces.enumerated() {
            let prefix = interface.network.prefixLength
            switch interface.medium {
            case .ethernet(let mac):
                guard mac.isUnicast, mac != .zero else { throw .badInterface(index: i, reason: "MAC must be unicast") }
                guard (1...30).contains(prefix) else { throw .badInterface(index: i, reason: "prefix length must be 1...30") }
            case .pointToPoint:
                guard (1...32).contains(prefix) else { throw .badInterface(index: i, reason: "prefix length must be 1...32") }
            }
            let a = interface.address
            // /31 and /32 have no network or broadcast address: both (the one) are hosts (RFC 3021).
            let hostPart = prefix <= 30 ? (a != interface.network.networkAddress && a != interface.network.broadcastAddress) : true
            guard hostPart, !a.isUnspecified, !a.isLimitedBroadcast, !a.isMulticast, !a.isLoopback else {
                throw .badInterface(index: i, reason: "address \(a) is not a host address")
            }
            // RFC 791 §3.2: every internet module must handle 68-octet datagrams unfragmented.
            guard interface.mtu >= IPv4Constants.minimumMTU, interface.mtu <= 65535 else {
                throw .badInterface(index: i, reason: "MTU must be 68...65535")
            }
            if interfaces[..<i].contains(where: { $0.address == a }) { throw .duplicateAddress(a) }
        }
        for hop in staticRoutes.map(\.nextHop) + (defaultGateway.map { [RouteNextHop.gateway($0)] } ?? []) {
            switch hop {
            case .gateway(let gateway):
                guard interfaces.contains(where: { $0.network.contains(gateway) && $0.address != gateway }) else {
                    throw .gatewayNotOnConnectedNetwork(gateway)
                }
            case .interface(let i):
                guard interfaces.indices.contains(i), interfaces[i].isPointToPoint else { throw .routeInterfaceNotPointToPoint(i) }
            }
        }
        guard arp.attempts >= 1, arp.retryInterval > .zero, arp.cacheLifetime > .zero, arp.cacheCapacity >= 1,
              arp.maxPendingResolutions >= 1, arp.queuePerDestination >= 1, arp.queueTotal >= 1 else {
            throw .badLimit("ARP limits must be positive")
        }
        guard (1...1_000_000).contains(icmpErrorsPerSecond), (1...1_000_000).contains(icmpErrorBurst) else {
            throw .badLimit("ICMP rate limit and burst must be 1...1000000")
        }
    }
}
