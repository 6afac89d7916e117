// bridge.yml `wan:` → WANConfig, and the checks that tie it to the router (docs/config.md).
import Wire
import YAMLSchema

extension WANConfig {
    static let wireguardKeys = ["type", "key", "peer", "endpoint", "ipv4", "listen-port", "mtu", "keepalive",
                                 "preshared-key", "rekey-after-time", "rekey-after-messages", "allowed-ips", "peers", "interface"]
    static let wireguardPeerKeys = ["key", "allowed-ips", "endpoint", "keepalive", "preshared-key"]
    static let udpKeys = ["type", "endpoint", "listen-port", "ipv4", "mtu"]
    static let tapKeys = ["type", "device", "ipv4", "gateway", "mac", "mtu", "namespace"]
    /// Every key some WAN type takes, in first-seen order.
    static let allKeys = (wireguardKeys + udpKeys + tapKeys).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }

    static func parse(_ value: YAMLValue) throws(ConfigError) -> WANConfig {
        let typeMapping = try value.mapping(allowed: allKeys)
        let typeValue = try typeMapping.required("type", example: "wireguard")
        switch try typeValue.string() {
        case "wireguard":
            let m = try value.mapping(allowed: wireguardKeys)
            var w = WireGuardWANConfig(
                privateKey: try parseKey(m.required("key", example: "<base64 private key from 'sluice wg genkey'>")),
                peerPublicKey: try parseKey(m.required("peer", example: "<base64 public key of the peer>")),
                endpoint: try m["endpoint"].map { v throws(ConfigError) in try parseEndpoint(v) },
                ipv4: try parseWANAddress(m.required("ipv4", example: "10.200.0.2/24"), bareLength: 24, pointToPoint: true))
            if w.privateKey == w.peerPublicKey {
                throw try m.required("peer").error("the peer's key is our own private key", fix: "put the peer's public key here ('sluice wg pubkey' on its private key)")
            }
            if let p = m["listen-port"] { w.listenPort = try p.int(in: 1...65535) }
            if let v = m["mtu"] { w.mtu = try v.int(in: 576...65455) }
            if let v = m["keepalive"] {
                let d = try v.duration()
                guard d >= .seconds(1), d <= .seconds(65535) else { throw v.error("keepalive must be 1s…65535s", fix: "write e.g. keepalive: 25s") }
                w.persistentKeepalive = d
            }
            if let v = m["preshared-key"] { w.presharedKey = try parseKey(v) }
            if let v = m["rekey-after-time"] {
                let d = try v.duration()
                guard d >= .seconds(5), d <= .seconds(120) else {
                    throw v.error("rekey-after-time must be 5s…120s",
                                  fix: "write e.g. rekey-after-time: 10s (WireGuard's is 120s; a handshake never goes out more than once per 5s)")
                }
                w.rekeyAfterTime = d
            }
            if let v = m["rekey-after-messages"] {
                let n = try v.int(in: 1...Int.max)
                w.rekeyAfterMessages = UInt64(n)
            }
            if let v = m["allowed-ips"] { w.allowedIPs = try parseAllowedIPs(v) }
            if let v = m["interface"] {
                let name = try v.string()
                guard !name.isEmpty, name.utf8.count < 16, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
                    throw v.error("'\(name)' is not an interface name", fix: "use 1–15 printable characters without '/' or spaces, e.g. wan0")
                }
                w.interface = name
            }
            if let v = m["peers"] {
                var keys = [w.peerPublicKey]
                for item in try v.list() {
                    let p = try item.mapping(allowed: wireguardPeerKeys)
                    let keyValue = try p.required("key", example: "<base64 public key of the peer>")
                    let key = try parseKey(keyValue)
                    guard !keys.contains(key), key != w.privateKey else {
                        throw keyValue.error("this peer is listed twice (or is our own key)", fix: "give each peer once, with all its allowed-ips")
                    }
                    keys.append(key)
                    var peer = WireGuardWANPeer(publicKey: key, allowedIPs: try parseAllowedIPs(p.required("allowed-ips", example: "10.50.0.0/16")))
                    if let e = p["endpoint"] {
                        guard let address = try parseEndpoint(e).socketAddress else {
                            throw e.error("a peers: endpoint must be an IPv4 address and port", fix: "write e.g. 203.0.113.7:51820")
                        }
                        peer.endpoint = address
                    }
                    if let k = p["keepalive"] {
                        let d = try k.duration()
                        guard d >= .seconds(1), d <= .seconds(65535) else { throw k.error("keepalive must be 1s…65535s", fix: "write e.g. keepalive: 25s") }
                        peer.persistentKeepalive = d
                    }
                    if let q = p["preshared-key"] { peer.presharedKey = try parseKey(q) }
                    w.peers.append(peer)
                }
            }
            return .wireguard(w)
        case "udp":
            let m = try value.mapping(allowed: udpKeys)
            var u = UDPWANConfig(endpoint: try parseEndpoint(m.required("endpoint", example: "203.0.113.7:9000")),
                                 listenPort: try m["listen-port"]?.int(in: 1...65535))
            if let v = m["ipv4"] { u.ipv4 = try parseWANAddress(v, bareLength: 24, pointToPoint: true) }
            if let v = m["mtu"] { u.mtu = try v.int(in: 576...65507) }
            return .udp(u)
        case "tap":
            let m = try value.mapping(allowed: tapKeys)
            let deviceValue = try m.required("device", example: "sluice-wan0")
            let device = try deviceValue.string()
            guard !device.isEmpty, device.utf8.count < 16, !device.contains("/"), !device.contains(" ") else {
                throw deviceValue.error("'\(device)' is not a valid interface name", fix: "use 1–15 characters without '/' or spaces")
            }
            let ipv4Value = try m.required("ipv4", example: "192.0.2.2/24")
            let ipv4 = try parseWANAddress(ipv4Value, bareLength: nil, pointToPoint: false)
            let gatewayValue = try m.required("gateway", example: "\(IPv4Address(rawValue: ipv4.networkAddress.rawValue + 1))")
            let gateway = try parseAddress(gatewayValue)
            guard ipv4.contains(gateway), gateway != ipv4.address, gateway != ipv4.networkAddress, gateway != ipv4.broadcastAddress else {
                throw gatewayValue.error("gateway \(gateway) is not another host on \(ipv4)",
                                         fix: "use the uplink router's address inside \(ipv4.networkAddress)/\(ipv4.prefixLength)")
            }
            var mac: MACAddress?
            if let mv = m["mac"] {
                guard let parsed = MACAddress(try mv.string()), parsed.isUnicast, parsed != .zero else {
                    throw mv.error("'\(try mv.string())' is not a unicast MAC address", fix: "write six hex octets, e.g. 02:00:00:00:00:01")
                }
                mac = parsed
            }
            var t = TapWANConfig(device: device, ipv4: ipv4, gateway: gateway, mac: mac)
            if let v = m["mtu"] { t.mtu = try v.int(in: 576...65535) }
            t.namespace = try m["namespace"]?.string()
            return .tap(t)
        case let other:
            throw typeValue.error("unknown WAN type '\(other)'", fix: "use one of: wireguard, udp, tap")
        }
    }
}

/// AllowedIPs: a list of networks, or one string of comma-separated networks (as wg-quick writes them).
func parseAllowedIPs(_ v: YAMLValue) throws(ConfigError) -> [IPv4Network] {
    let items: [(YAMLValue, String)]
    if let list = try? v.list() {
        var out: [(YAMLValue, String)] = []
        for item in list { out.append((item, try item.string())) }
        items = out
    } else {
        items = try v.string().split(separator: ",").map { (v, String($0.filter { $0 != " " })) }
    }
    var networks: [IPv4Network] = []
    for (value, text) in items {
        guard let n = IPv4Network(text) else {
            throw value.error("'\(text)' is not an IPv4 network", fix: "write e.g. 10.50.0.0/16 (IPv6 is not carried)")
        }
        networks.append(IPv4Network(address: n.networkAddress, prefixLength: n.prefixLength)!)
    }
    return networks
}

/// "10.200.0.2/24", or a bare address taken as /`bareLength` (refused when nil): a host address
/// of a /30 or larger subnet, as for router interfaces; a point-to-point WAN (wireguard, udp) may
/// also take a /31 (RFC 3021) or a /32, as wg-quick's `Address = 10.0.0.2/32` does.
func parseWANAddress(_ v: YAMLValue, bareLength: Int?, pointToPoint: Bool) throws(ConfigError) -> IPv4Network {
    let text = try v.string()
    let withPrefix = text.contains("/") ? text : bareLength.map { "\(text)/\($0)" } ?? text
    guard let net = IPv4Network(withPrefix), withPrefix.contains("/") else {
        throw v.error("'\(text)' is not an address with a prefix", fix: "write the address and prefix length, e.g. 192.0.2.2/24")
    }
    let hostAddress = net.prefixLength >= 31 || (net.address != net.networkAddress && net.address != net.broadcastAddress)
    guard (1...(pointToPoint ? 32 : 30)).contains(net.prefixLength), hostAddress else {
        throw v.error("\(net) cannot be an interface address",
                      fix: pointToPoint ? "use a host address in a /30 or larger subnet, or a /31 or /32, e.g. 10.200.0.2/24"
                                        : "use a host address in a /30 or larger subnet, e.g. 10.200.0.2/24")
    }
    return net
}

extension BridgeConfig {
    /// The WAN's ties to the rest of the config: it is a router interface, so it needs a router, a
    /// subnet of its own, and an address when it masquerades.
    func checkWAN(_ value: YAMLValue) throws(ConfigError) {
        guard let wan else { return }
        guard let router else {
            throw value.error("a WAN needs the router: it is the router's default route",
                              fix: "add router: { ipv4: 10.0.0.1/24 } (and dhcp: for the guests)")
        }
        if case .udp(let u) = wan, u.ipv4 == nil, router.nat {
            throw value.error("a udp WAN with router.nat needs ipv4: the address the guests are masqueraded behind",
                              fix: "add ipv4: (e.g. 10.201.0.2/24), or set router.nat: false to route the guests' own addresses")
        }
        let net = wan.ipv4 ?? UDPWANConfig.linkLocal
        for i in router.interfaces where i.ipv4.contains(net.address) || net.contains(i.ipv4.address) {
            let at = (try? value.mapping(allowed: WANConfig.allKeys))?["ipv4"] ?? value
            throw at.error("the WAN's subnet \(net) overlaps interface '\(i.name)' (\(i.ipv4))",
                           fix: "give the WAN its own subnet (a prefix on ipv4:, e.g. \(net.address)/30)")
        }
    }
}

extension UDPWANConfig {
    /// The router's WAN address when a routed udp WAN gives none (RFC 3927 link-local).
    public static let linkLocal = IPv4Network("169.254.0.1/16")!
}
