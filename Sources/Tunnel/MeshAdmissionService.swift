// The admission node's driver (docs/mesh.md, "Joining"): a MeshAdmission on the agent's UDP port, its invites read
// from a directory, and its own control socket for `sluice mesh approve` / `refuse` / `joins`.
//
// mesh.yml keys (all three together): `admission-ca-key` (the signing key, `ca.key` of the CA that signs joined
// nodes), `admission-ca-cert` (its `ca.crt`; the root comes from `roots`), `invites` (the directory `sluice mesh
// invite --invites` writes `<id>.invite` files into). The directory is read at start and again when a join names
// an invite not loaded and the directory changed since (its mtime); a used invite's file is renamed `<id>.used`,
// so a restarted agent cannot accept it again. `admission-control` is the approval socket (default: the control socket + `.admission`).
//
// Approval protocol: the client connects, writes one line (`approve SELECTOR`, `refuse SELECTOR` or `joins`), and
// reads one JSON object (`{"ok":true,…}` or `{"ok":false,"error":…,"fix":…}`).

import Basics
import Crypto
import Foundation
import Glibc
import HostIO
import Mesh
import Wire

/// The admission settings of mesh.yml.
public struct MeshAdmissionSettings {
    public var signingKey: SigningKey
    public var issuer: Certificate
    public var root: Certificate
    public var invitesDirectory: String
    public var controlPath: String
}

extension MeshAgentConfiguration {
    static let admissionKeys: Set<String> = ["admission-ca-key", "admission-ca-cert", "invites", "admission-control"]

    /// The admission settings, or nil when mesh.yml has none of the keys.
    func admissionSettings() throws(MeshAgentConfigError) -> MeshAdmissionSettings? {
        let given = Self.admissionKeys.subtracting(["admission-control"]).filter { settings[$0] != nil }
        guard !given.isEmpty else { return nil }
        guard given.count == 3, let keyEntry = settings["admission-ca-key"], let certEntry = settings["admission-ca-cert"],
              let dirEntry = settings["invites"] else {
            throw MeshAgentConfigError(file: path, line: settings[given.sorted()[0]]?.line ?? 0,
                                       message: "admission needs admission-ca-key, admission-ca-cert and invites together",
                                       fix: "add the missing ones, or remove all three to run without admitting new nodes")
        }
        let directory = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") || directory.isEmpty ? p : directory + "/" + p }
        func read(_ key: String, _ e: (value: String, line: Int)) throws(MeshAgentConfigError) -> String {
            guard let d = FileManager.default.contents(atPath: resolve(e.value)) else {
                throw MeshAgentConfigError(file: path, line: e.line, message: "\(key): cannot read \(resolve(e.value))",
                                           fix: "check the path (relative paths start at the configuration's directory)")
            }
            return String(decoding: d, as: UTF8.self)
        }
        let keyText = try read("admission-ca-key", keyEntry), certText = try read("admission-ca-cert", certEntry)
        let loaded: (SigningKey, Certificate)
        do { loaded = try CertificateAuthority.loadSigner(key: keyText, certificate: certText) } catch {
            throw MeshAgentConfigError(file: path, line: keyEntry.line, message: "admission: \(error.message)", fix: error.fix)
        }
        let issuer = loaded.1
        let rootID = issuer.fields.issuer
        guard let root = verifier.anchors.roots[rootID] else {
            throw MeshAgentConfigError(file: path, line: certEntry.line,
                                       message: "admission-ca-cert: \(issuer.fields.name) is not signed by a root in `roots`",
                                       fix: "add its root to `roots`, or use a CA of this mesh")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolve(dirEntry.value), isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MeshAgentConfigError(file: path, line: dirEntry.line, message: "invites: \(resolve(dirEntry.value)) is not a directory",
                                       fix: "create it (mode 0700) and point `sluice mesh invite --invites` at it")
        }
        return MeshAdmissionSettings(signingKey: loaded.0, issuer: issuer, root: root,
                                     invitesDirectory: resolve(dirEntry.value),
                                     controlPath: settings["admission-control"]?.value ?? controlPath + ".admission")
    }
}

/// The admission node inside `sluice mesh up`.
final class MeshAdmissionService {
    let admission: MeshAdmission
    let settings: MeshAdmissionSettings
    let control: UnixListener
    let log: (String) -> Void
    /// The directory's modification time at the last scan: a join naming an unknown invite rescans only when it changed.
    var scannedStamp: (Int, Int)?
    /// Invite files whose content did not load, by name (logged once).
    var badFiles: Set<String> = []

    init(settings: MeshAdmissionSettings, staticKey: KeyPair, now: Instant, log: @escaping (String) -> Void) throws(TunnelError) {
        guard let a = MeshAdmission(staticKey: staticKey, issuerKey: settings.signingKey, issuer: settings.issuer,
                                    root: settings.root, random: SystemRandom(), wallClock: .system(at: now)) else {
            throw TunnelError("admission: the CA key does not belong to its certificate, or the CA is not under the root")
        }
        admission = a
        self.settings = settings
        self.log = log
        do { control = try UnixListener(path: settings.controlPath) } catch {
            throw TunnelError("cannot listen on the admission socket \(settings.controlPath): \(error)")
        }
        chmod(settings.controlPath, 0o600)
        scan()
        admission.lookForInvites = { [unowned self] in
            // An invite made since the last scan changed the directory: read it again.
            if let stamp = directoryStamp(), scannedStamp.map({ $0 != stamp }) ?? true { scan() }
        }
    }

    func close() {
        try? control.descriptor.close()
        unlink(settings.controlPath)
    }

    /// Loads every `*.invite` of the directory not loaded yet.
    func scan() {
        scannedStamp = directoryStamp()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: settings.invitesDirectory) else { return }
        for name in names.sorted() where name.hasSuffix(".invite") {
            let file = settings.invitesDirectory + "/" + name
            guard let d = FileManager.default.contents(atPath: file) else { continue }
            do {
                let invite = try MeshInvite.load(String(decoding: d, as: UTF8.self), what: file)
                if admission.invites[invite.id] == nil {
                    admission.addInvite(invite)
                    log("admission: invite \(invite.idHex) for \(invite.template.name) loaded")
                }
            } catch {
                if badFiles.insert(name).inserted { log("admission: \(file) skipped: \(error.message)") }
            }
        }
    }

    func directoryStamp() -> (Int, Int)? {
        var st = stat()
        guard stat(settings.invitesDirectory, &st) == 0 else { return nil }
        return (st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
    }

    /// True when the datagram is the admission node's: a join initiation, or transport for a join session.
    func owns(_ datagram: UnsafeRawBufferPointer) -> Bool {
        guard datagram.count >= 8 else { return false }
        let type = UInt32(datagram[0]) | UInt32(datagram[1]) << 8 | UInt32(datagram[2]) << 16 | UInt32(datagram[3]) << 24
        if type == MeshJoinConstants.initiationType { return true }
        guard type == MeshConstants.transportType else { return false }
        let index = UInt32(datagram[4]) | UInt32(datagram[5]) << 8 | UInt32(datagram[6]) << 16 | UInt32(datagram[7]) << 24
        return admission.owns(index: index)
    }

    /// Handles one datagram; returns the reply to send to its source.
    func receive(_ datagram: [UInt8], from source: SocketAddressV4, now: Instant) -> [UInt8]? {
        let r = admission.receive(datagram, from: source, now: now)
        for event in r.events {
            switch event {
            case .inviteConsumed(let id, let name):
                let file = settings.invitesDirectory + "/" + id.hex
                rename(file + ".invite", file + ".used")
                log("admission: invite \(id.hex) used by \(name) from \(source); waiting for approval unless automatic")
            case .approved(let name, let key):
                log("admission: \(name) (\(key.base64)) approved automatically")
            }
        }
        admission.tick(now: now)
        return r.reply
    }

    /// One approval connection: a command line in, one JSON object out. Returns datagrams to send (certificates).
    func controlReadable(now: Instant) -> [(bytes: [UInt8], to: SocketAddressV4)] {
        var out: [(bytes: [UInt8], to: SocketAddressV4)] = []
        while let stream = try? control.accept() {
            var pfd = pollfd(fd: stream.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
            var line: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 512)
            while line.count < 512, !line.contains(10), poll(&pfd, 1, 1000) > 0 {
                let got = buffer.withUnsafeMutableBytes { try? stream.receive(into: $0) }
                guard let r = got, r.count > 0 else { break }
                line += buffer[0..<r.count]
            }
            let text = String(decoding: line.prefix { $0 != 10 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let reply: [String: Any]
            let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
            switch (parts.first, parts.count) {
            case ("approve", 2):
                do {
                    out += try admission.approve(parts[1], now: now)
                    let r = admission.request(named: parts[1])
                    log("admission: \(r?.name ?? parts[1]) approved")
                    reply = ["ok": true, "name": r?.name ?? parts[1], "certificate": r?.chain.first.map { Armor.encode(.certificate, $0.encoded) } ?? ""]
                } catch { reply = ["ok": false, "error": error.message, "fix": error.fix] }
            case ("refuse", 2):
                do { try admission.refuse(parts[1]); log("admission: \(parts[1]) refused"); reply = ["ok": true] } catch {
                    reply = ["ok": false, "error": error.message, "fix": error.fix]
                }
            case ("joins", 1):
                reply = ["ok": true, "joins": joins(now: now)]
            default:
                reply = ["ok": false, "error": "unknown command \"\(text.prefix(60))\"", "fix": "send `approve NAME`, `refuse NAME` or `joins`"]
            }
            let data = (try? JSONSerialization.data(withJSONObject: reply, options: [.sortedKeys])) ?? Data()
            ([UInt8](data) + [10]).withUnsafeBytes { b in _ = try? stream.sendAll(b) }
            stream.shutdown()
        }
        return out
    }

    /// The join requests for status: name, key, invite, state, seconds waiting; and the admission counters.
    func joins(now: Instant) -> [[String: Any]] {
        admission.requests.values.sorted { ($0.since, $0.name) < ($1.since, $1.name) }.map { r in
            ["name": r.name, "key": r.key.base64, "invite": r.inviteID.hex,
             "state": "\(r.state)", "secondsAgo": MeshAgent.seconds(now - r.since)] as [String: Any]
        }
    }

    func status(now: Instant) -> [String: Any] {
        var drops: [String: UInt64] = [:]
        for d in admission.counters.drops.nonzero { drops["\(d.reason)"] = d.count }
        let c = admission.counters
        return ["joins": joins(now: now), "invitesLoaded": admission.invites.count, "drops": drops,
                "invitesUsed": c.invitesConsumed, "approved": c.approved, "refused": c.refused,
                "certificatesSent": c.certificatesSent, "control": settings.controlPath]
    }

    /// `sluice mesh approve|refuse|joins`: one command to an agent's admission socket; the JSON reply.
    static func command(_ line: String, controlPath: String) throws(TunnelError) -> Data {
        let stream: UnixStream
        do { stream = try UnixStream(connectingTo: controlPath, nonBlocking: false) } catch {
            throw TunnelError("cannot connect to \(controlPath): \(error) — is `sluice mesh up` running with admission settings?")
        }
        Array((line + "\n").utf8).withUnsafeBytes { b in _ = try? stream.sendAll(b) }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = buffer.withUnsafeMutableBytes { b in try? stream.receive(into: b) }
            guard let r = got, r.count > 0 else { break }
            out.append(contentsOf: buffer[0..<r.count])
            if out.count > 1 << 20 { break }
        }
        return out
    }
}

extension MeshAgent {
    /// `sluice mesh approve|refuse|joins` (the admission socket of a running agent).
    public static func admissionCommand(_ line: String, controlPath: String) throws(TunnelError) -> Data {
        try MeshAdmissionService.command(line, controlPath: controlPath)
    }
}

extension MeshAgent {
    /// Starts the admission service when mesh.yml has its keys; its indices and the node's never collide.
    func startAdmission(now: Instant) throws(TunnelError) {
        let settings: MeshAdmissionSettings?
        do { settings = try configuration.admissionSettings() } catch { throw TunnelError("\(error)") }
        guard let settings else { return }
        let service = try MeshAdmissionService(settings: settings, staticKey: configuration.identity.staticKey, now: now, log: log)
        let handshaker = node.handshaker
        service.admission.indexInUseElsewhere = { handshaker.sessions[$0] != nil }
        handshaker.indexInUseElsewhere = { [unowned service] in service.admission.owns(index: $0) }
        admission = service
        log("admission: invites from \(settings.invitesDirectory), signing with \(settings.issuer.fields.name), "
            + "approvals on \(settings.controlPath)")
    }
}
