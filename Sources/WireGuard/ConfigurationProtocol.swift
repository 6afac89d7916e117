// WireGuard's cross-platform userspace configuration protocol ("Cross-platform Userspace Implementation",
// wireguard.com/xplatform, "Configuration Protocol"), sans-IO: what `wg(8)` speaks over
// /var/run/wireguard/<interface>.sock to a userspace implementation such as wireguard-go.
//
//   get=1\n\n                      → the device as key=value lines, then errno=0\n\n
//   set=1\nkey=value\n…\n\n        → errno=0\n\n, or errno=N\n\n and nothing changed
//
// Keys of a set, in order: the interface's (private_key, listen_port, fwmark, replace_peers), then per peer a
// public_key line followed by that peer's (remove, update_only, preshared_key, endpoint,
// persistent_keepalive_interval, replace_allowed_ips, allowed_ip, protocol_version). Keys are lower-case hex,
// numbers decimal. A get also returns per peer last_handshake_time_sec/_nsec, rx_bytes and tx_bytes.
//
// Unlike wireguard-go, which applies each line as it reads it (a bad line in the middle leaves the lines before it
// applied), a set transaction here is parsed and checked whole first (`ConfigurationSet.parse`, then
// `WireGuardDevice.check`) and only then applied (`apply`), which cannot fail: an error leaves the device as it
// was. Error numbers are wireguard-go's: negative errno values (wg(8) reports `-N` as errno N).

import Basics
import Crypto
import Wire

/// A rejected operation: the errno reply and a reason for the log.
public struct ConfigurationProtocolError: Error, Equatable, CustomStringConvertible {
    /// The value of the `errno=` reply (negative, as wireguard-go sends it).
    public var errno: Int32
    public var reason: String
    public var description: String { "errno=\(errno): \(reason)" }

    /// wireguard-go ipc: IpcErrorInvalid (−EINVAL), IpcErrorProtocol (−EPROTO), IpcErrorPortInUse (−EADDRINUSE),
    /// IpcErrorIO (−EIO); and −E2BIG for a transaction over `ConfigurationProtocol.maximumTransaction`.
    public static func invalid(_ reason: String) -> Self { .init(errno: -22, reason: reason) }
    public static func protocolError(_ reason: String) -> Self { .init(errno: -71, reason: reason) }
    public static func portInUse(_ reason: String) -> Self { .init(errno: -98, reason: reason) }
    public static func io(_ reason: String) -> Self { .init(errno: -5, reason: reason) }
    public static func tooBig(_ reason: String) -> Self { .init(errno: -7, reason: reason) }
}

/// The protocol's limits and fixed values.
public enum ConfigurationProtocol {
    /// The only protocol_version there is.
    public static let protocolVersion = 1
    /// wireguard-go's MaxPeers.
    public static let maximumPeers = 1 << 16
    /// The largest set transaction accepted (about 40 000 peers with an allowed IP each).
    public static let maximumTransaction = 8 << 20
}

/// One `public_key=` block of a set transaction.
public struct PeerChange: Sendable {
    public var publicKey: PublicKey
    /// `remove=true`: the peer goes (the block's other lines do nothing).
    public var remove = false
    /// `update_only=true`: a peer that does not exist yet is not created (the block does nothing).
    public var updateOnly = false
    public var update = PeerUpdate()
    /// IPv6 `allowed_ip` values: checked and accepted, but not routed (the device is IPv4 only).
    public var ignoredIPv6 = 0
}

/// A parsed, checked set transaction.
public struct ConfigurationSet: Sendable {
    /// `private_key=`: `.some(nil)` for a zero key (none).
    public var privateKey: SecretKey??
    public var listenPort: UInt16?
    public var fwmark: UInt32?
    public var replacePeers = false
    public var peers: [PeerChange] = []

    public init() {}

    /// Parses the lines of a set transaction (without `set=1` and the terminating blank line).
    public static func parse(_ text: Substring) throws(ConfigurationProtocolError) -> ConfigurationSet {
        var set = ConfigurationSet()
        var peer: PeerChange?
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            guard let eq = line.firstIndex(of: "=") else {
                throw .protocolError("line \(lineNumber): no '=' in \"\(line.prefix(64))\"")
            }
            let key = line[..<eq], value = line[line.index(after: eq)...]
            func bad(_ what: String) -> ConfigurationProtocolError {
                .invalid("line \(lineNumber): \(key)=\(value.prefix(80)): \(what)")
            }
            if key == "public_key" {
                if let p = peer { set.peers.append(p) }
                guard let k = hexKey(value) else { throw bad("not 64 hex digits") }
                peer = PeerChange(publicKey: PublicKey(k)!)
                continue
            }
            if peer == nil {
                switch key {
                case "private_key":
                    guard let k = hexKey(value) else { throw bad("not 64 hex digits") }
                    let secret = SecretKey(k)!
                    set.privateKey = .some(secret.isZero ? nil : secret)
                case "listen_port":
                    guard let n = decimal(value, max: UInt64(UInt16.max)) else { throw bad("not a port (0-65535)") }
                    set.listenPort = UInt16(n)
                case "fwmark":
                    guard let n = decimal(value, max: UInt64(UInt32.max)) else { throw bad("not a mark (0-4294967295)") }
                    set.fwmark = UInt32(n)
                case "replace_peers":
                    guard value == "true" else { throw bad("the only value is true") }
                    set.replacePeers = true
                default:
                    throw .invalid("line \(lineNumber): invalid UAPI device key: \(key.prefix(64))")
                }
                continue
            }
            switch key {
            case "remove":
                guard value == "true" else { throw bad("the only value is true") }
                peer!.remove = true
            case "update_only":
                guard value == "true" else { throw bad("the only value is true") }
                peer!.updateOnly = true
            case "preshared_key":
                guard let k = hexKey(value) else { throw bad("not 64 hex digits") }
                peer!.update.presharedKey = SecretKey(k)!
            case "endpoint":
                guard let e = SocketAddressV4(value), value.utf8.allSatisfy({ $0 != UInt8(ascii: "+") }) else {
                    throw bad(value.hasPrefix("[") ? "IPv6 endpoints are not supported" : "not a.b.c.d:port")
                }
                peer!.update.endpoint = e
            case "persistent_keepalive_interval":
                guard let n = decimal(value, max: UInt64(UInt16.max)) else { throw bad("not 0-65535 seconds") }
                peer!.update.persistentKeepaliveSeconds = UInt16(n)
            case "replace_allowed_ips":
                guard value == "true" else { throw bad("the only value is true") }
                peer!.update.replaceAllowedIPs = true
                peer!.update.allowedIPs = []
            case "allowed_ip":
                if let network = IPv4Network(value) {
                    peer!.update.allowedIPs.append(network)
                } else if isIPv6Prefix(value) {
                    peer!.ignoredIPv6 += 1
                } else {
                    throw bad("not an address/prefix")
                }
            case "protocol_version":
                guard value == "1" else { throw bad("the only protocol version is 1") }
            default:
                throw .invalid("line \(lineNumber): invalid UAPI peer key: \(key.prefix(64))")
            }
        }
        if let p = peer { set.peers.append(p) }
        return set
    }

    /// 64 hex digits → 32 bytes.
    static func hexKey(_ text: Substring) -> [UInt8]? {
        guard text.utf8.count == 64 else { return nil }
        return [UInt8](hex: String(text))
    }

    /// Plain decimal digits (no sign, no space), at most `max`; nil otherwise (also on overflow).
    static func decimal(_ text: Substring, max: UInt64) -> UInt64? {
        guard !text.isEmpty, text.utf8.count <= 20 else { return nil }
        var n: UInt64 = 0
        for c in text.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            guard !o1, !o2, s <= max else { return nil }
            n = s
        }
        return n
    }

    /// A plausible IPv6 prefix: hex digits, colons and dots (an embedded IPv4), a /0-128 length.
    static func isIPv6Prefix(_ text: Substring) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = parts.first, address.contains(":"), address.utf8.count <= 45,
              address.utf8.allSatisfy({ $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || ($0 < 128 && Character(Unicode.Scalar($0)).isHexDigit) })
        else { return false }
        if parts.count == 2 { return decimal(parts[1], max: 128) != nil }
        return true
    }
}

/// What the driver owns and a get reports besides the device: the socket's port and mark.
public struct InterfaceSocketSettings: Sendable, Equatable {
    public var listenPort: UInt16
    public var fwmark: UInt32
    public init(listenPort: UInt16, fwmark: UInt32) { self.listenPort = listenPort; self.fwmark = fwmark }
}

extension WireGuardDevice {
    /// Whether `set` can be applied: the peer count stays within `ConfigurationProtocol.maximumPeers`.
    public func check(_ set: ConfigurationSet) throws(ConfigurationProtocolError) {
        var present: Set<PublicKey> = set.replacePeers ? [] : Set(peerByKey.keys)
        for change in set.peers {
            if change.remove { present.remove(change.publicKey); continue }
            if change.updateOnly, !present.contains(change.publicKey) { continue }
            present.insert(change.publicKey)
            if present.count > ConfigurationProtocol.maximumPeers {
                throw .invalid("more than \(ConfigurationProtocol.maximumPeers) peers")
            }
        }
    }

    /// Applies a checked set transaction (the driver has already rebound its socket for `listenPort`/`fwmark`).
    /// Returns the peers created.
    @discardableResult
    public func apply(_ set: ConfigurationSet, now: Instant) -> [PeerID] {
        if let key = set.privateKey { setPrivateKey(key) }
        if set.replacePeers { removeAllPeers() }
        var created: [PeerID] = []
        for change in set.peers {
            if change.remove { removePeer(change.publicKey); continue }
            if change.updateOnly, peer(for: change.publicKey) == nil { continue }
            // A block for our own public key is ignored, as wireguard-go does.
            guard change.publicKey != publicKey || !hasPrivateKey else { continue }
            if let result = configurePeer(change.publicKey, change.update, now: now), result.created {
                created.append(result.peer)
            }
        }
        // Replaced allowed IPs leave empty nodes behind; drop them once per transaction.
        routes = routes.compacted()
        return created
    }

    /// The reply to `get=1` (without the `errno=0` line): the interface, then each peer.
    public func configurationText(socket: InterfaceSocketSettings, now: Instant) -> String {
        var out = ""
        func line(_ key: String, _ value: String) { out += key; out += "="; out += value; out += "\n" }
        if hasPrivateKey { line("private_key", identity.privateKey.withUnsafeBytes { Array($0) }.hex) }
        if socket.listenPort != 0 { line("listen_port", "\(socket.listenPort)") }
        if socket.fwmark != 0 { line("fwmark", "\(socket.fwmark)") }
        var networks: [Int: [IPv4Network]] = [:]
        for (network, peer) in routes.entries { networks[peer, default: []].append(network) }
        for peer in peers where !peer.isRemoved {
            line("public_key", peer.publicKey.bytes.hex)
            line("preshared_key", peer.handshake.presharedKey.withUnsafeBytes { Array($0) }.hex)
            line("protocol_version", "\(ConfigurationProtocol.protocolVersion)")
            if let endpoint = peer.endpoint { line("endpoint", endpoint.description) }
            let nanoseconds = peer.lastHandshake.map { wallClock.unixNanoseconds(at: $0) } ?? 0
            line("last_handshake_time_sec", "\(nanoseconds / 1_000_000_000)")
            line("last_handshake_time_nsec", "\(nanoseconds % 1_000_000_000)")
            line("tx_bytes", "\(peer.sentBytes)")
            line("rx_bytes", "\(peer.receivedBytes)")
            line("persistent_keepalive_interval", "\(persistentKeepaliveSeconds(of: peer))")
            for network in networks[peer.id.rawValue] ?? [] { line("allowed_ip", network.description) }
        }
        return out
    }
}
