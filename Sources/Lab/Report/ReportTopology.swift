// Report room (layer 6, Lab): a scenario's topology as the reports draw it — bridges with their
// segments, hosts on segments, links with their impairments per direction, capture points — and
// which node owns which address, so ladder diagrams can name the ends of a message. Plain values
// (strings, integers, arrays) so a run can be saved and merged; built once from the Scenario.
import Engine
import Wire

/// What the topology diagram and the ladder diagrams need to know about a scenario's network.
public struct ReportTopology: Equatable, Sendable {
    /// A Sluice bridge: its segments (router interfaces, or "lan") and its WAN, if any.
    public struct Bridge: Equatable, Sendable {
        public var name: String
        /// Segment names in config order.
        public var segments: [String]
        /// The router's address per segment ("10.0.0.1/24"), parallel to `segments`; empty strings
        /// on a pure switch.
        public var segmentAddresses: [String]
        /// "wireguard 10.200.0.1/24", nil without a WAN.
        public var wan: String?
        public init(name: String, segments: [String], segmentAddresses: [String], wan: String?) {
            self.name = name; self.segments = segments; self.segmentAddresses = segmentAddresses; self.wan = wan
        }
    }

    /// A host and the segment its NIC is on.
    public struct Host: Equatable, Sendable {
        public var name: String
        /// The bridge and segment ("br0.lan").
        public var bridge: String
        public var segment: String
        /// "dhcp", "10.0.0.5/24" or "none".
        public var address: String
        public init(name: String, bridge: String, segment: String, address: String) {
            self.name = name; self.bridge = bridge; self.segment = segment; self.address = address
        }
    }

    /// A link: its ends as written ("vm1", "br0.lan", "brA.wan") and each direction's impairments.
    public struct Link: Equatable, Sendable {
        public var name: String
        public var a: String
        public var b: String
        /// Impairments a → b, as tc-netem prints them ("delay 20ms loss 2%"); "none" for a perfect wire.
        public var forward: String
        /// Impairments b → a.
        public var reverse: String
        /// Whether the link carries frames when the run starts.
        public var initiallyUp: Bool
        public init(name: String, a: String, b: String, forward: String, reverse: String, initiallyUp: Bool) {
            self.name = name; self.a = a; self.b = b; self.forward = forward; self.reverse = reverse; self.initiallyUp = initiallyUp
        }
    }

    /// A capture point: a segment's switch ("br0.lan") or a link's wire (`link` set).
    public struct CapturePoint: Equatable, Sendable {
        public var name: String
        /// The segment ("br0.lan"), or the link's name when `onLink`.
        public var at: String
        public var onLink: Bool
        public var filter: String?
        public init(name: String, at: String, onLink: Bool, filter: String?) {
            self.name = name; self.at = at; self.onLink = onLink; self.filter = filter
        }
    }

    /// An address (IPv4 or MAC, as text) known to belong to a node, for naming ladder lanes.
    public struct Owner: Equatable, Sendable {
        public var address: String
        public var node: String
        public init(address: String, node: String) { self.address = address; self.node = node }
    }

    public var bridges: [Bridge] = []
    public var hosts: [Host] = []
    public var links: [Link] = []
    public var captures: [CapturePoint] = []
    public var owners: [Owner] = []

    public init(bridges: [Bridge] = [], hosts: [Host] = [], links: [Link] = [], captures: [CapturePoint] = [], owners: [Owner] = []) {
        self.bridges = bridges; self.hosts = hosts; self.links = links; self.captures = captures; self.owners = owners
    }

    /// Every node name (bridges, then hosts).
    public var nodeNames: [String] { bridges.map(\.name) + hosts.map(\.name) }

    /// The node owning `address` (an IPv4 address or MAC as text), if the scenario says.
    public func owner(of address: String) -> String? { owners.first { $0.address == address }?.node }
}

extension ReportTopology {
    /// The topology of `scenario`.
    init(_ scenario: Scenario) {
        for node in scenario.nodes {
            switch node.kind {
            case .bridge(let config):
                let interfaces = config.router?.interfaces ?? []
                let addresses = config.segmentNames.map { seg in interfaces.first { $0.name == seg }.map { "\($0.ipv4)" } ?? "" }
                var wan: String?
                if let w = config.wan { wan = w.typeName + (w.ipv4.map { " \($0)" } ?? "") }
                bridges.append(Bridge(name: node.name, segments: config.segmentNames, segmentAddresses: addresses, wan: wan))
                for i in interfaces {
                    owners.append(Owner(address: i.ipv4.address.description, node: node.name))
                    owners.append(Owner(address: i.mac.description, node: node.name))
                }
                if let a = config.wan?.ipv4 { owners.append(Owner(address: a.address.description, node: node.name)) }
            case .host(let h):
                let address: String
                switch h.address {
                case .dhcp: address = "dhcp"
                case .static(let net, _):
                    address = "\(net)"
                    owners.append(Owner(address: net.address.description, node: node.name))
                case .none: address = "none"
                }
                owners.append(Owner(address: h.mac.description, node: node.name))
                hosts.append(Host(name: node.name, bridge: h.attachment.bridge, segment: h.attachment.segment, address: address))
            }
        }
        for l in scenario.links {
            links.append(Link(name: l.name ?? "links[\(l.index)]", a: l.a.description, b: l.b.description,
                              forward: l.forward.summary, reverse: l.reverse.summary, initiallyUp: l.initiallyUp))
            // A WAN link's ends talk from underlay addresses: each is the endpoint the other names.
            if case .wan(let x) = l.a, case .wan(let y) = l.b {
                for (me, peer) in [(x, y), (y, x)] {
                    guard let peerWAN = scenario.node(named: peer)?.bridge?.wan else { continue }
                    let endpoint: Endpoint?
                    switch peerWAN {
                    case .wireguard(let w): endpoint = w.endpoint
                    case .udp(let u): endpoint = u.endpoint
                    case .tap: endpoint = nil
                    }
                    if let endpoint, let ip = IPv4Address(endpoint.host) { owners.append(Owner(address: ip.description, node: me)) }
                }
            }
        }
        for c in scenario.captures {
            captures.append(CapturePoint(name: c.name, at: c.link?.name ?? c.at.description, onLink: c.link != nil, filter: c.filter))
        }
    }
}
