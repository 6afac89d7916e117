// The bridge.yml model (docs/config.md). Accepts the seed project Oathgate's schema unchanged
// (wan / router / virtio) and extends it. Values only; parsing is in BridgeConfig+YAML.swift.
import Datapath
import Wire

/// Everything a bridge needs to start, validated.
public struct BridgeConfig: Equatable, Sendable {
    /// A name for logs, captures and reports.
    public var name: String = "br0"
    /// The IPv4 router; nil makes a pure L2 switch.
    public var router: RouterConfig?
    /// The WAN uplink (Oathgate's `wan:`): the router's default route, through `Bridge.wan`.
    public var wan: WANConfig?
    public var virtio = VirtioConfig()
    public var switching = SwitchConfig()
    /// Frame captures (pcap) of a segment's switch.
    public var captures: [CaptureConfig] = []
    /// vhost-user sockets the real bridge listens on; each serves any number of guests.
    public var vhostUser: [VhostUserSocketConfig] = []
    /// TAP ports the real bridge opens (Ethernet frames to the host or a namespace).
    public var taps: [TapConfig] = []
    /// A unix socket answering `sluice bridge --stats`.
    public var control: String?
    /// Who may connect to `control` (default 0600: the bridge's user).
    public var controlAccess = SocketAccess.controlDefault
    /// Where the DHCP leases are kept across restarts (BridgeConfig+Operation.swift).
    public var leases = LeaseDatabaseSetting.automatic
    /// Where the bridge serves its counters over HTTP (`GET /metrics`); nil serves none.
    public var metrics: MetricsConfig?

    public init() {}

    /// The L2 segments: one per router interface, or a single "lan" when there is no router.
    public var segmentNames: [String] { router?.interfaces.map(\.name) ?? ["lan"] }
}

/// Oathgate's `router:` section, extended with more interfaces, static routes and DHCP details.
public struct RouterConfig: Equatable, Sendable {
    /// The first is Oathgate's `router.ipv4`/`router.dhcp`, named "lan"; more come from `router.interfaces`.
    public var interfaces: [InterfaceConfig]
    /// Static routes, longest prefix first when used.
    public var routes: [StaticRoute] = []
    /// Masquerade guests behind the WAN address (true), or route them as they are (false: the
    /// far side routes the subnets back). Only used with a WAN.
    public var nat = true

    public init(interfaces: [InterfaceConfig]) { self.interfaces = interfaces }
}

/// One router interface: an L2 segment with its own switch, subnet and DHCP pool.
public struct InterfaceConfig: Equatable, Sendable {
    public var name: String
    /// The router's address on this segment and the segment's prefix ("10.67.213.1/24").
    public var ipv4: IPv4Network
    /// The router's MAC on this segment; derived from the address when not given.
    public var mac: MACAddress
    public var mtu: Int = 1500
    public var dhcp: DHCPConfig?

    public init(name: String, ipv4: IPv4Network, mac: MACAddress? = nil, dhcp: DHCPConfig? = nil) {
        self.name = name; self.ipv4 = ipv4; self.dhcp = dhcp
        // 02:5e:<four address octets>: locally administered, stable, unique per address.
        self.mac = mac ?? MACAddress(rawValue: 0x025E_0000_0000 | UInt64(ipv4.address.rawValue))
    }
}

public struct DHCPConfig: Equatable, Sendable {
    public var start: IPv4Address
    public var end: IPv4Address
    public var leaseTime: Duration = .seconds(3600)
    /// DNS servers offered (option 6); empty offers none.
    public var dnsServers: [IPv4Address] = []
    /// Domain name offered (option 15).
    public var domain: String?
    /// Fixed addresses by MAC.
    public var reservations: [Reservation] = []
    /// The ARP probe before an offer (BridgeConfig+Operation.swift).
    public var probe = AddressProbeSetting.automatic

    public struct Reservation: Equatable, Sendable {
        public var mac: MACAddress
        public var ipv4: IPv4Address
        public init(mac: MACAddress, ipv4: IPv4Address) { self.mac = mac; self.ipv4 = ipv4 }
    }

    public init(start: IPv4Address, end: IPv4Address) { self.start = start; self.end = end }
}

/// Oathgate's `wan:` section, extended: where traffic for no local subnet goes (docs/config.md).
/// The WAN is one more router interface; `router.nat` masquerades guests behind its address.
public enum WANConfig: Equatable, Sendable {
    /// IP packets encrypted by WireGuard to one peer (AllowedIPs 0.0.0.0/0), over UDP.
    case wireguard(WireGuardWANConfig)
    /// IP packets in plain UDP datagrams to one endpoint, both ways (no crypto).
    case udp(UDPWANConfig)
    /// An Ethernet uplink on a TAP device: the router's WAN interface, ARP for the gateway.
    case tap(TapWANConfig)

    public var typeName: String {
        switch self { case .wireguard: "wireguard"; case .udp: "udp"; case .tap: "tap" }
    }

    /// The router's address and prefix on the WAN (also the NAT's external address), if known.
    public var ipv4: IPv4Network? {
        switch self {
        case .wireguard(let w): w.ipv4
        case .udp(let u): u.ipv4
        case .tap(let t): t.ipv4
        }
    }

    /// Largest IP datagram sent on the WAN.
    public var mtu: Int {
        switch self {
        case .wireguard(let w): w.mtu
        case .udp(let u): u.mtu
        case .tap(let t): t.mtu
        }
    }
}

/// `wan: { type: wireguard }`.
public struct WireGuardWANConfig: Equatable, Sendable {
    /// Our static private key (32 bytes).
    public var privateKey: [UInt8]
    /// The peer's static public key (32 bytes).
    public var peerPublicKey: [UInt8]
    /// Where the peer is; nil waits for the peer to reach us first (then follows it, as WireGuard roams).
    public var endpoint: Endpoint?
    /// Our address inside the tunnel with the tunnel's prefix (Oathgate's bare address is taken as /24).
    public var ipv4: IPv4Network
    /// The UDP port to listen on; nil lets the system pick one.
    public var listenPort: Int?
    /// Largest IP datagram carried (1420 leaves room for IPv4/UDP/WireGuard in 1500).
    public var mtu: Int = 1420
    /// Send a keepalive after this long without traffic (WireGuard's PersistentKeepalive).
    public var persistentKeepalive: Duration?
    /// A pre-shared symmetric key mixed into every handshake (`wg genpsk`; both ends must agree).
    public var presharedKey: [UInt8]?
    /// WireGuard's Rekey-After-Time, shortened: sending on a session this old starts a new
    /// handshake (we initiated it). 5 s…120 s; for forced rekeys in tests and shorter sessions.
    public var rekeyAfterTime: Duration?
    /// Rekey after this many messages on one session (WireGuard: 2^60); a test knob.
    public var rekeyAfterMessages: UInt64?
    /// The first peer's AllowedIPs (`allowed-ips:`; default 0.0.0.0/0, the default route).
    public var allowedIPs: [IPv4Network] = [IPv4Network(address: .any, prefixLength: 0)!]
    /// More peers (`peers:`), each with its own AllowedIPs: the longest prefix picks the peer.
    public var peers: [WireGuardWANPeer] = []
    /// The name wg(8) shows for the WAN: its UAPI socket is /var/run/wireguard/NAME.sock (`interface:`;
    /// default: the bridge's name and "-wan", cut to 15 characters).
    public var interface: String?

    public init(privateKey: [UInt8], peerPublicKey: [UInt8], endpoint: Endpoint?, ipv4: IPv4Network) {
        self.privateKey = privateKey; self.peerPublicKey = peerPublicKey; self.endpoint = endpoint; self.ipv4 = ipv4
    }
}

/// One entry of a wireguard WAN's `peers:`.
public struct WireGuardWANPeer: Equatable, Sendable {
    /// The peer's static public key (32 bytes).
    public var publicKey: [UInt8]
    /// Networks routed to the peer and accepted from it.
    public var allowedIPs: [IPv4Network]
    /// Where the peer is (an IPv4 literal); nil waits for it to reach us first.
    public var endpoint: SocketAddressV4?
    public var persistentKeepalive: Duration?
    public var presharedKey: [UInt8]?

    public init(publicKey: [UInt8], allowedIPs: [IPv4Network], endpoint: SocketAddressV4? = nil) {
        self.publicKey = publicKey; self.allowedIPs = allowedIPs; self.endpoint = endpoint
    }
}

/// `wan: { type: udp }`.
public struct UDPWANConfig: Equatable, Sendable {
    /// Where the packets go; datagrams are accepted only from this address and port.
    public var endpoint: Endpoint
    /// The UDP port to listen on; nil lets the system pick one.
    public var listenPort: Int?
    /// Our address on the link with its prefix; needed for NAT (Oathgate had none: then link-local 169.254.0.1/16).
    public var ipv4: IPv4Network?
    /// Largest IP datagram carried (1472 fits one UDP datagram in 1500).
    public var mtu: Int = 1472

    public init(endpoint: Endpoint, listenPort: Int? = nil, ipv4: IPv4Network? = nil) {
        self.endpoint = endpoint; self.listenPort = listenPort; self.ipv4 = ipv4
    }
}

/// `wan: { type: tap }`.
public struct TapWANConfig: Equatable, Sendable {
    /// The TAP interface's name (at most 15 bytes).
    public var device: String
    /// The router's address on the uplink and the uplink's prefix.
    public var ipv4: IPv4Network
    /// The next hop for everything not local (the default route).
    public var gateway: IPv4Address
    /// The router's MAC on the uplink; derived from the address when not given.
    public var mac: MACAddress
    public var mtu: Int = 1500
    /// Move the TAP into this network namespace (`ip netns` name) after creating it.
    public var namespace: String?

    public init(device: String, ipv4: IPv4Network, gateway: IPv4Address, mac: MACAddress? = nil) {
        self.device = device; self.ipv4 = ipv4; self.gateway = gateway
        self.mac = mac ?? MACAddress(rawValue: 0x025E_0000_0000 | UInt64(ipv4.address.rawValue))
    }
}

/// host:port, an IPv4 address or a name to resolve when the uplink starts.
public struct Endpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) { self.host = host; self.port = port }
    public var description: String { "\(host):\(port)" }

    /// The socket address when `host` is an IPv4 literal (names are resolved by the driver).
    public var socketAddress: SocketAddressV4? {
        IPv4Address(host).map { SocketAddressV4(address: $0, port: port) }
    }
}

/// Oathgate's `virtio:` section.
public struct VirtioConfig: Equatable, Sendable {
    /// Queue pairs per guest (virtio-net MQ).
    public var queues = 1
    /// Offer VIRTIO_NET_F_MRG_RXBUF.
    public var mergeableRxBuffers = true
    /// Offer VIRTIO_F_RING_EVENT_IDX.
    public var eventIndex = true
    public init() {}
}

public struct SwitchConfig: Equatable, Sendable {
    /// How long a learned MAC stays without traffic.
    public var aging: Duration = .seconds(300)
    /// MAC table capacity per segment.
    public var tableSize = 4096
    public init() {}
}

public struct VhostUserSocketConfig: Equatable, Sendable {
    public var path: String
    public var segment: String
    /// Who may connect (default 0660: the bridge's user and group).
    public var access = SocketAccess.vhostUserDefault
    /// Impairments on the port of every guest connecting here (`impair:`; PortImpairment.swift).
    public var impair: PortImpairment?
    public init(path: String, segment: String) { self.path = path; self.segment = segment }
}

public struct TapConfig: Equatable, Sendable {
    /// The interface name (at most 15 bytes).
    public var name: String
    public var segment: String
    /// Move the TAP into this network namespace (`ip netns` name) after creating it.
    public var namespace: String?
    /// Impairments on the TAP's port (`impair:`; PortImpairment.swift).
    public var impair: PortImpairment?
    public init(name: String, segment: String, namespace: String? = nil) { self.name = name; self.segment = segment; self.namespace = namespace }
}

public struct CaptureConfig: Equatable, Sendable {
    /// The pcap file to write.
    public var file: String
    /// The segment whose switch is tapped.
    public var segment: String
    /// A BPF filter; only matching frames are written.
    public var filter: String?
    public init(file: String, segment: String, filter: String? = nil) { self.file = file; self.segment = segment; self.filter = filter }
}
