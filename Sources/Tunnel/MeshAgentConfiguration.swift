// mesh.yml, the configuration of `sluice mesh up` (docs/mesh.md, "The agent"): a flat YAML subset, one
// `key: value` per line, `#` comments. Files named in it are read relative to the configuration's directory.
// Every error names the file, the line and a fix.

import Basics
import Crypto
import Foundation
import Mesh
import Wire

/// A problem in mesh.yml or a file it names: where, what, and how to fix it.
public struct MeshAgentConfigError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var fix: String
    public var description: String { "\(file)\(line > 0 ? ":\(line)" : ""): \(message)\nfix: \(fix)" }
}

/// What `sluice mesh up` runs: this node's identity, trust, peers (from registry.json) and the interface.
public struct MeshAgentConfiguration {
    public var identity: MeshIdentity
    public var verifier: CertificateVerifier
    public var registry: MeshRegistry
    public var peers: [MeshPeer]
    public var relays: [PublicKey]
    public var relay: Bool
    public var listenPort: UInt16
    public var tunName: String
    public var mtu: Int
    /// The interface address: `address`, else the first IPv4 address of this node's certificate.
    public var address: IPv4Network
    public var controlPath: String
    /// `routing: babel` (default) or `static` (MeshAgentRouting.swift).
    public var routing: MeshAgentRoutingKind
    /// TUN offloads (virtio-net header: TCP segmentation of reads, coalescing of writes) and UDP GSO/GRO (default on).
    public var tunOffload: Bool
    public var udpOffload: Bool
    public var registryPath: String
    public var path: String
    /// Every `key: value` of mesh.yml with its line (the admission settings are read from it:
    /// MeshAdmissionService.swift).
    public var settings: [String: (value: String, line: Int)] = [:]

    /// Inner MTU under a 1500-byte path, relayed: 1500 − IPv4 20 − UDP 8 − end-to-end transport 32 − envelope 68 −
    /// hop transport 32 = 1340, less the end-to-end padding (plaintexts are padded to 16 bytes: 1340 would become
    /// 1344 and the relayed datagram 1516 bytes, which UDP GSO refuses and the IP layer would fragment) = 1328.
    public static let defaultMTU = 1328
    static let keys: Set<String> = ["private-key", "certificate", "roots", "revocations", "registry", "listen-port",
                                    "tun", "mtu", "relay", "address", "control", "routing",
                                    "tun-offload", "udp-offload", "admission-ca-key", "admission-ca-cert", "invites",
                                    "admission-control"]

    public static func load(path: String, now: Int64) throws(MeshAgentConfigError) -> MeshAgentConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MeshAgentConfigError(file: path, line: 0, message: "cannot read the file", fix: "check the path and its permissions")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path, now: now)
    }

    public static func parse(_ text: String, path: String, now: Int64) throws(MeshAgentConfigError) -> MeshAgentConfiguration {
        var values: [String: (value: String, line: Int)] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw MeshAgentConfigError(file: path, line: i + 1, message: "expected `key: value`, found \"\(trimmed)\"",
                                           fix: "write one setting per line, e.g. `tun: mesh0`")
            }
            let key = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f { value = String(value.dropFirst().dropLast()) }
            guard keys.contains(key) else {
                throw MeshAgentConfigError(file: path, line: i + 1, message: "unknown setting `\(key)`",
                                           fix: "one of: " + keys.sorted().joined(separator: ", "))
            }
            guard values[key] == nil else {
                throw MeshAgentConfigError(file: path, line: i + 1, message: "`\(key)` given twice (first on line \(values[key]!.line))",
                                           fix: "keep one")
            }
            values[key] = (value, i + 1)
        }
        let directory = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") || directory.isEmpty ? p : directory + "/" + p }
        func required(_ key: String, _ what: String) throws(MeshAgentConfigError) -> (value: String, line: Int) {
            guard let v = values[key], !v.value.isEmpty else {
                throw MeshAgentConfigError(file: path, line: 0, message: "`\(key)` is missing", fix: "add `\(key): <\(what)>`")
            }
            return v
        }
        func readFile(_ key: String, _ v: (value: String, line: Int)) throws(MeshAgentConfigError) -> String {
            guard let d = FileManager.default.contents(atPath: resolve(v.value)) else {
                throw MeshAgentConfigError(file: path, line: v.line, message: "\(key): cannot read \(resolve(v.value))",
                                           fix: "check the path (relative paths start at the configuration's directory)")
            }
            return String(decoding: d, as: UTF8.self)
        }
        func number(_ key: String, _ range: ClosedRange<Int>, default d: Int) throws(MeshAgentConfigError) -> Int {
            guard let v = values[key] else { return d }
            guard let n = Int(v.value), range.contains(n) else {
                throw MeshAgentConfigError(file: path, line: v.line, message: "\(key): \"\(v.value)\" is out of range",
                                           fix: "a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }

        // The node's key: a base64 X25519 private key (`sluice wg genkey`).
        let keyEntry = try required("private-key", "file holding `sluice wg genkey` output")
        let keyText = try readFile("private-key", keyEntry).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let secret = SecretKey(base64: keyText) else {
            throw MeshAgentConfigError(file: path, line: keyEntry.line, message: "private-key: \(resolve(keyEntry.value)) is not a base64 X25519 key",
                                       fix: "make one with `sluice wg genkey > node.key`")
        }
        let staticKey = KeyPair(privateKey: secret)

        let certEntry = try required("certificate", "node certificate chain from `sluice mesh ca sign`")
        let chainText = try readFile("certificate", certEntry)
        let chain: [Certificate]
        do { chain = try CertificateAuthority.loadCertificates(chainText, what: resolve(certEntry.value)) } catch {
            throw MeshAgentConfigError(file: path, line: certEntry.line, message: "certificate: \(error.message)", fix: error.fix)
        }
        guard let identity = MeshIdentity(staticKey: staticKey, chain: chain) else {
            throw MeshAgentConfigError(file: path, line: certEntry.line,
                                       message: "certificate: the first certificate is not a node certificate for private-key's public key \(staticKey.publicKey.base64)",
                                       fix: "sign this key: `sluice mesh ca sign --public-key \(staticKey.publicKey.base64) …`")
        }

        let rootsEntry = try required("roots", "the root's ca.crt")
        let rootsText = try readFile("roots", rootsEntry)
        let anchors: TrustAnchors
        do {
            let roots = try CertificateAuthority.loadCertificates(rootsText, what: resolve(rootsEntry.value))
            anchors = try TrustAnchors(roots)
        } catch let e as MeshCAError {
            throw MeshAgentConfigError(file: path, line: rootsEntry.line, message: "roots: \(e.message)", fix: e.fix)
        } catch {
            throw MeshAgentConfigError(file: path, line: rootsEntry.line, message: "roots: \(error)", fix: "pass the root's ca.crt")
        }
        var revocations = RevocationSet()
        if let r = values["revocations"] {
            let listText = try readFile("revocations", r)
            do {
                let list = try CertificateAuthority.loadList(listText, what: resolve(r.value))
                try revocations.apply(list, roots: anchors)
            } catch let e as MeshCAError {
                throw MeshAgentConfigError(file: path, line: r.line, message: "revocations: \(e.message)", fix: e.fix)
            } catch {
                throw MeshAgentConfigError(file: path, line: r.line, message: "revocations: \(error)",
                                           fix: "pass a list `sluice mesh ca revoke` wrote with one of the roots")
            }
        }
        let verifier = CertificateVerifier(anchors: anchors, revocations: revocations)
        do { _ = try verifier.validate(chain, now: now) } catch {
            throw MeshAgentConfigError(file: path, line: certEntry.line, message: "certificate: does not validate against roots: \(error)",
                                       fix: "check it with `sluice mesh ca inspect \(certEntry.value) --roots \(rootsEntry.value)`")
        }

        let registryEntry = try required("registry", "registry.json")
        let registryText = try readFile("registry", registryEntry)
        let registry: MeshRegistry
        do { registry = try MeshRegistry(json: registryText) } catch {
            throw MeshAgentConfigError(file: resolve(registryEntry.value), line: error.line,
                                       message: "\(error.path.isEmpty ? "" : error.path + ": ")\(error.message)", fix: error.fix)
        }
        guard registry.nodes.contains(where: { $0.noiseKey == staticKey.publicKey }) else {
            throw MeshAgentConfigError(file: path, line: registryEntry.line,
                                       message: "registry: no node carries this node's key \(staticKey.publicKey.base64)",
                                       fix: "add \"sluice\": { \"public_key\": \"\(staticKey.publicKey.base64)\" } to this node's entry")
        }
        let peers = registry.peers(localKey: staticKey.publicKey)

        func flag(_ key: String, _ fix: String) throws(MeshAgentConfigError) -> Bool {
            switch values[key]?.value {
            case nil, "true", "yes": return true
            case "false", "no": return false
            case let v?: throw MeshAgentConfigError(file: path, line: values[key]!.line, message: "\(key): \"\(v)\" is not true or false",
                                                    fix: fix)
            }
        }
        let relay = try flag("relay", "`relay: true` (forward for others when the certificate allows) or `relay: false`")
        let tunOffload = try flag("tun-offload", "`tun-offload: true` (TCP segmentation and coalescing on the TUN device) or `false`")
        let udpOffload = try flag("udp-offload", "`udp-offload: true` (UDP GSO and GRO) or `false`")
        let port = try number("listen-port", 1...65535, default: 51820)
        let mtu = try number("mtu", 576...9000, default: defaultMTU)
        let tun = values["tun"]?.value ?? "mesh0"
        guard !tun.isEmpty, tun.utf8.count <= 15, tun.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw MeshAgentConfigError(file: path, line: values["tun"]!.line, message: "tun: \"\(tun)\" is not an interface name",
                                       fix: "1 to 15 characters of a-z, 0-9, - _ .")
        }
        let address: IPv4Network
        if let a = values["address"] {
            guard a.value.contains("/"), let n = IPv4Network(a.value) else {
                throw MeshAgentConfigError(file: path, line: a.line, message: "address: \"\(a.value)\" is not an IPv4 address with a prefix",
                                           fix: "e.g. `address: 10.99.0.5/16`")
            }
            address = n
        } else {
            guard let first = chain[0].fields.addresses.first(where: { $0.family == 4 }), let ip = first.ipv4,
                  let n = IPv4Network(address: ip, prefixLength: Int(first.prefixLength)) else {
                throw MeshAgentConfigError(file: path, line: certEntry.line, message: "certificate: carries no IPv4 address for the interface",
                                           fix: "add `address: 10.99.0.5/16`, or sign the node with --addresses")
            }
            address = n
        }
        var routing = MeshAgentRoutingKind.babel
        if let r = values["routing"] {
            guard let k = MeshAgentRoutingKind(rawValue: r.value) else {
                throw MeshAgentConfigError(file: path, line: r.line, message: "routing: \"\(r.value)\" is not a routing",
                                           fix: "`routing: babel` (routes from Babel, the default) or `routing: static` (direct, relays in registry order)")
            }
            routing = k
        }
        let control = values["control"]?.value ?? "/run/sluice-mesh-\(tun).sock"
        var configuration = MeshAgentConfiguration(
            identity: identity, verifier: verifier, registry: registry, peers: peers,
            relays: registry.relays(localKey: staticKey.publicKey), relay: relay,
            listenPort: UInt16(port), tunName: tun, mtu: mtu, address: address,
            controlPath: control, routing: routing, tunOffload: tunOffload,
            udpOffload: udpOffload, registryPath: resolve(registryEntry.value), path: path)
        configuration.settings = values
        _ = try configuration.admissionSettings()  // errors in the admission keys are reported at load
        return configuration
    }
}
