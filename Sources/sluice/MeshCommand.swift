// `sluice mesh`: the mesh's offline certificate authority (docs/mesh.md). Reads and writes the files; everything
// else (keys, encodings, constraint checks, located errors) is Mesh's CertificateAuthority.
import ArgumentParser
import Foundation
import Glibc
import Mesh
import Tunnel

struct MeshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "The sluice mesh: identities (certificates) and the node agent. See docs/mesh.md.",
        subcommands: [CA.self, Up.self, Status.self, Invite.self, Join.self, Approve.self])

    /// Writes `sluice mesh [ca] COMMAND: text` (the CA's commands sit under `ca`) and gives the exit code.
    static func fail(_ command: String, _ text: String, code: Int32 = 2) -> ExitCode {
        let path = ["invite", "join", "approve"].contains(command) ? command : "ca \(command)"
        FileHandle.standardError.write(Data("sluice mesh \(path): \(text)\n".utf8))
        return ExitCode(code)
    }

    static func read(_ path: String, option: String, command: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail(command, "\(option) \(path): cannot read the file\nfix: check the path and its permissions")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `text` to `path` with `mode` (0600 for secrets), refusing to replace a file unless `replace`.
    static func write(_ text: String, to path: String, mode: Int, replace: Bool = false, command: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) && !replace {
            throw fail(command, "\(path) exists; refusing to overwrite it\nfix: move it away or choose another --out")
        }
        // Created with the final mode, so a secret is never readable by others, not even briefly.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode_t(mode))
        guard fd >= 0 else {
            throw fail(command, "\(path): cannot create (\(String(cString: strerror(errno))))\nfix: check the directory exists and is writable")
        }
        defer { close(fd) }
        _ = fchmod(fd, mode_t(mode))
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fail(command, "\(path): write failed (\(String(cString: strerror(errno))))") }
            done += n
        }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }
    static func randomSerial() -> UInt64 { UInt64.random(in: 1...UInt64(Int64.max)) }

    static func split(_ list: [String]) -> [String] {
        list.flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
    }

    /// The certificate fields every CA subcommand takes.
    struct Fields: ParsableArguments {
        @Option(help: "The certificate's name (1…63 printable ASCII characters, no spaces).")
        var name: String
        @Option(help: "The organization (an organization CA's children must carry the same one).")
        var organization: String = ""
        @Option(help: "Overlay addresses (a node: 10.99.0.5/16) or, for a CA, the networks its children's addresses must lie in; comma-separated or repeated.")
        var addresses: [String] = []
        @Option(help: "Routable prefixes (a node announces them; a CA bounds its children's); comma-separated or repeated.")
        var prefixes: [String] = []
        @Option(help: "Groups (a-z 0-9 . _ -); a CA may hold '*', any group.")
        var groups: [String] = []
        @Option(help: "Capabilities: relay, rendezvous (comma-separated).")
        var capabilities: String = ""
        @Option(help: "Validity in days from now.")
        var days: Int = 365
        @Option(help: "Serial number (default: random).")
        var serial: UInt64?

        func request(pathLength: Int) -> CertificateRequest {
            var r = CertificateRequest(name: name, days: days, serial: serial ?? MeshCommand.randomSerial(), now: MeshCommand.now)
            r.organization = organization
            r.addresses = MeshCommand.split(addresses)
            r.prefixes = MeshCommand.split(prefixes)
            r.groups = MeshCommand.split(groups)
            r.capabilities = capabilities
            r.pathLength = pathLength
            return r
        }
    }

    struct CA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ca", abstract: "The offline certificate authority: roots, organization CAs, node certificates, revocation.",
            subcommands: [Init.self, Sign.self, Revoke.self, Inspect.self])
    }

    /// `sluice mesh ca init --name root --out DIR [--issuer-key K --issuer-cert C]`
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a CA: DIR/ca.key (secret, 0600) and DIR/ca.crt.",
            discussion: """
            Without --issuer-key a root (self-signed). With --issuer-key/--issuer-cert of a root, an \
            organization CA signed by it, which must stay inside the root's networks, prefixes, groups, \
            capabilities and validity.

            Example: sluice mesh ca init --name root --addresses 10.99.0.0/16 --groups '*' \
            --capabilities relay,rendezvous --path-length 1 --days 3650 --out root
            """)
        @OptionGroup var fields: Fields
        @Option(help: "How many levels of CA may sit below this one (0: it signs nodes only).")
        var pathLength: Int = 0
        @Option(help: "The directory to write ca.key and ca.crt into (created if missing).")
        var out: String
        @Option(help: "The root's ca.key, to make an organization CA.")
        var issuerKey: String?
        @Option(help: "The root's ca.crt.")
        var issuerCert: String?

        func run() throws {
            let request = fields.request(pathLength: pathLength)
            let made: (key: String, certificate: String)
            do {
                switch (issuerKey, issuerCert) {
                case (nil, nil): made = try CertificateAuthority.makeRoot(request)
                case (let k?, let c?):
                    made = try CertificateAuthority.makeIntermediate(
                        request, issuerKey: try MeshCommand.read(k, option: "--issuer-key", command: "init"),
                        issuerCertificate: try MeshCommand.read(c, option: "--issuer-cert", command: "init"))
                default:
                    throw MeshCommand.fail("init", "--issuer-key and --issuer-cert go together\nfix: give both (an organization CA) or neither (a root)")
                }
            } catch let e as MeshCAError { throw MeshCommand.fail("init", "\(e)") }
            try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
            try MeshCommand.write(made.key, to: out + "/ca.key", mode: 0o600, command: "init")
            try MeshCommand.write(made.certificate, to: out + "/ca.crt", mode: 0o644, command: "init")
            print("wrote \(out)/ca.key (secret, 0600) and \(out)/ca.crt")
        }
    }

    /// `sluice mesh ca sign --ca-key K --ca-cert C --public-key KEY --name n --addresses … --out node.crt`
    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Issue a node certificate for an X25519 public key (as `sluice wg pubkey` prints it).",
            discussion: "The output file holds the node's certificate and, when the CA is an organization CA, the CA's certificate after it (the chain the node presents).")
        @OptionGroup var fields: Fields
        @Option(help: "The issuing CA's ca.key.")
        var caKey: String
        @Option(help: "The issuing CA's ca.crt.")
        var caCert: String
        @Option(help: "The node's X25519 public key (base64), or a file holding it.")
        var publicKey: String
        @Option(help: "Where to write the node's certificate chain.")
        var out: String

        func run() throws {
            let key = FileManager.default.fileExists(atPath: publicKey)
                ? try MeshCommand.read(publicKey, option: "--public-key", command: "sign") : publicKey
            let text: String
            do {
                text = try CertificateAuthority.signNode(
                    fields.request(pathLength: 0), publicKey: key,
                    issuerKey: try MeshCommand.read(caKey, option: "--ca-key", command: "sign"),
                    issuerCertificate: try MeshCommand.read(caCert, option: "--ca-cert", command: "sign"))
            } catch let e as MeshCAError { throw MeshCommand.fail("sign", "\(e)") }
            try MeshCommand.write(text, to: out, mode: 0o644, command: "sign")
            print("wrote \(out)")
        }
    }

    /// `sluice mesh ca revoke --ca-key K --ca-cert C --list revoked.list [--serial ID:N] [--certificate F] [--key K]`
    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Add certificates (by issuer and serial) or keys to the root's signed revocation list.",
            discussion: "The list file is created if missing; otherwise its entries are kept, the sequence number increases and the root signs it again.")
        @Option(help: "The root's ca.key.")
        var caKey: String
        @Option(help: "The root's ca.crt.")
        var caCert: String
        @Option(help: "The revocation list file.")
        var list: String
        @Option(help: "ISSUER:SERIAL as `sluice mesh ca inspect` prints them (repeatable).")
        var serial: [String] = []
        @Option(help: "A certificate file whose certificates are revoked by serial (repeatable).")
        var certificate: [String] = []
        @Option(help: "A base64 key (a node's X25519 key or a CA's Ed25519 key) to revoke outright (repeatable).")
        var key: [String] = []

        func run() throws {
            guard !(serial.isEmpty && certificate.isEmpty && key.isEmpty) else {
                throw MeshCommand.fail("revoke", "nothing to revoke\nfix: give --serial, --certificate or --key")
            }
            let existing = FileManager.default.fileExists(atPath: list)
                ? try MeshCommand.read(list, option: "--list", command: "revoke") : nil
            let text: String
            do {
                text = try CertificateAuthority.revoke(
                    existing: existing, issuerKey: try MeshCommand.read(caKey, option: "--ca-key", command: "revoke"),
                    issuerCertificate: try MeshCommand.read(caCert, option: "--ca-cert", command: "revoke"),
                    serials: serial,
                    certificates: try certificate.map { try MeshCommand.read($0, option: "--certificate", command: "revoke") },
                    keys: key, now: MeshCommand.now)
            } catch let e as MeshCAError { throw MeshCommand.fail("revoke", "\(e)") }
            try MeshCommand.write(text, to: list, mode: 0o644, replace: true, command: "revoke")
            print("wrote \(list)")
        }
    }

    /// `sluice mesh ca inspect FILE [--roots ca.crt] [--revocations list]`
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Describe a key, certificate or revocation list file; with --roots, validate its chain (exit 1 when invalid).")
        @Argument(help: "The file.")
        var file: String
        @Option(help: "Trusted roots (ca.crt) to validate a node chain against.")
        var roots: String?
        @Option(help: "A revocation list to apply when validating.")
        var revocations: String?

        func run() throws {
            let result: (report: String, valid: Bool?)
            do {
                result = try CertificateAuthority.inspect(
                    try MeshCommand.read(file, option: "FILE", command: "inspect"),
                    roots: try roots.map { try MeshCommand.read($0, option: "--roots", command: "inspect") },
                    revocations: try revocations.map { try MeshCommand.read($0, option: "--revocations", command: "inspect") },
                    now: MeshCommand.now)
            } catch let e as MeshCAError { throw MeshCommand.fail("inspect", "\(file): \(e)") }
            print(result.report)
            if result.valid == false { throw ExitCode(1) }
        }
    }
}

extension MeshCommand {
    /// `sluice mesh up mesh.yml`: the node agent, in the foreground.
    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "up",
            abstract: "Run a mesh node on a TUN device from mesh.yml until SIGINT/SIGTERM.",
            discussion: """
            Reads the node key, its certificate chain, the trusted roots and registry.json named in \
            mesh.yml; creates the TUN device in the current network namespace with the certificate's \
            address, routes every peer's addresses and prefixes to it and serves the UDP listen-port. \
            Traffic goes direct, or through a relay when the direct path fails. `sluice mesh status` \
            reads the control socket. SIGINT or SIGTERM removes the routes and the interface.
            """)

        @Argument(help: "The configuration file (mesh.yml; see docs/mesh.md).")
        var config: String

        func run() throws {
            let configuration: MeshAgentConfiguration
            do { configuration = try MeshAgentConfiguration.load(path: config, now: MeshCommand.now) } catch {
                FileHandle.standardError.write(Data("sluice mesh up: \(error)\n".utf8))
                throw ExitCode(2)
            }
            do {
                let agent = try MeshAgent(configuration: configuration) { line in
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
                try agent.run()
            } catch {
                FileHandle.standardError.write(Data("sluice mesh up: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    /// `sluice mesh status [--json]`: what a running agent reports.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show a running agent's peers, paths, handshakes, bytes and drops.")

        @Option(name: .long, help: "The agent's control socket (mesh.yml `control`).")
        var control: String = "/run/sluice-mesh-mesh0.sock"

        @Flag(name: .long, help: "Print the agent's JSON as it is.")
        var json = false

        func run() throws {
            let data: Data
            do { data = try MeshAgent.queryStatus(controlPath: control) } catch {
                FileHandle.standardError.write(Data("sluice mesh status: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if json {
                FileHandle.standardOutput.write(data)
                return
            }
            guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                FileHandle.standardError.write(Data("sluice mesh status: the agent's reply is not JSON\n".utf8))
                throw ExitCode(1)
            }
            print(Self.text(o))
        }

        static func text(_ o: [String: Any]) -> String {
            func num(_ v: Any?) -> String {
                guard let n = v as? NSNumber else { return "-" }
                return n.doubleValue == n.doubleValue.rounded() ? "\(n.int64Value)" : String(format: "%.1f", n.doubleValue)
            }
            var lines = ["\(o["interface"] ?? "?"): \(o["address"] ?? "?"), UDP \(num(o["listenPort"])), relay "
                         + "\((o["relay"] as? Bool) == true ? "on" : "off"), key \(o["key"] ?? "?")"]
            if let c = o["counters"] as? [String: Any] {
                lines.append("  " + c.keys.sorted().map { "\($0) \(num(c[$0]))" }.joined(separator: ", "))
            }
            let drops = (o["drops"] as? [String: Any]) ?? [:]
            lines.append("  drops: " + (drops.isEmpty ? "none" : drops.keys.sorted().map { "\($0) \(num(drops[$0]))" }.joined(separator: ", ")))
            for p in (o["peers"] as? [[String: Any]]) ?? [] {
                let path = (p["path"] as? String) ?? "?"
                let via = (p["via"] as? String).map { path == "relayed" ? " via \($0)" : " \($0)" } ?? ""
                let hs = p["lastHandshakeSecondsAgo"].map { "\(num($0)) s ago" } ?? "none"
                let link = p["cost"].map { ", cost \(num($0))" + (p["rttMs"].map { ", rtt \(num($0)) ms" } ?? "") } ?? ""
                lines.append("  peer \(p["name"] ?? "?"): \(path)\(via), handshake \(hs), rx \(num(p["rxBytes"])) B, "
                             + "tx \(num(p["txBytes"])) B\((p["directPathDown"] as? Bool) == true ? ", direct path down" : "")\(link)")
            }
            let routes = (o["routes"] as? [[String: Any]]) ?? []
            lines.append("  routing \(o["routing"] ?? "?"), \(routes.count) route\(routes.count == 1 ? "" : "s")")
            for r in routes {
                lines.append("  route \(r["prefix"] ?? "?") via \(r["via"] ?? "?")" + (r["metric"].map { " metric \(num($0))" } ?? ""))
            }
            if let a = o["admission"] as? [String: Any] {
                let joins = (a["joins"] as? [[String: Any]]) ?? []
                lines.append("  admission: \(num(a["invitesLoaded"])) invites, \(num(a["invitesUsed"])) used, \(num(a["approved"])) approved, "
                             + "\(joins.isEmpty ? "no joins" : "\(joins.count) joins")")
                for j in joins {
                    lines.append("  join \(j["name"] ?? "?"): \(j["state"] ?? "?") for \(num(j["secondsAgo"])) s, key \(j["key"] ?? "?"), invite \(j["invite"] ?? "?")")
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}
