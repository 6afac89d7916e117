// aronet's registry.json, loaded unchanged (docs/mesh.md, "registry.json"): organizations with their Ed25519 keys,
// their nodes, each node's endpoints (`address: null` — behind NAT) and networks. Both dialects: the older names
// a node's extra prefixes `remarks.prefixs` and makes `serial_number` optional; the newer says
// `remarks.extra_network`. Keys aronet does not know are ignored, as aronet ignores them; a node may carry a
// `sluice` object (ignored by aronet) with its Noise static key, IPv4 overlay addresses and whether it relays —
// what a sluice mesh needs beyond aronet's organization-wide keys. Every error names the line, the member's path and a fix.

import Crypto
import Wire

/// One endpoint of a node.
public struct RegistryEndpoint: Sendable, Equatable {
    public enum Family: String, Sendable { case ip4, ip6 }
    /// An IP address or DNS name; nil when the node is behind NAT and has no public address.
    public var address: String?
    public var port: UInt16
    public var family: Family
    /// aronet's serial_number (the endpoint's position when the older dialect leaves it out).
    public var serialNumber: UInt32

    /// The endpoint as an IPv4 socket address, when its address is an IPv4 literal.
    public var socketAddress: SocketAddressV4? {
        guard let a = address, let ip = IPv4Address(a) else { return nil }
        return SocketAddressV4(address: ip, port: port)
    }
}

/// One node of the registry.
public struct RegistryNode: Sendable, Equatable {
    public var organization: String
    public var commonName: String
    public var endpoints: [RegistryEndpoint]
    /// `remarks.network` (aronet: the node's own prefix, IPv6 in its examples).
    public var network: OverlayNetwork
    /// `remarks.extra_network` (newer dialect) or `remarks.prefixs` (older).
    public var extraNetworks: [OverlayNetwork]
    /// `sluice.public_key`: the node's Noise static key, when the registry carries it.
    public var noiseKey: PublicKey?
    /// `sluice.addresses`: the node's IPv4 overlay addresses.
    public var addresses: [OverlayNetwork]
    /// `sluice.relay`: the node offers relaying (its certificate must also carry the capability).
    public var relay: Bool = false

    /// aronet's identity string for the node.
    public var identity: String { "O=\(organization),CN=\(commonName)" }
}

/// One organization of the registry.
public struct RegistryOrganization: Sendable, Equatable {
    public var name: String
    /// The organization's Ed25519 key (aronet signs every node of the organization with it; in a sluice mesh it is
    /// the organization CA's key).
    public var key: SigningPublicKey
}

/// A located error in a registry.
public struct RegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    /// Where in the document: `[1].nodes[0].endpoints[0].port`.
    public var path: String
    public var message: String
    public var fix: String
    public var description: String { "line \(line): \(path.isEmpty ? "" : path + ": ")\(message) (fix: \(fix))" }
}

/// A loaded registry.
public struct MeshRegistry: Sendable, Equatable {
    public enum Dialect: String, Sendable { case prefixs, extraNetwork = "extra_network", neither }

    public var organizations: [RegistryOrganization]
    public var nodes: [RegistryNode]
    /// Which name the file uses for extra prefixes (`neither` when no node has any).
    public var dialect: Dialect

    /// Files larger than this are refused before parsing.
    public static let maxSize = 16 << 20

    /// Loads registry.json's bytes.
    public init(json bytes: [UInt8]) throws(RegistryError) {
        guard bytes.count <= Self.maxSize else {
            throw RegistryError(line: 1, path: "", message: "the file is larger than \(Self.maxSize) bytes",
                                fix: "split the registry or remove what is not a node")
        }
        let root: JSONValue
        do throws(JSONSyntaxError) { root = try JSONDocument.parse(bytes) } catch {
            throw RegistryError(line: error.line, path: "", message: "not JSON: \(error.message)",
                                fix: "correct the JSON syntax at that line")
        }
        guard case .array(let orgs) = root.kind else {
            throw RegistryError(line: root.line, path: "", message: "the document is \(root.typeName)",
                                fix: "the registry is an array of organizations: [ { \"organization\": …, \"nodes\": [ … ] } ]")
        }
        var organizations: [RegistryOrganization] = []
        var nodes: [RegistryNode] = []
        var sawPrefixs = false, sawExtra = false
        for (o, org) in orgs.enumerated() {
            let at = "[\(o)]"
            guard case .object = org.kind else {
                throw RegistryError(line: org.line, path: at, message: "an organization is \(org.typeName)",
                                    fix: "write each organization as an object")
            }
            let name = try Self.string(org, "organization", at: at)
            guard !name.isEmpty, !organizations.contains(where: { $0.name == name }) else {
                throw RegistryError(line: org["organization"]!.line, path: at + ".organization",
                                    message: name.isEmpty ? "the organization name is empty" : "organization \"\(name)\" appears twice",
                                    fix: "give every organization a unique, non-empty name")
            }
            let keyText = try Self.string(org, "public_key", at: at)
            guard let key = Self.ed25519(keyText) else {
                throw RegistryError(line: org["public_key"]!.line, path: at + ".public_key",
                                    message: "not an Ed25519 public key",
                                    fix: "a PEM block \"-----BEGIN PUBLIC KEY-----…\" (SubjectPublicKeyInfo, 44 bytes) or the raw 32-byte key in base64")
            }
            organizations.append(RegistryOrganization(name: name, key: key))
            guard let list = org["nodes"], case .array(let items) = list.kind else {
                throw RegistryError(line: org["nodes"]?.line ?? org.line, path: at + ".nodes",
                                    message: org["nodes"] == nil ? "missing" : "is \(org["nodes"]!.typeName)",
                                    fix: "list the organization's nodes: \"nodes\": [ { \"common_name\": … } ]")
            }
            for (n, item) in items.enumerated() {
                let node = try Self.node(item, organization: name, at: at + ".nodes[\(n)]",
                                         sawPrefixs: &sawPrefixs, sawExtra: &sawExtra)
                guard !nodes.contains(where: { $0.organization == name && $0.commonName == node.commonName }) else {
                    throw RegistryError(line: item.line, path: at + ".nodes[\(n)].common_name",
                                        message: "node \(node.identity) appears twice",
                                        fix: "give every node of an organization a unique common_name")
                }
                if let k = node.noiseKey, let other = nodes.first(where: { $0.noiseKey == k }) {
                    throw RegistryError(line: item.line, path: at + ".nodes[\(n)].sluice.public_key",
                                        message: "the same Noise key as \(other.identity)",
                                        fix: "every node has its own key (sluice wg genkey)")
                }
                nodes.append(node)
            }
        }
        self.organizations = organizations
        self.nodes = nodes
        dialect = sawExtra ? .extraNetwork : sawPrefixs ? .prefixs : .neither
    }

    public init(json text: String) throws(RegistryError) { try self.init(json: Array(text.utf8)) }

    /// The peers of the node whose Noise key is `localKey`: every other node that carries a Noise key, its
    /// endpoint the first IPv4 literal (lowest serial number) — nil when it has none (behind NAT, or only names
    /// and IPv6 the driver has to resolve) — and its networks as authorized prefixes.
    public func peers(localKey: PublicKey?) -> [MeshPeer] {
        nodes.compactMap { n in
            guard let key = n.noiseKey, key != localKey else { return nil }
            let endpoint = n.endpoints.sorted { $0.serialNumber < $1.serialNumber }.lazy.compactMap(\.socketAddress).first
            return MeshPeer(key: key, name: n.identity, endpoint: endpoint, addresses: n.addresses,
                            prefixes: [n.network.asPrefix] + n.extraNetworks.map(\.asPrefix))
        }
    }

    /// The keys of the nodes marked `"relay": true`, other than `localKey`, in file order: the relays a node
    /// without a routing protocol fails over to (`StaticMeshRouting.relays`).
    public func relays(localKey: PublicKey?) -> [PublicKey] {
        nodes.compactMap { $0.relay && $0.noiseKey != localKey ? $0.noiseKey : nil }
    }

    /// Nodes without a Noise key: listed in the registry but not reachable by a sluice mesh until one is added.
    public var nodesWithoutKeys: [RegistryNode] { nodes.filter { $0.noiseKey == nil } }

    // MARK: Members

    static func string(_ object: JSONValue, _ name: String, at path: String) throws(RegistryError) -> String {
        guard let v = object[name] else {
            throw RegistryError(line: object.line, path: path + ".\(name)", message: "missing",
                                fix: "add \"\(name)\": \"…\"")
        }
        guard case .string(let s) = v.kind else {
            throw RegistryError(line: v.line, path: path + ".\(name)", message: "is \(v.typeName)", fix: "write it as a string")
        }
        return s
    }

    static func network(_ v: JSONValue, at path: String) throws(RegistryError) -> OverlayNetwork {
        guard case .string(let s) = v.kind, let n = OverlayNetwork(anyFamily: s) else {
            throw RegistryError(line: v.line, path: path, message: "not an address with a prefix length",
                                fix: "write it as \"fd66::1/64\" or \"192.168.128.1/24\"")
        }
        return n
    }

    static func networks(_ v: JSONValue, at path: String) throws(RegistryError) -> [OverlayNetwork] {
        guard case .array(let items) = v.kind else {
            throw RegistryError(line: v.line, path: path, message: "is \(v.typeName)",
                                fix: "list the prefixes: [\"192.168.128.1/24\"]")
        }
        var out: [OverlayNetwork] = []
        for (i, item) in items.enumerated() { out.append(try network(item, at: path + "[\(i)]")) }
        return out
    }

    static func node(_ v: JSONValue, organization: String, at path: String, sawPrefixs: inout Bool,
                     sawExtra: inout Bool) throws(RegistryError) -> RegistryNode {
        guard case .object = v.kind else {
            throw RegistryError(line: v.line, path: path, message: "a node is \(v.typeName)", fix: "write each node as an object")
        }
        let name = try string(v, "common_name", at: path)
        guard !name.isEmpty, !name.contains(","), !name.contains("=") else {
            throw RegistryError(line: v["common_name"]!.line, path: path + ".common_name",
                                message: name.isEmpty ? "empty" : "contains ',' or '=' (aronet builds \"O=…,CN=…\" from it)",
                                fix: "a name of letters, digits, '-' and '.'")
        }
        guard let list = v["endpoints"], case .array(let items) = list.kind else {
            throw RegistryError(line: v["endpoints"]?.line ?? v.line, path: path + ".endpoints",
                                message: v["endpoints"] == nil ? "missing" : "is \(v["endpoints"]!.typeName)",
                                fix: "list the endpoints: [ { \"address\": \"192.0.2.1\" or null, \"port\": 12025 } ]")
        }
        var endpoints: [RegistryEndpoint] = []
        for (i, e) in items.enumerated() { endpoints.append(try endpoint(e, index: i, at: path + ".endpoints[\(i)]")) }
        guard let remarks = v["remarks"], case .object = remarks.kind else {
            throw RegistryError(line: v["remarks"]?.line ?? v.line, path: path + ".remarks",
                                message: v["remarks"] == nil ? "missing" : "is \(v["remarks"]!.typeName)",
                                fix: "add \"remarks\": { \"network\": \"fd66::1/64\" }")
        }
        guard let networkValue = remarks["network"] else {
            throw RegistryError(line: remarks.line, path: path + ".remarks.network", message: "missing",
                                fix: "add \"network\": \"fd66::1/64\" (the node's own prefix)")
        }
        let network = try network(networkValue, at: path + ".remarks.network")
        var extra: [OverlayNetwork] = []
        if let p = remarks["prefixs"] { sawPrefixs = true; extra += try networks(p, at: path + ".remarks.prefixs") }
        if let p = remarks["extra_network"] { sawExtra = true; extra += try networks(p, at: path + ".remarks.extra_network") }
        var noiseKey: PublicKey?
        var addresses: [OverlayNetwork] = []
        if let s = v["sluice"] {
            guard case .object = s.kind else {
                throw RegistryError(line: s.line, path: path + ".sluice", message: "is \(s.typeName)",
                                    fix: "\"sluice\": { \"public_key\": \"<base64>\", \"addresses\": [\"10.99.1.5/24\"] }")
            }
            if s["public_key"] != nil {
                let text = try string(s, "public_key", at: path + ".sluice")
                guard let k = PublicKey(base64: text) else {
                    throw RegistryError(line: s["public_key"]!.line, path: path + ".sluice.public_key",
                                        message: "not a 32-byte key in base64",
                                        fix: "the output of `sluice wg pubkey` for the node's key")
                }
                noiseKey = k
            }
            if let a = s["addresses"] {
                addresses = try networks(a, at: path + ".sluice.addresses")
                if let i = addresses.firstIndex(where: { $0.family != 4 }) {
                    throw RegistryError(line: a.line, path: path + ".sluice.addresses[\(i)]",
                                        message: "an overlay address must be IPv4 for now",
                                        fix: "an address like \"10.99.1.5/24\"")
                }
            }
        }
        var relay = false
        if let r = v["sluice"]?["relay"] {
            guard case .bool(let b) = r.kind else {
                throw RegistryError(line: r.line, path: path + ".sluice.relay", message: "is \(r.typeName)",
                                    fix: "true or false")
            }
            relay = b
        }
        return RegistryNode(organization: organization, commonName: name, endpoints: endpoints, network: network,
                            extraNetworks: extra, noiseKey: noiseKey, addresses: addresses, relay: relay)
    }

    static func endpoint(_ v: JSONValue, index: Int, at path: String) throws(RegistryError) -> RegistryEndpoint {
        guard case .object = v.kind else {
            throw RegistryError(line: v.line, path: path, message: "an endpoint is \(v.typeName)",
                                fix: "write it as { \"address\": \"192.0.2.1\", \"port\": 12025 }")
        }
        var address: String?
        switch v["address"]?.kind {
        case .string(let s)?:
            guard !s.isEmpty, s.utf8.count <= 253, !s.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) else {
                throw RegistryError(line: v["address"]!.line, path: path + ".address", message: "not an address or host name",
                                    fix: "an IP address, a DNS name, or null when the node is behind NAT")
            }
            address = s
        case .null?, nil: address = nil
        default:
            throw RegistryError(line: v["address"]!.line, path: path + ".address", message: "is \(v["address"]!.typeName)",
                                fix: "an IP address or DNS name as a string, or null when the node is behind NAT")
        }
        guard let portValue = v["port"] else {
            throw RegistryError(line: v.line, path: path + ".port", message: "missing", fix: "add \"port\": 12025")
        }
        guard case .number(let text) = portValue.kind, let port = UInt16(text), port > 0 else {
            throw RegistryError(line: portValue.line, path: path + ".port", message: "\(Self.show(portValue)) is not a port",
                                fix: "a whole number from 1 to 65535")
        }
        var serial = UInt32(clamping: index)
        if let s = v["serial_number"] {
            guard case .number(let text) = s.kind, let n = UInt32(text) else {
                throw RegistryError(line: s.line, path: path + ".serial_number", message: "\(Self.show(s)) is not a serial number",
                                    fix: "a whole number from 0 to 4294967295")
            }
            serial = n
        }
        var family: RegistryEndpoint.Family = .ip4
        if let f = v["address_family"] {
            guard case .string(let t) = f.kind, let fam = RegistryEndpoint.Family(rawValue: t) else {
                throw RegistryError(line: f.line, path: path + ".address_family", message: "\(Self.show(f)) is not a family",
                                    fix: "\"ip4\" or \"ip6\"")
            }
            family = fam
        }
        // aronet: a literal address decides the family; a name or null takes address_family (default ip4).
        if let a = address {
            if IPv4Address(a) != nil { family = .ip4 } else if OverlayNetwork(anyFamily: a + "/128")?.family == 6 { family = .ip6 }
        }
        return RegistryEndpoint(address: address, port: port, family: family, serialNumber: serial)
    }

    static func show(_ v: JSONValue) -> String {
        switch v.kind {
        case .number(let t): String(t.prefix(24))
        case .string(let s): "\"\(s.prefix(24))\""
        default: v.typeName
        }
    }

    /// An Ed25519 public key from a PEM SubjectPublicKeyInfo block or raw base64.
    static func ed25519(_ text: String) -> SigningPublicKey? {
        // RFC 8410 §4: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING { 0, key } }.
        let spkiPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        var body = ""
        var inBlock = false, sawBlock = false
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.trimmingCharacters()
            if line == "-----BEGIN PUBLIC KEY-----" { inBlock = true; sawBlock = true; continue }
            if line == "-----END PUBLIC KEY-----" { inBlock = false; continue }
            if inBlock || !text.contains("-----") { body += line }
        }
        guard !inBlock, sawBlock || !text.contains("-----"), let bytes = Base64.decode(body) else { return nil }
        if bytes.count == 44, Array(bytes.prefix(12)) == spkiPrefix { return SigningPublicKey(Array(bytes.suffix(32))) }
        if bytes.count == 32 { return SigningPublicKey(bytes) }
        return nil
    }
}

extension OverlayNetwork {
    /// Parses "a.b.c.d/len" or an IPv6 address with a prefix length ("fd66::1/64"); the address keeps its host bits.
    public init?(anyFamily text: some StringProtocol) {
        if let v4 = OverlayNetwork(text) { self = v4; return }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = UInt8(parts[1]), length <= 128,
              let address = Self.ipv6(parts[0]) else { return nil }
        self.init(family: 6, address: address, prefixLength: length)
    }

    /// RFC 4291 §2.2 text: eight groups of up to four hex digits, one "::" for a run of zeros (no embedded IPv4).
    static func ipv6(_ text: some StringProtocol) -> [UInt8]? {
        let s = String(text)
        guard !s.isEmpty, s.utf8.count <= 39 else { return nil }
        let halves = s.split(separator: "::", maxSplits: 2, omittingEmptySubsequences: false)
            .map { String($0) }
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(g.count), g.allSatisfy(\.isHexDigit), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all: [UInt16]
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard head.count == 8 else { return nil }
            all = head
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// The network this address sits in, host bits cleared (aronet writes "192.168.128.1/24" for 192.168.128.0/24).
    public var asPrefix: OverlayNetwork {
        OverlayNetwork(family: family, address: networkAddress, prefixLength: prefixLength)!
    }
}
