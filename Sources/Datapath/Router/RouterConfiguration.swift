// What a router is told at start: its interfaces, its routes, and the knobs of ARP and ICMP.
import Basics
import Wire

/// One routed interface: its MAC address, its address and prefix ("10.0.0.1/24"), and its MTU.
public struct RouterInterface: Hashable, Sendable {
    public var mac: MACAddress
    /// The interface's own address with the prefix of its connected network.
    public var network: IPv4Network
    /// Largest IP datagram (header included) sent on this interface.
    public var mtu: Int

    public init(mac: MACAddress, network: IPv4Network, mtu: Int = 1500) {
        self.mac = mac; self.network = network; self.mtu = mtu
    }

    /// The interface's own IPv4 address.
    @inlinable public var address: IPv4Address { network.address }
}

/// A static route: datagrams for `destination` go to `gateway`, which must lie on a connected network.
public struct StaticRoute: Hashable, Sendable {
    public var destination: IPv4Network
    public var gateway: IPv4Address
    public init(destination: IPv4Network, gateway: IPv4Address) {
        self.destination = destination; self.gateway = gateway
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
    case badLimit(String)
}

extension RouterConfiguration {
    /// Checks the configuration; throws the first problem found.
    public func validate() throws(RouterConfigurationError) {
        guard !interfaces.isEmpty else { throw .noInterfaces }
        for (i, interface) in interfaces.enumerated() {
            guard interface.mac.isUnicast, interface.mac != .zero else { throw .badInterface(index: i, reason: "MAC must be unicast") }
            guard (1...30).contains(interface.network.prefixLength) else {
                throw .badInterface(index: i, reason: "prefix length must be 1...30")
            }
            let a = interface.address
            guard a != interface.network.networkAddress, a != interface.network.broadcastAddress,
                  !a.isMulticast, !a.isLoopback else { throw .badInterface(index: i, reason: "address \(a) is not a host address") }
            // RFC 791 §3.2: every internet module must handle 68-octet datagrams unfragmented.
            guard interface.mtu >= IPv4Constants.minimumMTU, interface.mtu <= 65535 else {
                throw .badInterface(index: i, reason: "MTU must be 68...65535")
            }
            if interfaces[..<i].contains(where: { $0.address == a }) { throw .duplicateAddress(a) }
        }
        for gateway in staticRoutes.map(\.gateway) + (defaultGateway.map { [$0] } ?? []) {
            guard interfaces.contains(where: { $0.network.contains(gateway) && $0.address != gateway }) else {
                throw .gatewayNotOnConnectedNetwork(gateway)
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
