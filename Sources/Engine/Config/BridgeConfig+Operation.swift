// bridge.yml settings for running the real bridge as a service (docs/config.md, docs/operating.md):
// who may connect to its sockets, where its lease database lives, and whether its DHCP servers
// probe an address before offering it. Values and their parsers; the daemon applies them.
import Datapath
import Wire
import YAMLSchema

/// Who may connect to one of the bridge's unix sockets: the file's mode, owner and group, and
/// optionally a check of each peer's credentials (SO_PEERCRED).
public struct SocketAccess: Equatable, Sendable {
    /// Permission bits of the socket file (only 0o777 are used).
    public var mode: UInt16
    /// User that owns the socket file (a name or a number); nil keeps the bridge's own.
    public var owner: String?
    /// Group of the socket file (a name or a number); nil keeps the bridge's own.
    public var group: String?
    /// When set, a peer is accepted only if its user is listed, or its (primary) group is in
    /// `allowedGroups`. Root and the bridge's own user are always accepted.
    public var allowedUsers: [String]?
    public var allowedGroups: [String]?

    public init(mode: UInt16, owner: String? = nil, group: String? = nil) {
        self.mode = mode; self.owner = owner; self.group = group
    }

    /// The control socket's default: the bridge's user only.
    public static let controlDefault = SocketAccess(mode: 0o600)
    /// A vhost-user socket's default: the bridge's user and group (QEMU runs in that group).
    public static let vhostUserDefault = SocketAccess(mode: 0o660)

    /// Whether any peer is checked.
    public var checksPeers: Bool { allowedUsers != nil || allowedGroups != nil }

    static let keys = ["mode", "owner", "group", "allow-users", "allow-groups"]

    /// Reads `mode:`, `owner:`, `group:`, `allow-users:`, `allow-groups:` from a socket's mapping.
    static func parse(_ m: YAMLMapping, defaults: SocketAccess) throws(ConfigError) -> SocketAccess {
        var access = defaults
        if let v = m["mode"] {
            let text = try v.string()
            let digits = text.hasPrefix("0o") ? String(text.dropFirst(2)) : text
            guard !digits.isEmpty, digits.count <= 4, let mode = UInt16(digits, radix: 8), mode <= 0o777 else {
                throw v.error("'\(text)' is not a permission mode", fix: "write octal permission bits in quotes, e.g. mode: \"0660\"")
            }
            guard mode & 0o002 == 0 else {
                throw v.error("mode \(text) lets every local user connect", fix: "drop the 'others' write bit, e.g. mode: \"0660\" and a group")
            }
            access.mode = mode
        }
        func name(_ key: String) throws(ConfigError) -> String? {
            guard let v = m[key] else { return nil }
            let s = try v.string()
            guard Self.isAccountName(s) else {
                throw v.error("'\(s)' is not a user or group name or number", fix: "write a name such as libvirt-qemu or kvm, or a number")
            }
            return s
        }
        func names(_ key: String) throws(ConfigError) -> [String]? {
            guard let v = m[key] else { return nil }
            var list: [String] = []
            for item in try v.list() {
                let s = try item.string()
                guard Self.isAccountName(s) else {
                    throw item.error("'\(s)' is not a user or group name or number", fix: "write a name such as libvirt-qemu, or a number")
                }
                list.append(s)
            }
            return list
        }
        access.owner = try name("owner") ?? access.owner
        access.group = try name("group") ?? access.group
        access.allowedUsers = try names("allow-users")
        access.allowedGroups = try names("allow-groups")
        return access
    }

    /// A POSIX-ish account name (1–32 of letters, digits, '_', '-', '.') or a number.
    static func isAccountName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 32 && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D || b == 0x2E
        }
    }
}

/// Where the real bridge keeps its DHCP leases across restarts (`leases:`).
public enum LeaseDatabaseSetting: Equatable, Sendable {
    /// `<state directory>/<bridge name>/leases`: the state directory is the driver's
    /// (`sluice bridge --state-directory`, default /var/lib/sluice); a driver without one keeps none.
    case automatic
    /// `leases: false`: leases live only as long as the process.
    case off
    /// `leases: /path/to/file`.
    case file(String)

    static func parse(_ v: YAMLValue) throws(ConfigError) -> LeaseDatabaseSetting {
        let text = try v.string()
        if ["false", "no", "off"].contains(text.lowercased()) { return .off }
        guard text.hasPrefix("/"), !text.hasSuffix("/"), text.utf8.count <= 4000, !text.utf8.contains(0) else {
            throw v.error("'\(text)' is not an absolute file path", fix: "write e.g. leases: /var/lib/sluice/br0/leases, or leases: false")
        }
        return .file(text)
    }
}

/// `dhcp.probe`: how long the DHCP server waits for an answer to its ARP probe of an address
/// before offering it.
public enum AddressProbeSetting: Equatable, Sendable {
    /// The driver decides: the real bridge probes for `BridgeConfig.defaultProbeTimeout`; the
    /// simulator does not probe (its captures stay as they were before probing existed).
    case automatic
    /// `probe: false`.
    case off
    /// `probe: 300ms` (above zero, at most 10 s).
    case timeout(Duration)

    static func parse(_ v: YAMLValue) throws(ConfigError) -> AddressProbeSetting {
        let text = try v.string()
        if ["false", "no", "off"].contains(text.lowercased()) { return .off }
        let d = try v.duration()
        guard d > .zero, d <= .seconds(10) else {
            throw v.error("probe timeout \(text) is out of range", fix: "use 1ms to 10s (e.g. probe: 500ms), or probe: false")
        }
        return .timeout(d)
    }
}

extension BridgeConfig {
    /// How long the real bridge waits for an answer to a DHCP address probe unless `dhcp.probe`
    /// says otherwise: long enough for a host on the segment to answer an ARP request, short
    /// against the 4 s a client waits before retransmitting its DHCPDISCOVER (RFC 2131 §4.1).
    public static let defaultProbeTimeout = Duration.milliseconds(500)

    /// This configuration with every `probe: automatic` made `timeout` (the real bridge's
    /// default) — what the daemon runs.
    public func resolvingAutomaticProbes(to timeout: Duration = BridgeConfig.defaultProbeTimeout) -> BridgeConfig {
        var c = self
        guard var router = c.router else { return c }
        for i in router.interfaces.indices where router.interfaces[i].dhcp?.probe == .automatic {
            router.interfaces[i].dhcp?.probe = .timeout(timeout)
        }
        c.router = router
        return c
    }

    /// The lease database file for state directory `stateDirectory` (nil: the driver has none).
    public func leaseDatabasePath(stateDirectory: String?) -> String? {
        switch leases {
        case .off: return nil
        case .file(let path): return path
        case .automatic:
            // The name as one path component: no '/', no leading '.'.
            let safe = String(name.map { $0 == "/" ? "_" : $0 })
            let component = safe.hasPrefix(".") || safe.isEmpty ? "_" + safe : safe
            return stateDirectory.map { "\($0)/\(component)/leases" }
        }
    }
}
