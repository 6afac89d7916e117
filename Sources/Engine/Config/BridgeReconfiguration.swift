// A reload of bridge.yml while the bridge runs (`sluice bridge --reload`, SIGHUP;
// docs/operating.md): what changed between the running configuration and the file, and
// whether every change can be applied live. Values only: `Bridge.reconfigure` applies the result
// at one point in time (Bridge+Reconfigure.swift); the driver opens new capture files and
// resolves a new WAN endpoint first.
//
// Applied live: DHCP pools, reservations, lease times, DNS servers and domain (leases kept),
// static routes, the switch's aging time, captures, a WireGuard or UDP WAN's peer endpoint and
// persistent keepalive. Anything else that differs (a router address, an interface, a socket, a
// key, …) refuses the whole reload with an error located at the new value in the file; the
// running configuration stays as it was.
import Datapath
import Wire
import YAMLSchema

/// What a reload changes, every part of it applicable live.
public struct BridgeReconfiguration: Equatable, Sendable {
    /// The configuration after the reload.
    public var config: BridgeConfig
    /// Router interfaces whose DHCP settings changed (index → the new settings, nil: no server).
    public var dhcp: [Int: DHCPConfig?] = [:]
    /// The new static routes, when they changed.
    public var routes: [StaticRoute]?
    /// The switch's new aging time, when it changed.
    public var aging: Duration?
    /// Captures to open and add (the driver opens their files) and to remove and close.
    public var capturesAdded: [CaptureConfig] = []
    public var capturesRemoved: [CaptureConfig] = []
    /// The WAN peer's endpoint, when it changed (the driver resolves a name).
    public var wanEndpoint: Endpoint?
    /// The WireGuard WAN's persistent keepalive, when it changed (`.some(nil)`: turned off).
    public var wanKeepalive: Duration??
    /// Whether a socket's or TAP's `impair:` changed: the driver puts the new impairments on
    /// their ports (`Bridge.impair`).
    public var impairmentsChanged = false
    /// One line per change, for the log and the `--reload` answer.
    public var summary: [String] = []

    public var isEmpty: Bool { summary.isEmpty }
}

extension BridgeConfig {
    /// What changes from this (running) configuration to `new`, read from `root` (the new file,
    /// for locating refusals). Throws, located at the offending value, when any difference
    /// cannot be applied live.
    public func reconfiguration(to new: BridgeConfig, root: YAMLValue) throws(ConfigError) -> BridgeReconfiguration {
        var r = BridgeReconfiguration(config: new)
        func refuse(_ keys: [String], _ what: String) -> ConfigError {
            root.locate(keys).error("\(what) cannot change while the bridge runs",
                                    fix: "put the old value back and reload, or restart the bridge to apply it (guests reconnect)")
        }
        if name != new.name { throw refuse(["name"], "the bridge's name") }
        if virtio != new.virtio { throw refuse(["virtio"], "virtio settings (negotiated with each guest)") }
        // `impair:` changes live; anything else of a socket or TAP does not.
        if vhostUser.map(\.withoutImpairment) != new.vhostUser.map(\.withoutImpairment) { throw refuse(["vhost-user"], "the vhost-user sockets") }
        if taps.map(\.withoutImpairment) != new.taps.map(\.withoutImpairment) { throw refuse(["taps"], "the TAP ports") }
        for (old, next) in zip(vhostUser, new.vhostUser) where old.impair != next.impair {
            r.impairmentsChanged = true
            r.summary.append("impair \(next.path): \(next.impair?.summary ?? "none")")
        }
        for (old, next) in zip(taps, new.taps) where old.impair != next.impair {
            r.impairmentsChanged = true
            r.summary.append("impair tap:\(next.name): \(next.impair?.summary ?? "none")")
        }
        if control != new.control { throw refuse(["control"], "the control socket") }
        if metrics != new.metrics { throw refuse(["metrics"], "the metrics listener") }
        if switching.tableSize != new.switching.tableSize { throw refuse(["switch", "table-size"], "the MAC table size") }
        if switching.aging != new.switching.aging {
            r.aging = new.switching.aging
            r.summary.append("switch aging \(Self.seconds(switching.aging)) -> \(Self.seconds(new.switching.aging))")
        }
        try routerChanges(to: new, into: &r, refuse: refuse)
        try wanChanges(to: new, into: &r, refuse: refuse)
        r.capturesRemoved = captures.filter { !new.captures.contains($0) }
        r.capturesAdded = new.captures.filter { !captures.contains($0) }
        for c in r.capturesRemoved { r.summary.append("capture \(c.file) on \(c.segment) stopped") }
        for c in r.capturesAdded { r.summary.append("capture \(c.file) on \(c.segment) started") }
        return r
    }

    private func routerChanges(to new: BridgeConfig, into r: inout BridgeReconfiguration,
                               refuse: ([String], String) -> ConfigError) throws(ConfigError) {
        guard let old = router, let next = new.router else {
            if (router == nil) != (new.router == nil) { throw refuse(["router"], "whether the bridge has a router") }
            return
        }
        guard old.interfaces.count == next.interfaces.count else { throw refuse(["router", "interfaces"], "the router's interfaces") }
        if old.nat != next.nat { throw refuse(["router", "nat"], "router.nat") }
        for (i, (a, b)) in zip(old.interfaces, next.interfaces).enumerated() {
            // Interface 0 is router.ipv4 / router.dhcp; the others are router.interfaces[i - 1].
            let at = i == 0 ? ["router"] : ["router", "interfaces", "\(i - 1)"]
            if a.name != b.name { throw refuse(at + ["name"], "an interface's name") }
            if a.ipv4 != b.ipv4 { throw refuse(at + ["ipv4"], "the router's address on \(a.name) (\(a.ipv4))") }
            if a.mac != b.mac { throw refuse(at + ["mac"], "the router's MAC on \(a.name)") }
            if a.mtu != b.mtu { throw refuse(at + ["mtu"], "the MTU of \(a.name)") }
            if a.dhcp != b.dhcp {
                r.dhcp[i] = .some(b.dhcp)  // nil is "no server": kept as a value, not a removed key
                r.summary.append("dhcp on \(a.name): " + Self.describe(a.dhcp, b.dhcp))
            }
        }
        if old.routes != next.routes {
            r.routes = next.routes
            r.summary.append("static routes: \(old.routes.count) -> \(next.routes.count)")
        }
    }

    /// "3600s", "0.25s": durations as bridge.yml writes them.
    static func seconds(_ d: Duration) -> String {
        let (s, attoseconds) = d.components
        if attoseconds == 0 { return "\(s)s" }
        return "\(Double(s) + Double(attoseconds) / 1e18)s"
    }

    private static func describe(_ a: DHCPConfig?, _ b: DHCPConfig?) -> String {
        guard let a, let b else {
            if let b { return "server added, pool \(b.start)-\(b.end)" }
            return "server removed (its leases are forgotten)"
        }
        var parts: [String] = []
        if a.start != b.start || a.end != b.end { parts.append("pool \(a.start)-\(a.end) -> \(b.start)-\(b.end)") }
        if a.leaseTime != b.leaseTime { parts.append("lease \(seconds(a.leaseTime)) -> \(seconds(b.leaseTime))") }
        if a.dnsServers != b.dnsServers { parts.append("dns \(a.dnsServers.map(\.description).joined(separator: ",")) -> \(b.dnsServers.map(\.description).joined(separator: ","))") }
        if a.domain != b.domain { parts.append("domain \(a.domain ?? "-") -> \(b.domain ?? "-")") }
        if a.reservations != b.reservations { parts.append("reservations \(a.reservations.count) -> \(b.reservations.count)") }
        return parts.joined(separator: ", ")
    }

    private func wanChanges(to new: BridgeConfig, into r: inout BridgeReconfiguration,
                            refuse: ([String], String) -> ConfigError) throws(ConfigError) {
        switch (wan, new.wan) {
        case (nil, nil):
            return
        case (.wireguard(var a)?, .wireguard(let b)?):
            if a.endpoint != b.endpoint {
                guard let endpoint = b.endpoint else { throw refuse(["wan", "endpoint"], "removing the WAN peer's endpoint") }
                r.wanEndpoint = endpoint
                r.summary.append("wan endpoint \(a.endpoint.map(\.description) ?? "-") -> \(endpoint)")
            }
            if a.persistentKeepalive != b.persistentKeepalive {
                r.wanKeepalive = .some(b.persistentKeepalive)
                r.summary.append("wan keepalive \(a.persistentKeepalive.map(Self.seconds) ?? "off") -> \(b.persistentKeepalive.map(Self.seconds) ?? "off")")
            }
            a.endpoint = b.endpoint
            a.persistentKeepalive = b.persistentKeepalive
            if a != b { throw refuse(["wan"], "the WireGuard WAN's keys, address, port, MTU or rekey settings") }
        case (.udp(var a)?, .udp(let b)?):
            if a.endpoint != b.endpoint {
                r.wanEndpoint = b.endpoint
                r.summary.append("wan endpoint \(a.endpoint) -> \(b.endpoint)")
            }
            a.endpoint = b.endpoint
            if a != b { throw refuse(["wan"], "the UDP WAN's address, port or MTU") }
        case (.tap(let a)?, .tap(let b)?):
            if a != b { throw refuse(["wan"], "the TAP WAN") }
        default:
            throw refuse(["wan"], "the WAN's type")
        }
    }
}

extension BridgeConfig {
    /// What changes from this (running) configuration to the one in `text` (the contents of
    /// `file`): parse errors and refusals are located in `file`.
    public func reconfiguration(toText text: String, file: String) throws(ConfigError) -> BridgeReconfiguration {
        let root = try YAMLValue.parse(text, file: file)
        return try reconfiguration(to: BridgeConfig.parse(root), root: root)
    }
}

extension VhostUserSocketConfig {
    /// The socket without its `impair:` (what a reload must leave alone).
    var withoutImpairment: VhostUserSocketConfig { var c = self; c.impair = nil; return c }
}

extension TapConfig {
    /// The TAP without its `impair:` (what a reload must leave alone).
    var withoutImpairment: TapConfig { var c = self; c.impair = nil; return c }
}
