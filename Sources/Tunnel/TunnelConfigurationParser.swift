// The line reader for wg-quick style files. wg(8): "The configuration file format is based on INI. There are two
// top level sections -- Interface and Peer. Multiple Peer sections may be specified". Section names and keys are
// case-insensitive, '#' starts a comment, list values are comma-separated and repeated list keys add up.
//
// Stricter than wg where strictness helps: an unknown key, a repeated single-valued key, a section missing its key
// are errors that name file:line and say what to write instead.

import Basics
import Crypto
import Wire
import WireGuard

struct TunnelConfigurationParser {
    let file: String

    enum Section { case none, interface, peer, sluice }

    /// A `[Peer]` section while it is being read.
    struct PendingPeer {
        var line: Int
        var publicKey: PublicKey?
        var presharedKey: SecretKey?
        var endpoint: SocketAddressV4?
        var allowedIPs: [IPv4Network] = []
        var persistentKeepalive: Duration?
        var seen: Set<String> = []
    }

    /// wg-quick keys that mean something to wg-quick but nothing here: accepted with a warning.
    static let ignoredInterfaceKeys = ["dns", "table", "preup", "postup", "predown", "postdown", "saveconfig", "fwmark"]

    func parse(_ text: String) throws(TunnelConfigError) -> TunnelConfiguration {
        var section = Section.none
        var sawInterface = false
        var interfaceLine = 0
        var privateKey: SecretKey?
        var listenPort: UInt16?
        var addresses: [IPv4Network] = []
        var mtu: Int?
        var interfaceSeen: Set<String> = []
        var sluice = SluiceSettings()
        var sluiceSeen: Set<String> = []
        var peers: [PendingPeer] = []
        var warnings: [TunnelConfigWarning] = []

        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = lineNumber
            var content = Substring(rawLine)
            if let hash = content.firstIndex(of: "#") { content = content[..<hash] }
            let trimmed = content.trimmingSpaces
            if trimmed.isEmpty { continue }

            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else {
                    throw error(line, "section header '\(trimmed)' has no closing ']'", fix: "write [Interface], [Peer] or [Sluice]")
                }
                let name = trimmed.dropFirst().dropLast().trimmingSpaces.lowercased()
                switch name {
                case "interface":
                    guard !sawInterface else {
                        throw error(line, "a second [Interface] section (the first is on line \(interfaceLine))",
                                    fix: "merge the two [Interface] sections into one")
                    }
                    sawInterface = true
                    interfaceLine = line
                    section = .interface
                case "peer":
                    peers.append(PendingPeer(line: line))
                    section = .peer
                case "sluice":
                    section = .sluice
                default:
                    throw error(line, "unknown section [\(trimmed.dropFirst().dropLast())]",
                                fix: "the sections are [Interface], [Peer] and [Sluice]")
                }
                continue
            }

            guard let equals = trimmed.firstIndex(of: "=") else {
                throw error(line, "'\(trimmed)' is not a 'Key = Value' line", fix: "write Key = Value, or start a comment with '#'")
            }
            let key = trimmed[..<equals].trimmingSpaces
            let value = trimmed[trimmed.index(after: equals)...].trimmingSpaces
            let lowered = key.lowercased()
            guard !key.isEmpty else { throw error(line, "a line with '=' but no key", fix: "write Key = Value") }

            switch section {
            case .none:
                throw error(line, "'\(key)' comes before any section", fix: "put it under [Interface] or [Peer]")

            case .interface:
                if Self.ignoredInterfaceKeys.contains(lowered) {
                    warnings.append(TunnelConfigWarning(file: file, line: line,
                                                        message: "\(key) is a wg-quick setting that sluice wg ignores"))
                    continue
                }
                let isList = lowered == "address"
                if !isList, !interfaceSeen.insert(lowered).inserted {
                    throw error(line, "\(key) is given twice in [Interface]", fix: "keep one \(key) line")
                }
                switch lowered {
                case "privatekey":
                    guard privateKey == nil else { throw error(line, "PrivateKey and PrivateKeyFile are both given", fix: "keep one of them") }
                    privateKey = try secretKey(value, key: key, line: line)
                case "privatekeyfile":
                    guard privateKey == nil else { throw error(line, "PrivateKey and PrivateKeyFile are both given", fix: "keep one of them") }
                    privateKey = try keyFile(value, key: key, line: line)
                case "listenport":
                    guard let port = UInt16(value) else {
                        throw error(line, "ListenPort '\(value)' is not a port number", fix: "write a number from 0 to 65535")
                    }
                    listenPort = port
                case "address":
                    addresses += try ipv4Networks(value, key: key, name: "Address", line: line, warnings: &warnings,
                                                  what: "an IPv4 address with a prefix length", fix: "write it like 10.0.0.1/24")
                case "mtu":
                    guard let n = Int(value), (576...65535).contains(n) else {
                        throw error(line, "MTU '\(value)' is not a number from 576 to 65535",
                                    fix: "write MTU = 1420 (wg-quick's default), or leave it out")
                    }
                    mtu = n
                default:
                    throw error(line, "unknown key '\(key)' in [Interface]",
                                fix: "[Interface] takes PrivateKey, PrivateKeyFile, ListenPort, Address and MTU")
                }

            case .peer:
                var peer = peers[peers.count - 1]
                let isList = lowered == "allowedips"
                if !isList, !peer.seen.insert(lowered).inserted {
                    throw error(line, "\(key) is given twice in the [Peer] section of line \(peer.line)", fix: "keep one \(key) line")
                }
                switch lowered {
                case "publickey":
                    guard let k = PublicKey(base64: String(value)) else { throw badKey(value, key: key, line: line) }
                    peer.publicKey = k
                case "presharedkey":
                    guard peer.presharedKey == nil else { throw error(line, "PresharedKey and PresharedKeyFile are both given", fix: "keep one of them") }
                    peer.presharedKey = try secretKey(value, key: key, line: line)
                case "presharedkeyfile":
                    guard peer.presharedKey == nil else { throw error(line, "PresharedKey and PresharedKeyFile are both given", fix: "keep one of them") }
                    peer.presharedKey = try keyFile(value, key: key, line: line)
                case "endpoint":
                    peer.endpoint = try endpoint(value, line: line)
                case "allowedips":
                    peer.allowedIPs += try ipv4Networks(value, key: key, name: "AllowedIPs", line: line, warnings: &warnings,
                                                        what: "an IPv4 network", fix: "write networks like 10.0.0.2/32, separated by commas")
                case "persistentkeepalive":
                    if value.lowercased() == "off" { break }
                    guard let seconds = UInt16(value) else {
                        throw error(line, "PersistentKeepalive '\(value)' is not a number of seconds",
                                    fix: "write a number from 1 to 65535, or 'off'")
                    }
                    peer.persistentKeepalive = seconds == 0 ? nil : .seconds(Int64(seconds))
                default:
                    throw error(line, "unknown key '\(key)' in [Peer]",
                                fix: "[Peer] takes PublicKey, PresharedKey, PresharedKeyFile, Endpoint, AllowedIPs and PersistentKeepalive")
                }
                peers[peers.count - 1] = peer

            case .sluice:
                guard sluiceSeen.insert(lowered).inserted else {
                    throw error(line, "\(key) is given twice in [Sluice]", fix: "keep one \(key) line")
                }
                switch lowered {
                case "rekeyaftermessages":
                    sluice.rekeyAfterMessages = try count(value, key: key, line: line)
                case "rejectaftermessages":
                    sluice.rejectAfterMessages = try count(value, key: key, line: line)
                case "handshakeinterval":
                    guard let s = Int64(value), s >= 5 else {
                        throw error(line, "HandshakeInterval '\(value)' is not a number of seconds ≥ 5",
                                    fix: "write at least 5: a handshake is never sent more than once every Rekey-Timeout (5 s)")
                    }
                    sluice.handshakeInterval = .seconds(s)
                case "statusinterval":
                    guard let s = Int64(value), s >= 0 else {
                        throw error(line, "StatusInterval '\(value)' is not a number of seconds", fix: "write a number; 0 turns it off")
                    }
                    sluice.statusInterval = s == 0 ? nil : .seconds(s)
                case "tunoffload":
                    sluice.tunOffload = try onOff(value, key: key, line: line)
                case "udpoffload":
                    sluice.udpOffload = try onOff(value, key: key, line: line)
                default:
                    throw error(line, "unknown key '\(key)' in [Sluice]",
                                fix: "[Sluice] takes RekeyAfterMessages, RejectAfterMessages, HandshakeInterval, StatusInterval, TUNOffload and UDPOffload")
                }
            }
        }

        guard sawInterface else {
            throw TunnelConfigError(file: file, line: nil, message: "no [Interface] section",
                                    fix: "start the file with [Interface] and a PrivateKey line")
        }
        guard let privateKey else {
            throw error(interfaceLine, "[Interface] has no PrivateKey",
                        fix: "add PrivateKey = <the output of sluice wg genkey>, or PrivateKeyFile = <path>")
        }
        if let reject = sluice.rejectAfterMessages, let rekey = sluice.rekeyAfterMessages, rekey >= reject {
            warnings.append(TunnelConfigWarning(file: file, line: interfaceLine,
                                                message: "RekeyAfterMessages ≥ RejectAfterMessages: sessions end before a rekey starts"))
        }
        let ourPublicKey = KeyPair(privateKey: privateKey).publicKey
        var configurations: [PeerConfiguration] = []
        var keysSeen: [PublicKey: Int] = [:]
        for peer in peers {
            guard let publicKey = peer.publicKey else {
                throw error(peer.line, "this [Peer] has no PublicKey", fix: "add PublicKey = <the peer's sluice wg pubkey output>")
            }
            if let first = keysSeen[publicKey] {
                throw error(peer.line, "this [Peer] has the same PublicKey as the [Peer] on line \(first)",
                            fix: "merge the two sections, or correct the key")
            }
            if publicKey == ourPublicKey {
                throw error(peer.line, "this [Peer]'s PublicKey is this interface's own",
                            fix: "use the other side's public key (sluice wg pubkey < its private key)")
            }
            keysSeen[publicKey] = peer.line
            configurations.append(PeerConfiguration(publicKey: publicKey, presharedKey: peer.presharedKey, endpoint: peer.endpoint,
                                                    allowedIPs: peer.allowedIPs, persistentKeepalive: peer.persistentKeepalive))
        }
        return TunnelConfiguration(
            interface: InterfaceSettings(privateKey: privateKey, listenPort: listenPort, addresses: addresses, mtu: mtu),
            peers: configurations, sluice: sluice, warnings: warnings)
    }

    // MARK: Values

    func error(_ line: Int, _ message: String, fix: String? = nil) -> TunnelConfigError {
        TunnelConfigError(file: file, line: line, message: message, fix: fix)
    }

    func list(_ value: Substring, key: Substring, line: Int) throws(TunnelConfigError) -> [Substring] {
        let items = value.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmingSpaces)
        guard !items.contains(where: \.isEmpty) else {
            throw error(line, "\(key) has an empty item", fix: "separate the items with single commas")
        }
        return items
    }

    /// A comma-separated list of IPv4 networks (`name` as the user should read it); IPv6 items are
    /// skipped with a warning, anything else unreadable is an error.
    func ipv4Networks(_ value: Substring, key: Substring, name: String, line: Int, warnings: inout [TunnelConfigWarning],
                      what: String, fix: String) throws(TunnelConfigError) -> [IPv4Network] {
        var networks: [IPv4Network] = []
        for item in try list(value, key: key, line: line) {
            if item.contains(":") {
                warnings.append(TunnelConfigWarning(file: file, line: line,
                                                    message: "\(name) \(item) is IPv6; sluice wg carries IPv4 only and skips it"))
                continue
            }
            guard let network = IPv4Network(item) else {
                throw error(line, "\(name) '\(item)' is not \(what)", fix: fix)
            }
            networks.append(network)
        }
        return networks
    }

    func onOff(_ value: Substring, key: Substring, line: Int) throws(TunnelConfigError) -> Bool {
        switch value.lowercased() {
        case "on", "true", "yes": return true
        case "off", "false", "no": return false
        default: throw error(line, "\(key) '\(value)' is neither on nor off", fix: "write \(key) = on or \(key) = off")
        }
    }

    func count(_ value: Substring, key: Substring, line: Int) throws(TunnelConfigError) -> UInt64 {
        guard let n = UInt64(value), n > 0 else {
            throw error(line, "\(key) '\(value)' is not a positive whole number", fix: "write a count such as 1000")
        }
        return n
    }

    func secretKey(_ value: Substring, key: Substring, line: Int) throws(TunnelConfigError) -> SecretKey {
        guard let k = SecretKey(base64: String(value)) else { throw badKey(value, key: key, line: line) }
        return k
    }

    func badKey(_ value: Substring, key: Substring, line: Int) -> TunnelConfigError {
        error(line, "\(key) is not a WireGuard key: \(Self.keyProblem(value))",
              fix: key.lowercased() == "publickey" ? "paste the peer's key as printed by sluice wg pubkey (or wg pubkey)"
                                                   : "paste a key made by sluice wg \(key.lowercased() == "privatekey" ? "genkey" : "genpsk")")
    }

    /// Why `text` is not a key, without echoing secrets.
    static func keyProblem(_ text: Substring) -> String {
        let n = text.utf8.count
        if n == 64, [UInt8](hex: String(text)) != nil { return "64 hex digits; WireGuard keys are written in base64 (44 characters)" }
        if n != KeyBase64.encodedLength { return "\(n) characters; a key is 44 characters of base64 ending in '='" }
        return "44 characters, but not the base64 of 32 bytes (a character outside A–Z a–z 0–9 + / or a missing '=')"
    }

    func keyFile(_ value: Substring, key: Substring, line: Int) throws(TunnelConfigError) -> SecretKey {
        guard !value.isEmpty else { throw error(line, "\(key) is empty", fix: "write the path of a key file") }
        var path = String(value)
        if !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") { path = String(file[...slash]) + path }
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path) } catch {
            throw self.error(line, "\(key) \(path): cannot read it: \(error)", fix: "check the path (relative paths start at the configuration's directory)")
        }
        // Like wg(8)'s key files: the key, then optional trailing whitespace.
        var end = bytes.count
        while end > 0, [9, 10, 13, 32].contains(bytes[end - 1]) { end -= 1 }
        let text = String(decoding: bytes[0..<end], as: UTF8.self)
        guard let k = SecretKey(base64: text) else {
            throw TunnelConfigError(file: path, line: nil,
                                    message: "key file named by \(key) on \(file):\(line) is not a WireGuard key: \(Self.keyProblem(Substring(text)))",
                                    fix: "write one with: sluice wg \(key.lowercased().hasPrefix("private") ? "genkey" : "genpsk") > \(path)")
        }
        return k
    }

    func endpoint(_ value: Substring, line: Int) throws(TunnelConfigError) -> SocketAddressV4 {
        if value.hasPrefix("[") {
            throw error(line, "Endpoint \(value) is IPv6; sluice wg supports IPv4 endpoints only", fix: "use the peer's IPv4 address")
        }
        guard let colon = value.lastIndex(of: ":"), let port = UInt16(value[value.index(after: colon)...]), port != 0 else {
            throw error(line, "Endpoint '\(value)' has no port", fix: "write it as address:port, like 192.0.2.1:51820")
        }
        let host = value[..<colon]
        guard let address = IPv4Address(host) else {
            throw error(line, "Endpoint host '\(host)' is not an IPv4 address (host names are not resolved)",
                        fix: "write the peer's IPv4 address, like 192.0.2.1:51820")
        }
        return SocketAddressV4(address: address, port: port)
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and carriage returns.
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        let last = lastIndex(where: { !isSpace($0) })!
        return self[first...last]
    }
}
