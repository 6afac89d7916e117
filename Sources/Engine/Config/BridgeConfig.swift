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
    /// The WAN uplink (Oathgate's `wan:`); parsed and validated here, started by the WAN layer.
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
    /// Masquerade NAT towards the WAN (used once a WAN is up).
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

    public struct Reservation: Equatable, Sendable {
        public var mac: MACAddress
        public var ipv4: IPv4Address
        public init(mac: MACAddress, ipv4: IPv4Address) { self.mac = mac; self.ipv4 = ipv4 }
    }

    public init(start: IPv4Address, end: IPv4Address) { self.start = start; self.end = end }
}

/// Oathgate's `wan:` section.
public enum WANConfig: Equatable, Sendable {
    case wireguard(privateKey: [UInt8], peerPublicKey: [UInt8], endpoint: Endpoint, ipv4: IPv4Address)
    case udp(endpoint: Endpoint, listenPort: Int?)
    case tap(device: String)

    public var typeName: String {
        switch self { case .wireguard: "wireguard"; case .udp: "udp"; case .tap: "tap" }
    }
}

/// host:port, an IPv4 address or a name to resolve when the uplink starts.
public struct Endpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) { self.host = host; self.port = port }
    public var description: String { "\(host):\(port)" }
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
    public init(path: String, segment: String) { self.path = path; self.segment = segment }
}

public struct TapConfig: Equatable, Sendable {
    /// The interface name (at most 15 bytes).
    public var name: String
    public var segment: String
    /// Move the TAP into this network namespace (`ip netns` name) after creating it.
    public var namespace: String?
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
