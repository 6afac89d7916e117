// The gate's routing rules: an ordered table, first match wins. A rule matches a stream when every
// criterion it names matches (each criterion a list: any entry matches); a rule with no criteria
// matches everything. Read from gate.yml's `rules:` with located errors (docs/streams.md).
import Wire
import YAMLSchema

/// What a gate knows about a stream when it picks a route.
public struct StreamContext: Sendable {
    public var listener: String
    public var destination: StreamDestination
    public var serverName: String?
    public var alpn: [String]
    /// The caller's identity and groups (opaque strings for now; from its mesh certificate later).
    public var identity: String?
    public var groups: [String]

    public init(listener: String, destination: StreamDestination, serverName: String? = nil, alpn: [String] = [],
                identity: String? = nil, groups: [String] = []) {
        self.listener = listener; self.destination = destination; self.serverName = serverName; self.alpn = alpn
        self.identity = identity; self.groups = groups
    }
}

public enum GateAction: Equatable, Sendable {
    case direct
    /// Carried over the mesh to this node's gate (not built yet: see docs/streams.md).
    case via(String)
    /// Refused with the protocol's error: SOCKS5 X'02', HTTP 403, TLS close.
    case reject

    public var socks5Reply: SOCKS5.ReplyCode? { self == .reject ? .notAllowedByRuleset : nil }
    public var httpRefusal: HTTPConnect.Refusal? { self == .reject ? .ruleRejected : nil }
}

/// A host pattern: an exact name, "*.suffix" (any name strictly below suffix) or ".suffix" (suffix
/// itself or below), an IPv4 or IPv6 CIDR.
public enum HostPattern: Equatable, Sendable {
    case name(String)
    case suffix(String, includingApex: Bool)
    case ipv4(IPv4Network)
    case ipv6(IPv6Network)

    public init?(_ text: String) {
        if let n = IPv4Network(text) { self = .ipv4(n); return }
        if let a = IPv4Address(text) { self = .ipv4(IPv4Network(address: a, prefixLength: 32)!); return }
        if let n = IPv6Network(text) { self = .ipv6(n); return }
        if let a = IPv6Address(text) { self = .ipv6(IPv6Network(address: a, prefixLength: 128)!); return }
        if text.hasPrefix("*.") {
            guard let s = StreamHost.validName(Array(text.utf8.dropFirst(2))) else { return nil }
            self = .suffix(s, includingApex: false)
        } else if text.hasPrefix(".") {
            guard let s = StreamHost.validName(Array(text.utf8.dropFirst())) else { return nil }
            self = .suffix(s, includingApex: true)
        } else {
            guard let s = StreamHost.validName(Array(text.utf8)) else { return nil }
            self = .name(s)
        }
    }

    /// Names are compared lowercased; a name never matches a CIDR (it is resolved at the egress, after routing).
    public func matches(_ host: StreamHost) -> Bool {
        switch (self, host) {
        case (.ipv4(let n), .ipv4(let a)): n.contains(a)
        case (.ipv6(let n), .ipv6(let a)): n.contains(a)
        case (.name(let p), .name(let n)): p == n
        case (.suffix(let s, let apex), .name(let n)): (apex && n == s) || n.hasSuffix("." + s)
        default: false
        }
    }

    public func matches(name: String) -> Bool {
        guard let n = StreamHost.validName(Array(name.utf8)) else { return false }
        switch self {
        case .name, .suffix: return matches(.name(n))
        default: return false
        }
    }
}

public struct GateRule: Equatable, Sendable {
    public var name: String?
    public var destinations: [HostPattern] = []
    public var ports: [ClosedRange<UInt16>] = []
    public var serverNames: [HostPattern] = []
    public var alpn: [String] = []
    public var listeners: [String] = []
    public var identities: [String] = []
    public var groups: [String] = []
    public var action: GateAction

    public init(name: String? = nil, action: GateAction) { self.name = name; self.action = action }

    public func matches(_ s: StreamContext) -> Bool {
        if !destinations.isEmpty, !destinations.contains(where: { $0.matches(s.destination.host) }) { return false }
        if !ports.isEmpty, !ports.contains(where: { $0.contains(s.destination.port) }) { return false }
        if !serverNames.isEmpty {
            guard let sni = s.serverName, serverNames.contains(where: { $0.matches(name: sni) }) else { return false }
        }
        if !alpn.isEmpty, !s.alpn.contains(where: { alpn.contains($0) }) { return false }
        if !listeners.isEmpty, !listeners.contains(s.listener) { return false }
        if !identities.isEmpty {
            guard let id = s.identity, identities.contains(id) else { return false }
        }
        if !groups.isEmpty, !s.groups.contains(where: { groups.contains($0) }) { return false }
        return true
    }
}

public struct GateRules: Equatable, Sendable {
    public var rules: [GateRule]
    /// The action when no rule matches.
    public var fallback: GateAction

    public init(rules: [GateRule], fallback: GateAction = .reject) { self.rules = rules; self.fallback = fallback }

    /// The first matching rule's index (nil for the fallback) and its action.
    public func route(_ s: StreamContext) -> (rule: Int?, action: GateAction) {
        for (i, r) in rules.enumerated() where r.matches(s) { return (i, r.action) }
        return (nil, fallback)
    }

    static let ruleKeys = ["name", "destination", "port", "sni", "alpn", "listener", "identity", "group", "action", "via"]

    /// Reads `rules:` and `default:` from a gate.yml mapping (other keys are the caller's).
    public static func parse(_ root: YAMLMapping) throws(ConfigError) -> GateRules {
        var rules: [GateRule] = []
        if let list = root["rules"] {
            for item in try list.list() {
                rules.append(try parseRule(item))
            }
        }
        var fallback = GateAction.reject
        if let d = root["default"] {
            switch try d.scalar() {
            case "direct": fallback = .direct
            case "reject": fallback = .reject
            case let s: throw d.error("'\(s)' is not a default action", fix: "use direct or reject (\(didYouMean(s, in: ["direct", "reject"])))")
            }
        }
        return GateRules(rules: rules, fallback: fallback)
    }

    /// A gate.yml document holding only rules (the listeners' keys come with the listeners).
    public static func parse(_ text: String, file: String) throws(ConfigError) -> GateRules {
        let root = try YAMLValue.parse(text, file: file).mapping(allowed: ["rules", "default"])
        return try parse(root)
    }

    static func parseRule(_ v: YAMLValue) throws(ConfigError) -> GateRule {
        let m = try v.mapping(allowed: ruleKeys)
        let actionValue = try m.required("action", example: "direct")
        let via = try m["via"].map { x throws(ConfigError) in try x.scalar() }
        let action: GateAction
        switch try actionValue.scalar() {
        case "direct": action = .direct
        case "reject": action = .reject
        case "via":
            guard let node = via, !node.isEmpty else {
                throw actionValue.error("action via needs the node to carry the stream to", fix: "add via: <node name>")
            }
            action = .via(node)
        case let s:
            throw actionValue.error("'\(s)' is not an action", fix: "use direct, reject or via (\(didYouMean(s, in: ["direct", "reject", "via"])))")
        }
        if via != nil, action != .via(via ?? "") {
            throw m["via"]!.error("via is only for action: via", fix: "remove via, or set action: via")
        }
        var rule = GateRule(name: try m["name"].map { x throws(ConfigError) in try x.scalar() }, action: action)
        rule.destinations = try patterns(m["destination"], example: "10.0.0.0/8, db.example.com, *.example.com")
        rule.serverNames = try patterns(m["sni"], example: "www.example.com or *.example.com")
        for p in rule.serverNames {
            if case .name = p { continue }
            if case .suffix = p { continue }
            throw m["sni"]!.error("sni matches names, not addresses", fix: "use a name such as www.example.com or *.example.com")
        }
        rule.alpn = try strings(m["alpn"])
        rule.listeners = try strings(m["listener"])
        rule.identities = try strings(m["identity"])
        rule.groups = try strings(m["group"])
        for item in try items(m["port"]) {
            let s = try item.scalar()
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            let bounds = parts.map { UInt16($0) }
            guard (1...2).contains(parts.count), bounds.allSatisfy({ $0 != nil && $0! >= 1 }), bounds.first!! <= bounds.last!! else {
                throw item.error("'\(s)' is not a port or port range", fix: "use a port 1-65535 or a range such as 8000-8100")
            }
            rule.ports.append(bounds.first!!...bounds.last!!)
        }
        return rule
    }

    /// A scalar or a list of scalars.
    static func items(_ v: YAMLValue?) throws(ConfigError) -> [YAMLValue] {
        guard let v else { return [] }
        if case .sequence = v.node { return try v.list() }
        return [v]
    }

    static func strings(_ v: YAMLValue?) throws(ConfigError) -> [String] {
        var out: [String] = []
        for item in try items(v) {
            let s = try item.scalar()
            guard !s.isEmpty else { throw item.error("empty value", fix: "remove it or give a value") }
            out.append(s)
        }
        return out
    }

    static func patterns(_ v: YAMLValue?, example: String) throws(ConfigError) -> [HostPattern] {
        var out: [HostPattern] = []
        for item in try items(v) {
            let s = try item.scalar()
            guard let p = HostPattern(s) else {
                throw item.error("'\(s)' is not a CIDR, address, name, *.suffix or .suffix", fix: "use e.g. \(example)")
            }
            out.append(p)
        }
        return out
    }
}
