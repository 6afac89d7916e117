// bridge.yml → BridgeConfig, with every error located to file:line:column (docs/architecture.md, Bad input).
import Crypto
import Datapath
import Wire
import YAMLSchema

extension BridgeConfig {
    /// Parses and validates bridge.yml text; `file` names it in errors. The Engine opens no files:
    /// the caller reads it (the CLI, the lab).
    public static func parse(_ text: String, file: String = "bridge.yml") throws(ConfigError) -> BridgeConfig {
        try parse(YAMLValue.parse(text, file: file))
    }

    /// Parses a bridge config from a YAML value (also used for scenario files' inline configs).
    public static func parse(_ root: YAMLValue) throws(ConfigError) -> BridgeConfig {
        let top = try root.mapping(allowed: ["name", "wan", "router", "virtio", "switch", "captures", "vhost-user", "taps", "control", "leases", "metrics"])
        var config = BridgeConfig()
        if let v = top["name"] { config.name = try v.string() }
        if let v = top["router"] { config.router = try RouterConfig.parse(v) }
        if let v = top["wan"] {
            config.wan = try WANConfig.parse(v)
            try config.checkWAN(v)
        }
        if let v = top["virtio"] {
            let m = try v.mapping(allowed: ["queues", "mrg-rxbuf", "event-idx"])
            if let q = m["queues"] { config.virtio.queues = try q.int(in: 1...16) }
            if let b = m["mrg-rxbuf"] { config.virtio.mergeableRxBuffers = try b.bool() }
            if let b = m["event-idx"] { config.virtio.eventIndex = try b.bool() }
        }
        if let v = top["switch"] {
            let m = try v.mapping(allowed: ["aging", "table-size"])
            if let a = m["aging"] { config.switching.aging = try a.duration() }
            if let t = m["table-size"] { config.switching.tableSize = try t.int(in: 16...1_048_576) }
        }
        if let v = top["captures"] {
            for item in try v.list() {
                let m = try item.mapping(allowed: ["file", "at", "filter"])
                let segment = try m["at"]?.string() ?? config.segmentNames[0]
                guard config.segmentNames.contains(segment) else {
                    throw try m.required("at").error("no segment named '\(segment)'",
                        fix: "use one of: \(config.segmentNames.joined(separator: ", "))")
                }
                config.captures.append(CaptureConfig(file: try m.required("file", example: "br0.pcap").string(),
                                                     segment: segment, filter: try m["filter"]?.string()))
            }
        }
        func segment(_ m: YAMLMapping) throws(ConfigError) -> String {
            let name = try m["segment"]?.string() ?? config.segmentNames[0]
            guard config.segmentNames.contains(name) else {
                throw try m.required("segment").error("no segment named '\(name)'", fix: "use one of: \(config.segmentNames.joined(separator: ", "))")
            }
            return name
        }
        if let v = top["vhost-user"] {
            for item in try v.list() {
                let m = try item.mapping(allowed: ["socket", "segment", "impair"] + SocketAccess.keys)
                let path = try m.required("socket", example: "/run/sluice/vm1.sock").string()
                guard !path.isEmpty, path.utf8.count < 108 else {
                    throw try m.required("socket").error("a unix socket path must be 1–107 bytes", fix: "use a shorter path")
                }
                if config.vhostUser.contains(where: { $0.path == path }) {
                    throw try m.required("socket").error("socket \(path) is listed twice", fix: "one entry per socket; many guests can share it")
                }
                var socket = VhostUserSocketConfig(path: path, segment: try segment(m))
                socket.access = try SocketAccess.parse(m, defaults: .vhostUserDefault)
                socket.impair = try m["impair"].map { v throws(ConfigError) in try PortImpairment.parse(v) }
                config.vhostUser.append(socket)
            }
        }
        if let v = top["taps"] {
            for item in try v.list() {
                let m = try item.mapping(allowed: ["name", "segment", "namespace", "impair"])
                let nameValue = try m.required("name", example: "sluice-tap0")
                let name = try nameValue.string()
                guard !name.isEmpty, name.utf8.count < 16, !name.contains("/"), !name.contains(" ") else {
                    throw nameValue.error("'\(name)' is not a valid interface name", fix: "use 1–15 characters without '/' or spaces")
                }
                var tap = TapConfig(name: name, segment: try segment(m), namespace: try m["namespace"]?.string())
                tap.impair = try m["impair"].map { v throws(ConfigError) in try PortImpairment.parse(v) }
                config.taps.append(tap)
            }
        }
        if let v = top["control"] {
            // A path, or { path:, mode:, owner:, group:, allow-users:, allow-groups: }.
            if let path = try? v.scalar() { config.control = path } else {
                let m = try v.mapping(allowed: ["path"] + SocketAccess.keys)
                config.control = try m.required("path", example: "/run/sluice/br0.ctl").string()
                config.controlAccess = try SocketAccess.parse(m, defaults: .controlDefault)
            }
            if let path = config.control, path.isEmpty || path.utf8.count >= 108 {
                throw v.error("a unix socket path must be 1–107 bytes", fix: "use a shorter path, e.g. /run/sluice/\(config.name).ctl")
            }
        }
        if let v = top["leases"] { config.leases = try LeaseDatabaseSetting.parse(v) }
        if let v = top["metrics"] { config.metrics = try MetricsConfig.parse(v) }
        return config
    }
}

extension RouterConfig {
    static func parse(_ value: YAMLValue) throws(ConfigError) -> RouterConfig {
        let m = try value.mapping(allowed: ["ipv4", "mac", "mtu", "dhcp", "dns", "interfaces", "routes", "nat"])
        // Oathgate's `dns:` is a boolean; we also take a list of servers for the DHCP option.
        var sharedDNS: [IPv4Address] = []
        if let d = m["dns"] {
            if case .sequence = d.node {
                sharedDNS = try d.list().map { v throws(ConfigError) in try parseAddress(v) }
            } else if try d.bool() {
                throw d.error("'dns: true' needs the servers to offer",
                              fix: "list them instead, e.g. dns: [192.0.2.53], or set dns: false (Sluice has no built-in resolver)")
            }
        }
        var interfaces = [try InterfaceConfig.parse(m, name: "lan", at: value, dns: sharedDNS)]
        if let list = m["interfaces"] {
            for item in try list.list() {
                let im = try item.mapping(allowed: ["name", "ipv4", "mac", "mtu", "dhcp"])
                let name = try im.required("name", example: "lan2").string()
                guard !interfaces.contains(where: { $0.name == name }) else {
                    throw try im.required("name").error("interface name '\(name)' is used twice", fix: "give each interface its own name")
                }
                interfaces.append(try InterfaceConfig.parse(im, name: name, at: item, dns: sharedDNS))
            }
        }
        // Subnets must not overlap: the router could not tell which segment an address is on.
        for (i, a) in interfaces.enumerated() {
            for b in interfaces[..<i] where a.ipv4.contains(b.ipv4.address) || b.ipv4.contains(a.ipv4.address) {
                throw value.error("interfaces '\(b.name)' (\(b.ipv4)) and '\(a.name)' (\(a.ipv4)) overlap",
                                  fix: "give each interface its own subnet")
            }
        }
        var config = RouterConfig(interfaces: interfaces)
        if let n = m["nat"] { config.nat = try n.bool() }
        if let r = m["routes"] {
            for item in try r.list() {
                let rm = try item.mapping(allowed: ["to", "via"])
                let to = try rm.required("to", example: "10.9.0.0/16")
                guard let dest = IPv4Network(try to.string()) else {
                    throw to.error("'\(try to.string())' is not an IPv4 prefix", fix: "write it as 10.9.0.0/16 (or 0.0.0.0/0 for a default route)")
                }
                let via = try parseAddress(try rm.required("via", example: "10.0.0.254"))
                guard interfaces.contains(where: { $0.ipv4.contains(via) }) else {
                    throw try rm.required("via").error("gateway \(via) is not on any interface's subnet",
                                                       fix: "use an address inside one of: \(interfaces.map { $0.ipv4.description }.joined(separator: ", "))")
                }
                config.routes.append(Datapath.StaticRoute(destination: dest, gateway: via))
            }
        }
        return config
    }
}

extension InterfaceConfig {
    static func parse(_ m: YAMLMapping, name: String, at value: YAMLValue, dns: [IPv4Address]) throws(ConfigError) -> InterfaceConfig {
        let v = try m.required("ipv4", example: "10.67.213.1/24")
        let text = try v.string()
        guard let net = IPv4Network(text), text.contains("/") else {
            throw v.error("'\(text)' is not an interface address with a prefix", fix: "write the router's address and prefix length, e.g. 10.67.213.1/24")
        }
        guard net.prefixLength <= 30, net.address != net.networkAddress, net.address != net.broadcastAddress else {
            throw v.error("\(net) cannot be a router address", fix: "use a host address in a /30 or larger subnet, e.g. 10.67.213.1/24")
        }
        var mac: MACAddress?
        if let mv = m["mac"] {
            guard let parsed = MACAddress(try mv.string()), parsed.isUnicast else {
                throw mv.error("'\(try mv.string())' is not a unicast MAC address", fix: "write six hex octets, e.g. 02:00:00:00:00:01")
            }
            mac = parsed
        }
        var config = InterfaceConfig(name: name, ipv4: net, mac: mac)
        if let mtu = m["mtu"] { config.mtu = try mtu.int(in: 576...65535) }
        if let d = m["dhcp"] { config.dhcp = try DHCPConfig.parse(d, subnet: net, dns: dns) }
        return config
    }
}

extension DHCPConfig {
    static func parse(_ value: YAMLValue, subnet: IPv4Network, dns: [IPv4Address]) throws(ConfigError) -> DHCPConfig {
        let m = try value.mapping(allowed: ["start", "end", "lease", "dns", "domain", "reservations", "probe"])
        let startValue = try m.required("start", example: "\(IPv4Address(rawValue: subnet.networkAddress.rawValue + 100))")
        let endValue = try m.required("end", example: "\(IPv4Address(rawValue: subnet.networkAddress.rawValue + 200))")
        let start = try parseAddress(startValue), end = try parseAddress(endValue)
        for (a, v) in [(start, startValue), (end, endValue)] {
            guard subnet.contains(a), a != subnet.networkAddress, a != subnet.broadcastAddress, a != subnet.address else {
                throw v.error("\(a) is not a usable host address of \(subnet) (or it is the router's own)",
                              fix: "pick addresses inside \(subnet.networkAddress)/\(subnet.prefixLength), other than \(subnet.address)")
            }
        }
        guard start <= end else { throw startValue.error("start \(start) is after end \(end)", fix: "swap them") }
        if subnet.address >= start && subnet.address <= end {
            throw startValue.error("the pool \(start)–\(end) contains the router's own address \(subnet.address)",
                                   fix: "start the pool above or end it below \(subnet.address)")
        }
        var config = DHCPConfig(start: start, end: end)
        config.dnsServers = dns
        if let l = m["lease"] {
            config.leaseTime = try l.duration()
            guard config.leaseTime >= .seconds(10) else { throw l.error("a lease shorter than 10s is not useful", fix: "use e.g. lease: 1h") }
        }
        if let d = m["dns"] { config.dnsServers = try d.list().map { v throws(ConfigError) in try parseAddress(v) } }
        if let d = m["domain"] { config.domain = try d.string() }
        if let p = m["probe"] { config.probe = try AddressProbeSetting.parse(p) }
        if let r = m["reservations"] {
            // Looked up, never iterated: 100,000 reservations load in linear time.
            var seenMACs: Set<MACAddress> = [], seenAddresses: Set<IPv4Address> = []
            for item in try r.list() {
                let rm = try item.mapping(allowed: ["mac", "ipv4"])
                let macValue = try rm.required("mac", example: "52:54:00:12:34:56")
                guard let mac = MACAddress(try macValue.string()), mac.isUnicast else {
                    throw macValue.error("'\(try macValue.string())' is not a unicast MAC address")
                }
                let ipValue = try rm.required("ipv4", example: "\(start)")
                let ip = try parseAddress(ipValue)
                guard subnet.contains(ip), ip != subnet.address, ip != subnet.networkAddress, ip != subnet.broadcastAddress else {
                    throw ipValue.error("reserved address \(ip) is not a usable host address of \(subnet)")
                }
                guard seenMACs.insert(mac).inserted, seenAddresses.insert(ip).inserted else {
                    throw item.error("reservation for \(mac) / \(ip) repeats an earlier one", fix: "one reservation per MAC and per address")
                }
                config.reservations.append(.init(mac: mac, ipv4: ip))
            }
        }
        return config
    }
}

// MARK: Shared scalar readers

func parseAddress(_ v: YAMLValue) throws(ConfigError) -> IPv4Address {
    let s = try v.string()
    guard let a = IPv4Address(s) else { throw v.error("'\(s)' is not an IPv4 address", fix: "write four decimal octets, e.g. 10.0.0.1") }
    return a
}

func parseEndpoint(_ v: YAMLValue) throws(ConfigError) -> Endpoint {
    let s = try v.string()
    guard let colon = s.lastIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...]), port > 0,
          !s[..<colon].isEmpty else {
        throw v.error("'\(s)' is not host:port", fix: "write e.g. 203.0.113.7:51820")
    }
    return Endpoint(host: String(s[..<colon]), port: port)
}

/// A 32-byte key in WireGuard's base64 format.
func parseKey(_ v: YAMLValue) throws(ConfigError) -> [UInt8] {
    let s = try v.string()
    guard let key = KeyBase64.decode(s) else {
        throw v.error("not a WireGuard key (44 base64 characters encoding 32 bytes)", fix: "generate one with 'sluice wg genkey' or 'wg genkey'")
    }
    return key
}
