// What a DHCPv4 server hands out on one subnet: the pool, the lease times, the options, the
// static reservations. Checked once, when the server is made; a bad configuration is refused
// with a sentence that says which setting is wrong.

import Wire

/// A static address for one client, named by its MAC address or its client identifier.
public struct DHCPReservation: Equatable, Sendable {
    /// How the reserved client is recognised.
    public enum Client: Hashable, Sendable, CustomStringConvertible {
        /// The client's Ethernet address ('chaddr' with 'htype' 1, 'hlen' 6).
        case mac(MACAddress)
        /// The exact octets of the client's option 61 (type octet included).
        case clientIdentifier([UInt8])

        public var description: String {
            switch self {
            case .mac(let mac): "mac \(mac)"
            case .clientIdentifier(let id): "client-id \(DHCPClientIdentity.hex(id))"
            }
        }
    }

    public var client: Client
    /// The address this client always gets; inside the subnet, in or outside the pool.
    public var address: IPv4Address

    public init(_ client: Client, address: IPv4Address) { self.client = client; self.address = address }
}

/// Why a configuration was refused: the setting and what is wrong with it.
public struct DHCPConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The settings of one DHCPv4 server (one subnet, one pool).
public struct DHCPServerConfiguration: Equatable, Sendable {
    /// The server's own address on the subnet: the 'server identifier' (RFC 2131 §4.1 "the
    /// server SHOULD select the IP address the server is using for communication on that subnet").
    public var serverAddress: IPv4Address
    /// The subnet served; its prefix gives the subnet mask option.
    public var subnet: IPv4Network
    /// First address handed out dynamically.
    public var poolStart: IPv4Address
    /// Last address handed out dynamically (included).
    public var poolEnd: IPv4Address
    /// Lease duration (whole seconds are used). Default one hour.
    public var leaseTime: Duration = .seconds(3600)
    /// T1; nil for RFC 2131 §4.4.5's default "(0.5 * duration_of_lease)".
    public var renewalTime: Duration?
    /// T2; nil for RFC 2131 §4.4.5's default "(0.875 * duration_of_lease)".
    public var rebindingTime: Duration?
    /// Router option (3); nil omits it.
    public var router: IPv4Address?
    /// Domain name server option (6); empty omits it.
    public var dnsServers: [IPv4Address] = []
    /// Domain name option (15); nil omits it.
    public var domainName: String?
    /// Static addresses, by MAC or client identifier.
    public var reservations: [DHCPReservation] = []
    /// How long an offered address stays set aside for the client it was offered to.
    public var offerHoldTime: Duration = .seconds(30)
    /// How long a declined address stays out of use (RFC 2131 §4.3.3: "The server MUST mark the
    /// network address as not available").
    public var declineHoldTime: Duration = .seconds(600)
    /// How long to wait for an answer to the ARP probe sent before offering an address no client
    /// holds (RFC 2131 §2.2: "the allocating server SHOULD probe the reused address before
    /// allocating the address"); nil offers at once without probing. An address that answers is
    /// held out of use for `declineHoldTime`, like a declined one. DHCPAddressProbe.swift.
    public var probeTimeout: Duration?

    /// A server at `interface.address` on `interface`'s network (e.g. a router's "10.0.0.1/24"),
    /// handing out `poolStart...poolEnd`; the router option defaults to the interface address.
    /// Other settings keep their defaults until changed; `validate()` checks them all.
    public init(interface: IPv4Network, poolStart: IPv4Address, poolEnd: IPv4Address) {
        serverAddress = interface.address
        subnet = interface
        self.poolStart = poolStart
        self.poolEnd = poolEnd
        router = interface.address
    }

    // MARK: Derived values

    /// Lease time in whole seconds, as option 51 carries it.
    public var leaseSeconds: UInt32 { Self.seconds(leaseTime) }
    /// T1 in whole seconds (option 58).
    public var renewalSeconds: UInt32 { renewalTime.map(Self.seconds) ?? leaseSeconds / 2 }
    /// T2 in whole seconds (option 59).
    public var rebindingSeconds: UInt32 {
        rebindingTime.map(Self.seconds) ?? UInt32(UInt64(leaseSeconds) * 7 / 8)
    }

    static func seconds(_ d: Duration) -> UInt32 { UInt32(clamping: max(0, d.components.seconds)) }

    /// Whether `address` is in the dynamic pool.
    public func poolContains(_ address: IPv4Address) -> Bool { poolStart <= address && address <= poolEnd }

    /// Whether `address` may be given to a host: inside the subnet, neither its network nor its
    /// broadcast address, and not the server's own.
    public func isHostAddress(_ address: IPv4Address) -> Bool {
        subnet.contains(address) && address != subnet.networkAddress && address != subnet.broadcastAddress
            && address != serverAddress
    }

    // MARK: Validation

    /// Throws the first setting that cannot work.
    public func validate() throws(DHCPConfigurationError) {
        func fail(_ s: String) -> DHCPConfigurationError { DHCPConfigurationError(s) }
        guard subnet.prefixLength <= 30 else {
            throw fail("subnet \(subnet) has no room for clients: the prefix must be /30 or shorter")
        }
        let server = serverAddress
        guard subnet.contains(server), server != subnet.networkAddress, server != subnet.broadcastAddress else {
            throw fail("server address \(server) must be a host address inside \(subnet)")
        }
        let pool = "pool \(poolStart)...\(poolEnd)"
        for end in [poolStart, poolEnd] where !subnet.contains(end) || end == subnet.networkAddress || end == subnet.broadcastAddress {
            throw fail("\(pool): \(end) is not a host address of \(subnet)")
        }
        guard poolStart <= poolEnd else { throw fail("\(pool): the start is after the end") }
        if poolStart == server && poolEnd == server { throw fail("\(pool) holds only the server's own address") }
        let lease = leaseSeconds, t1 = renewalSeconds, t2 = rebindingSeconds
        guard lease >= 8, lease < DHCP.infiniteLeaseTime else {
            throw fail("lease time \(leaseTime) must be between 8 seconds and \(DHCP.infiniteLeaseTime - 1) seconds")
        }
        // RFC 2131 §4.4.5: "T1 MUST be earlier than T2, which, in turn, MUST be earlier than the
        // time at which the client's lease will expire."
        guard t1 > 0, t1 < t2, t2 < lease else {
            throw fail("renewal (T1 \(t1) s) and rebinding (T2 \(t2) s) times must satisfy 0 < T1 < T2 < lease (\(lease) s)")
        }
        guard offerHoldTime > .zero else { throw fail("offer hold time must be positive") }
        guard declineHoldTime > .zero else { throw fail("decline hold time must be positive") }
        if let probeTimeout, probeTimeout <= .zero || probeTimeout > .seconds(10) {
            throw fail("probe timeout \(probeTimeout) must be above zero and at most 10 seconds (clients retransmit after about 4 s)")
        }
        if let router, !subnet.contains(router) {
            throw fail("router \(router) is not inside \(subnet)")
        }
        if let domainName, domainName.isEmpty { throw fail("domain name is empty; leave it out instead") }
        var seenAddresses: [IPv4Address: DHCPReservation.Client] = [:]
        var seenClients: Set<DHCPReservation.Client> = []
        for r in reservations {
            guard isHostAddress(r.address) else {
                throw fail("reservation \(r.client) → \(r.address): not a host address of \(subnet) other than the server's")
            }
            if case .clientIdentifier(let id) = r.client, id.count < 2 || id.count > 255 {
                throw fail("reservation \(r.client): a client identifier has 2 to 255 octets (RFC 2132 §9.14)")
            }
            if let other = seenAddresses[r.address] {
                throw fail("reservations \(other) and \(r.client) both claim \(r.address)")
            }
            guard seenClients.insert(r.client).inserted else {
                throw fail("reservation \(r.client) appears twice")
            }
            seenAddresses[r.address] = r.client
        }
    }
}
