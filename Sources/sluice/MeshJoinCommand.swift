// `sluice mesh invite`, `join`, `approve`, `refuse` (docs/mesh.md, "Joining"). The invite and the token come from
// Mesh (MeshInvite, JoinToken); the join runs MeshJoinClient; approvals go to a running agent's admission socket.
import ArgumentParser
import Crypto
import Foundation
import Mesh
import Tunnel
import Wire

extension MeshCommand {
    /// `sluice mesh invite --ca-key K --ca-cert C --invites DIR --admission-key KEY --endpoint IP:PORT --name n …`
    struct Invite: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "invite",
            abstract: "Create a single-use invite for the admission agent and print the token a new node joins with.",
            discussion: """
            Writes DIR/<id>.invite (secret, 0600), which the admission agent (mesh.yml `invites: DIR`) reads, and \
            prints a token for `sluice mesh join`. The new node gets a certificate with exactly the fields given \
            here (checked now against the CA, as `sluice mesh ca sign` checks them), valid --days from its approval.

            Example: sluice mesh invite --ca-key acme/ca.key --ca-cert acme/ca.crt --invites /etc/sluice/invites \
            --admission-key a.pub --endpoint 192.0.2.10:51820 --name web9 --organization acme \
            --addresses 10.99.1.9/24 --expires-hours 24
            """)
        @OptionGroup var fields: Fields
        @Option(help: "The signing CA's ca.key (the same CA as the agent's admission-ca-key).")
        var caKey: String
        @Option(help: "The signing CA's ca.crt.")
        var caCert: String
        @Option(help: "The directory the admission agent reads invites from (mesh.yml `invites`).")
        var invites: String
        @Option(help: "The admission agent's X25519 public key: base64, or a file holding it (`sluice wg pubkey`).")
        var admissionKey: String
        @Option(help: "The admission agent's UDP endpoint the new node sends to, IPv4:port.")
        var endpoint: String
        @Option(help: "Hours until the invite expires (1…8760).")
        var expiresHours: Int = 24
        @Flag(help: "Approve the join as soon as the new node proves the invite (no `sluice mesh approve`).")
        var autoApprove = false

        func run() throws {
            guard (1...8760).contains(expiresHours) else {
                throw MeshCommand.fail("invite", "--expires-hours \(expiresHours): out of range\nfix: use 1 … 8760")
            }
            let keyText = FileManager.default.contents(atPath: admissionKey).map { String(decoding: $0, as: UTF8.self) } ?? admissionKey
            guard let key = PublicKey(base64: keyText.trimmingCharacters(in: .whitespacesAndNewlines)), !key.isZero else {
                throw MeshCommand.fail("invite", "--admission-key: not a base64 X25519 public key nor a file holding one\nfix: pass the agent's key from `sluice wg pubkey < node.key`")
            }
            guard let e = SocketAddressV4(endpoint), e.port != 0 else {
                throw MeshCommand.fail("invite", "--endpoint \(endpoint): not IPv4:port\nfix: e.g. --endpoint 192.0.2.10:51820")
            }
            let request = fields.request(pathLength: 0)
            let made: (invite: MeshInvite, root: KeyID)
            do {
                made = try CertificateAuthority.makeInvite(
                    request, caKey: try MeshCommand.read(caKey, option: "--ca-key", command: "invite"),
                    caCert: try MeshCommand.read(caCert, option: "--ca-cert", command: "invite"),
                    expires: request.now + Int64(expiresHours) * 3600, autoApprove: autoApprove)
            } catch let e as MeshCAError { throw MeshCommand.fail("invite", "\(e)") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: invites, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw MeshCommand.fail("invite", "--invites \(invites): not a directory\nfix: create it (mkdir -m 0700) and name it in the agent's mesh.yml `invites`")
            }
            let file = invites + "/" + made.invite.idHex + ".invite"
            try MeshCommand.write(made.invite.armored, to: file, mode: 0o600, command: "invite")
            let token = JoinToken(admissionKey: key, endpoint: e, inviteID: made.invite.id, secret: made.invite.secret,
                                  rootKeyID: made.root)
            FileHandle.standardError.write(Data("wrote \(file) (secret, 0600): \(made.invite.template.name), expires in \(expiresHours) h\(autoApprove ? ", approved automatically" : ""); the token (secret, single use):\n".utf8))
            print(token.text)
        }
    }

    /// `sluice mesh join TOKEN --out DIR`
    struct Join: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "join",
            abstract: "Join a mesh with an invite token: writes DIR/node.key, DIR/node.crt and DIR/root.crt.",
            discussion: """
            Makes a new X25519 key (unless --private-key names one), joins through the admission node the token \
            names (a Noise IKpsk2 handshake keyed with the invite), waits for approval and stores the certificate \
            it returns. Then name the files in mesh.yml (private-key, certificate, roots) and run `sluice mesh up`.
            """)
        @Argument(help: "The token `sluice mesh invite` printed (sluicejoin1:…), or a file holding it.")
        var token: String
        @Option(help: "The directory to write node.key, node.crt and root.crt into (created if missing).")
        var out: String
        @Option(help: "An existing private key file (base64, `sluice wg genkey`) instead of a new one.")
        var privateKey: String?
        @Option(help: "The name to ask for (default: the invite's).")
        var name: String = ""
        @Option(help: "Local UDP port (0: any).")
        var listenPort: Int = 0
        @Option(help: "Seconds to wait for approval (1…86400).")
        var timeout: Int = 600

        func run() throws {
            let text = FileManager.default.contents(atPath: token).map { String(decoding: $0, as: UTF8.self) } ?? token
            guard let t = JoinToken(text: text) else {
                throw MeshCommand.fail("join", "the token is not a sluice join token\nfix: pass the whole `sluicejoin1:…` line `sluice mesh invite` printed")
            }
            guard (0...65535).contains(listenPort), (1...86400).contains(timeout) else {
                throw MeshCommand.fail("join", "--listen-port or --timeout out of range\nfix: --listen-port 0…65535, --timeout 1…86400")
            }
            let key: KeyPair
            if let privateKey {
                let k = try MeshCommand.read(privateKey, option: "--private-key", command: "join")
                guard let s = SecretKey(base64: k.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw MeshCommand.fail("join", "--private-key \(privateKey): not a base64 X25519 key\nfix: `sluice wg genkey > node.key`")
                }
                key = KeyPair(privateKey: s)
            } else {
                key = KeyPair.random()
            }
            try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
            for f in ["node.crt", "root.crt"] + (privateKey == nil ? ["node.key"] : []) where FileManager.default.fileExists(atPath: out + "/" + f) {
                throw MeshCommand.fail("join", "\(out)/\(f) exists; refusing to overwrite it\nfix: choose another --out")
            }
            if privateKey == nil {
                try MeshCommand.write(key.privateKey.base64 + "\n", to: out + "/node.key", mode: 0o600, command: "join")
            }
            FileHandle.standardError.write(Data("join: key \(key.publicKey.base64), asking \(t.endpoint)\n".utf8))
            let outcome: MeshJoinClient.Outcome
            do {
                outcome = try MeshJoinClient.join(token: t, staticKey: key, name: name, listenPort: UInt16(listenPort),
                                                  timeout: .seconds(timeout)) { line in
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            } catch { throw MeshCommand.fail("join", "\(error)", code: 1) }
            switch outcome {
            case .joined(let chain, let root):
                try MeshCommand.write(chain.map { Armor.encode(.certificate, $0.encoded) }.joined(), to: out + "/node.crt",
                                      mode: 0o644, command: "join")
                try MeshCommand.write(Armor.encode(.certificate, root.encoded), to: out + "/root.crt", mode: 0o644, command: "join")
                let f = chain[0].fields
                print("joined as \(f.name), addresses \(f.addresses.map(\.description).joined(separator: ",")), key \(key.publicKey.base64); wrote \(out)/node.crt and \(out)/root.crt")
            case .refused:
                throw MeshCommand.fail("join", "the admission node refused the join\nfix: ask its operator for a new invite", code: 1)
            case .timedOut(let waiting):
                throw MeshCommand.fail("join", waiting ? "no approval within \(timeout) s (the join is waiting)\nfix: ask the operator to run `sluice mesh approve`, then join again with the same token and --private-key \(out)/node.key"
                                                       : "no answer from \(t.endpoint) within \(timeout) s\nfix: check the endpoint is reachable over UDP, the token is unused and unexpired", code: 1)
            }
        }
    }

    /// `sluice mesh approve NAME` / `refuse NAME` / `joins`: through a running agent's admission socket.
    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "approve",
            abstract: "Approve a waiting join (by name, invite id prefix or key) on a running admission agent.")
        @Argument(help: "The joining node's name, its invite id (8+ hex digits) or its key.")
        var selector: String
        @Option(help: "The agent's admission socket (mesh.yml `admission-control`; default the control socket + .admission).")
        var control: String = "/run/sluice-mesh-mesh0.sock.admission"
        @Flag(help: "Refuse the join instead.")
        var refuse = false

        func run() throws {
            let data: Data
            do { data = try MeshAgent.admissionCommand("\(refuse ? "refuse" : "approve") \(selector)", controlPath: control) } catch {
                throw MeshCommand.fail("approve", "\(error)", code: 1)
            }
            guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw MeshCommand.fail("approve", "the agent's reply is not JSON", code: 1)
            }
            guard o["ok"] as? Bool == true else {
                throw MeshCommand.fail("approve", "\(o["error"] ?? "refused")\nfix: \(o["fix"] ?? "")", code: 1)
            }
            print(refuse ? "refused \(selector)" : "approved \(o["name"] ?? selector); the certificate goes to it on its next poll")
        }
    }
}
