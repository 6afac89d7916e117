// WAN uplinks in scenarios: a bridge's `wan:` section is linked to another bridge's WAN with a
// link between `brA.wan` and `brB.wan` (the simulated internet), and links between bridges can be
// captured on the wire (`captures: { internet: { at: <link name> } }`). docs/scenarios.md.
import Engine
import Wire
import YAMLSchema

extension ScenarioParser {
    /// A bridge's WAN must be simulable: its peer endpoint an address (the simulator has no DNS),
    /// and no router interface named like the uplink.
    func checkScenarioWAN(_ config: BridgeConfig, at c: YAMLValue) throws(ConfigError) {
        guard let wan = config.wan else { return }
        let at = ScenarioValues.peek(c, "wan") ?? c
        if config.router?.interfaces.contains(where: { $0.name == "wan" }) == true {
            throw at.error("the bridge has a WAN and an interface named 'wan': 'br.wan' would name both",
                           fix: "rename the interface under router.interfaces")
        }
        let endpoint: Endpoint?
        switch wan {
        case .wireguard(let w): endpoint = w.endpoint
        case .udp(let u): endpoint = u.endpoint
        case .tap: endpoint = nil
        }
        if let endpoint, IPv4Address(endpoint.host) == nil {
            throw at.error("endpoint '\(endpoint)' is a name; the simulated internet has no DNS",
                           fix: "write the peer bridge's underlay address, e.g. endpoint: 192.0.2.2:51820")
        }
    }

    /// `br0.wan` for a bridge with a WAN.
    func wanEndpoint(_ v: YAMLValue) -> LinkEndpoint? {
        guard let s = try? v.string() else { return nil }
        let parts = s.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[1] == "wan", let bridge = bridges.first(where: { $0.name == parts[0] }),
              bridge.config.wan != nil else { return nil }
        return .wan(parts[0])
    }

    /// A WAN link joins two WANs of the same type that can reach each other.
    func checkWANLink(_ a: LinkEndpoint, _ b: LinkEndpoint, at between: YAMLValue) throws(ConfigError) {
        guard case .wan(let x) = a, case .wan(let y) = b else {
            let wanEnd = { if case .wan = a { return a }; return b }()
            throw between.error("\(wanEnd) is a WAN uplink; its link goes to another bridge's WAN",
                                fix: "write between: [\(wanEnd), <other bridge>.wan]")
        }
        guard x != y else { throw between.error("a link from \(x).wan to itself", fix: "link two different bridges' WANs") }
        for end in [x, y] {
            if let other = scenario.links.first(where: { $0.a == .wan(end) || $0.b == .wan(end) }) {
                throw between.error("\(end).wan is already linked (\(other.displayName) at \(other.location))",
                                    fix: "a WAN has one uplink; remove one of the links")
            }
        }
        let wx = wanConfig(x), wy = wanConfig(y)
        guard wx.typeName == wy.typeName else {
            throw between.error("\(x).wan is \(wx.typeName) but \(y).wan is \(wy.typeName)", fix: "give both WANs the same type")
        }
        switch (wx, wy) {
        case (.wireguard(let p), .wireguard(let q)):
            try checkEndpoint(p.endpoint, of: x, reaches: q.listenPort, of: y, at: between)
            try checkEndpoint(q.endpoint, of: y, reaches: p.listenPort, of: x, at: between)
            guard p.endpoint != nil || q.endpoint != nil else {
                throw between.error("neither \(x) nor \(y) has an endpoint: no one can start the handshake",
                                    fix: "give at least one WAN the other's endpoint")
            }
        case (.udp(let p), .udp(let q)):
            try checkEndpoint(p.endpoint, of: x, reaches: q.listenPort, of: y, at: between)
            try checkEndpoint(q.endpoint, of: y, reaches: p.listenPort, of: x, at: between)
        case (.tap(let p), .tap(let q)):
            guard p.ipv4.contains(q.ipv4.address), q.ipv4.contains(p.ipv4.address) else {
                throw between.error("\(x).wan (\(p.ipv4)) and \(y).wan (\(q.ipv4)) are not on one subnet",
                                    fix: "put both TAP WANs' ipv4 in the same subnet (the link is their Ethernet)")
            }
        default:
            break
        }
    }

    /// The endpoint `x` sends to must be the port `y` listens on (when `y` names one).
    func checkEndpoint(_ endpoint: Endpoint?, of x: String, reaches listenPort: Int?, of y: String,
                       at between: YAMLValue) throws(ConfigError) {
        guard let endpoint, let listenPort, Int(endpoint.port) != listenPort else { return }
        throw between.error("\(x).wan sends to port \(endpoint.port) but \(y).wan listens on \(listenPort)",
                            fix: "make \(x)'s endpoint port \(listenPort), or \(y)'s listen-port \(endpoint.port)")
    }

    func wanConfig(_ bridge: String) -> WANConfig { bridges.first { $0.name == bridge }!.config.wan! }

    /// Every bridge with a WAN has its link (else its default route would lead nowhere).
    mutating func checkWANsLinked() {
        for bridge in bridges where bridge.config.wan != nil {
            guard !scenario.links.contains(where: { $0.a == .wan(bridge.name) || $0.b == .wan(bridge.name) }),
                  !nodesOfBrokenLinks.contains(bridge.name) else { continue }
            let at = ScenarioValues.peek(bridge.value, "config") ?? bridge.value
            record(at.error("\(bridge.name) has a WAN but nothing links it",
                           fix: "add a link: - { between: [\(bridge.name).wan, <other bridge>.wan], name: internet }"))
        }
    }

    /// `at: <link name>` of a capture: a link between bridges (segments or WANs), or nil when the
    /// value names a bridge segment instead.
    mutating func capturedLink(_ v: YAMLValue) throws(ConfigError) -> (index: Int, name: String, at: BridgeSegment)? {
        let s = try v.string()
        guard let link = linkIndex[s].map({ scenario.links[$0] }) else {
            if (brokenLinks.contains(s) || brokenSections.contains("links")) && bridgeIndex[s] == nil { throw .followsFromEarlier }
            return nil
        }
        if bridgeIndex[s] != nil {
            throw v.error("'\(s)' names both a bridge and a link", fix: "rename the link (name: under links:)")
        }
        switch (link.a, link.b) {
        case (.host, _), (_, .host):
            let bridgeEnd = link.a.isHost ? link.b : link.a
            throw v.error("link '\(s)' is a host's cable; captures see its frames at the bridge segment",
                          fix: "capture at: \(bridgeEnd)")
        default:
            use(.linkCapture, at: v)
            return (link.index, s, link.a.segment)
        }
    }
}

extension LinkEndpoint {
    /// The bridge segment at a bridge or WAN end (`br0.wan` for a WAN).
    var segment: BridgeSegment {
        switch self {
        case .bridge(let s): s
        case .wan(let b): BridgeSegment(bridge: b, segment: "wan")
        case .host(let h): BridgeSegment(bridge: h, segment: "")
        }
    }

    var isHost: Bool { if case .host = self { return true }; return false }
}
