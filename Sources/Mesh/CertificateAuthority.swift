// What `sluice mesh ca init|sign|revoke|inspect` do, on text in and text out (the command reads and writes the
// files): make a root or an organization CA, issue a node certificate for an X25519 public key, add entries to a
// signed revocation list, describe and check a file. Every refusal names the option at fault and says how to fix it.

import Crypto
import Wire

/// A refusal: what is wrong (naming the option or file) and what to do.
public struct MeshCAError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public let fix: String
    public init(_ message: String, fix: String) { self.message = message; self.fix = fix }
    public var description: String { "\(message)\nfix: \(fix)" }
}

/// The fields a person asks for, as text (validated here).
public struct CertificateRequest: Sendable {
    public var name: String
    public var organization: String = ""
    public var addresses: [String] = []
    public var prefixes: [String] = []
    public var groups: [String] = []
    public var capabilities: String = ""
    public var pathLength: Int = 0
    public var days: Int
    public var serial: UInt64
    /// Unix seconds the certificate starts at.
    public var now: Int64

    public init(name: String, days: Int, serial: UInt64, now: Int64) {
        self.name = name; self.days = days; self.serial = serial; self.now = now
    }
}

/// The CA operations.
public enum CertificateAuthority {
    /// Longest validity accepted: 100 years.
    public static let maxDays = 36_500

    /// A new root: a fresh Ed25519 key and its self-signed CA certificate. Returns (key text, certificate text).
    public static func makeRoot(_ request: CertificateRequest) throws(MeshCAError) -> (key: String, certificate: String) {
        let key = SigningKey.random()
        let fields = try caFields(request, key: key, issuer: KeyID(of: key.publicKey))
        let cert = try sign(fields, with: key)
        return (armoredKey(key), Armor.encode(.certificate, cert.encoded))
    }

    /// A new organization CA signed by the issuer in `issuerKey`/`issuerCertificate`.
    public static func makeIntermediate(_ request: CertificateRequest, issuerKey: String,
                                        issuerCertificate: String) throws(MeshCAError) -> (key: String, certificate: String) {
        let (ik, ic) = try loadIssuer(key: issuerKey, certificate: issuerCertificate)
        guard ic.fields.issuer == ic.keyID else {
            throw MeshCAError("--issuer-cert: \(ic.fields.name) is not a root; an organization CA is signed by the root",
                              fix: "pass the root's ca.key and ca.crt as --issuer-key and --issuer-cert")
        }
        let key = SigningKey.random()
        let fields = try caFields(request, key: key, issuer: ic.keyID)
        try within(fields, ic)
        let cert = try sign(fields, with: ik)
        return (armoredKey(key), Armor.encode(.certificate, cert.encoded))
    }

    /// A node certificate for the X25519 public key `publicKey` (base64, as `sluice wg pubkey` prints it), followed
    /// by the issuing CA's certificate when that CA is not a root: the chain a node presents.
    public static func signNode(_ request: CertificateRequest, publicKey: String, issuerKey: String,
                                issuerCertificate: String) throws(MeshCAError) -> String {
        let (ik, ic) = try loadIssuer(key: issuerKey, certificate: issuerCertificate)
        guard let nodeKey = PublicKey(base64: publicKey.trimmingCharacters().trimmingNewlines()) else {
            throw MeshCAError("--public-key: \"\(publicKey.prefix(60))\" is not a base64 X25519 public key (44 characters)",
                              fix: "pass the node's key as printed by `sluice wg genkey | sluice wg pubkey`, or a file holding it")
        }
        guard request.pathLength == 0 else {
            throw MeshCAError("--path-length applies to CAs only", fix: "leave --path-length out for a node")
        }
        let fields = try makeFields(request, isCA: false, subject: nodeKey, issuer: ic.keyID)
        try within(fields, ic)
        let cert = try sign(fields, with: ik)
        var text = Armor.encode(.certificate, cert.encoded)
        if ic.fields.issuer != ic.keyID { text += Armor.encode(.certificate, ic.encoded) }
        return text
    }

    /// The revocation list `existing` (nil: a new one) with more entries, signed again by the root in
    /// `issuerKey`/`issuerCertificate` with the next sequence number. `serials` are "KEYID:SERIAL" (KEYID as
    /// `inspect` prints an issuer), `certificates` armoured certificates to revoke by serial, `keys` base64 keys.
    public static func revoke(existing: String?, issuerKey: String, issuerCertificate: String, serials: [String],
                              certificates: [String], keys: [String], now: Int64) throws(MeshCAError) -> String {
        let (ik, ic) = try loadIssuer(key: issuerKey, certificate: issuerCertificate)
        guard ic.fields.issuer == ic.keyID else {
            throw MeshCAError("--ca-cert: revocation lists are signed by the root, and \(ic.fields.name) is not one",
                              fix: "pass the root's ca.key and ca.crt")
        }
        var entries: [RevokedSerial] = [], revokedKeys: [PublicKey] = [], sequence: UInt64 = 1
        if let existing {
            let list = try loadList(existing, what: "--list")
            guard list.signer == ic.keyID, list.isSigned(by: ic.signingKey) else {
                throw MeshCAError("--list: the existing list was not signed by this root",
                                  fix: "use the root that signed it, or start a new list file")
            }
            entries = list.serials; revokedKeys = list.keys
            guard list.sequence < UInt64.max else {
                throw MeshCAError("--list: sequence number exhausted", fix: "start a new list file")
            }
            sequence = list.sequence + 1
        }
        for s in serials {
            let parts = s.split(separator: ":")
            guard parts.count == 2, let id = KeyID(hex: String(parts[0])), let serial = UInt64(parts[1]) else {
                throw MeshCAError("--serial \(s): expected ISSUER:SERIAL (32 hex digits, a colon, a decimal serial)",
                                  fix: "copy the issuer and serial from `sluice mesh ca inspect` of the certificate")
            }
            entries.append(RevokedSerial(issuer: id, serial: serial))
        }
        for text in certificates {
            for c in try loadCertificates(text, what: "--certificate") {
                entries.append(RevokedSerial(issuer: c.fields.issuer, serial: c.fields.serial))
            }
        }
        for k in keys {
            guard let key = PublicKey(base64: k.trimmingCharacters().trimmingNewlines()) else {
                throw MeshCAError("--key \(k.prefix(60)): not a base64 32-byte key",
                                  fix: "pass a node's X25519 public key or a CA's key as `inspect` prints it")
            }
            revokedKeys.append(key)
        }
        do throws(CertificateError) {
            let list = try RevocationList(signer: ik, sequence: sequence, issuedAt: now, serials: entries, keys: revokedKeys)
            return Armor.encode(.revocationList, list.encoded)
        } catch {
            throw MeshCAError("too many entries (at most \(RevocationList.maxEntries) of each kind)",
                              fix: "renew the CA instead of revoking this many certificates")
        }
    }

    /// A description of every block in `text`; with `roots`, each chain of node certificates is validated at `now`
    /// (with the revocation lists in `revocations`) and `valid` says whether all passed.
    public static func inspect(_ text: String, roots: String?, revocations: String?,
                               now: Int64) throws(MeshCAError) -> (report: String, valid: Bool?) {
        let blocks: [(kind: ArmorKind, bytes: [UInt8], line: Int)]
        do { blocks = try Armor.decode(text) } catch {
            throw MeshCAError("\(error)", fix: "the file must hold BEGIN/END SLUICE MESH blocks as `sluice mesh ca` writes them")
        }
        guard !blocks.isEmpty else {
            throw MeshCAError("no SLUICE MESH block found", fix: "inspect a file that `sluice mesh ca` wrote")
        }
        var lines: [String] = []
        var chain: [Certificate] = []
        for block in blocks {
            switch block.kind {
            case .signingKey:
                guard let key = signingKey(block.bytes) else {
                    throw MeshCAError("line \(block.line): a signing key must be 32 bytes", fix: "use a key file `sluice mesh ca init` wrote")
                }
                lines.append("signing key (secret) — public \(key.publicKey.base64), key id \(KeyID(of: key.publicKey))")
            case .certificate:
                let c: Certificate
                do { c = try Certificate(parsing: block.bytes) } catch {
                    throw MeshCAError("line \(block.line): certificate \(error)", fix: "re-issue it with `sluice mesh ca sign`")
                }
                lines += describe(c, now: now)
                chain.append(c)
            case .revocationList:
                let l: RevocationList
                do { l = try RevocationList(parsing: block.bytes) } catch {
                    throw MeshCAError("line \(block.line): revocation list \(error)", fix: "rewrite it with `sluice mesh ca revoke`")
                }
                lines.append("revocation list — signer \(l.signer), sequence \(l.sequence), issued \(CivilTime.format(l.issuedAt))")
                for s in l.serials { lines.append("  revoked serial \(s)") }
                for k in l.keys { lines.append("  revoked key \(k.base64)") }
            case .invite:
                let i: MeshInvite
                do { i = try MeshInvite(parsing: block.bytes) } catch {
                    throw MeshCAError("line \(block.line): invite \(error)", fix: "make a new one with `sluice mesh invite`")
                }
                lines.append("invite (secret) \(i.idHex) for \(i.template.name), expires \(CivilTime.format(i.expires))"
                             + (i.autoApprove ? ", approved automatically" : ""))
            }
        }
        guard let roots else { return (lines.joined(separator: "\n"), nil) }
        var anchors = TrustAnchors()
        for r in try loadCertificates(roots, what: "--roots") {
            do { try anchors.add(r) } catch {
                throw MeshCAError("--roots: \(r.fields.name) is not a self-signed CA (\(error))", fix: "pass the root's ca.crt")
            }
        }
        var revoked = RevocationSet()
        if let revocations {
            do { try revoked.apply(try loadList(revocations, what: "--revocations"), roots: anchors) } catch let e as CertificateError {
                throw MeshCAError("--revocations: \(e)", fix: "pass a list signed by one of the --roots")
            } catch let e as MeshCAError { throw e } catch { throw MeshCAError("--revocations: \(error)", fix: "") }
        }
        let verifier = CertificateVerifier(anchors: anchors, revocations: revoked)
        let nodes = chain.filter { !$0.fields.isCA }
        guard !nodes.isEmpty else {
            // CA certificates alone: check each against the roots as an issuer would be.
            var valid = true
            for c in chain where anchors.roots[c.keyID] == nil {
                if let root = anchors.roots[c.fields.issuer], c.isSigned(by: root.signingKey) {
                    lines.append("\(c.fields.name): signed by root \(root.fields.name)")
                } else { lines.append("\(c.fields.name): not signed by any of the roots"); valid = false }
            }
            return (lines.joined(separator: "\n"), valid)
        }
        do {
            let v = try verifier.validate(chain, now: now)
            lines.append("chain valid: \(v.node.fields.name) ← " + v.issuers.map(\.fields.name).joined(separator: " ← "))
            return (lines.joined(separator: "\n"), true)
        } catch {
            lines.append("chain INVALID: \(error)")
            return (lines.joined(separator: "\n"), false)
        }
    }

    // MARK: helpers

    static func describe(_ c: Certificate, now: Int64) -> [String] {
        let f = c.fields
        var out = ["\(f.isCA ? "CA" : "node") certificate \(f.name)"
                   + (f.organization.isEmpty ? "" : " (organization \(f.organization))")]
        if f.isCA { out.append("  key id \(c.keyID), path length \(f.pathLength)") }
        out.append("  \(f.isCA ? "ed25519" : "x25519") key \(f.subjectKey.base64)")
        out.append("  issuer \(f.issuer)\(f.issuer == c.keyID ? " (self-signed root)" : ""), serial \(f.serial)")
        out.append("  valid \(CivilTime.format(f.notBefore)) … \(CivilTime.format(f.notAfter))")
        if let left = c.expiryWarning(now: now) {
            out.append(left < 0 ? "  WARNING: expired \(-left / 86_400) days ago"
                                : "  WARNING: expires in \(left / 86_400) days \(left % 86_400 / 3600) hours — renew it")
        }
        if !f.addresses.isEmpty { out.append("  \(f.isCA ? "networks" : "addresses") " + f.addresses.map(\.description).joined(separator: ", ")) }
        if !f.prefixes.isEmpty { out.append("  prefixes " + f.prefixes.map(\.description).joined(separator: ", ")) }
        if !f.groups.isEmpty { out.append("  groups " + f.groups.joined(separator: ", ")) }
        out.append("  capabilities \(f.capabilities)")
        return out
    }

    static func armoredKey(_ key: SigningKey) -> String {
        "# Secret: the Ed25519 signing key of a sluice mesh CA. Keep it offline, readable by its owner only.\n"
            + Armor.encode(.signingKey, key.seed.withUnsafeBytes { Array($0) })
    }

    static func signingKey(_ bytes: [UInt8]) -> SigningKey? {
        guard let seed = SecretKey(bytes) else { return nil }
        return SigningKey(seed: seed)
    }

    static func loadIssuer(key: String, certificate: String) throws(MeshCAError) -> (SigningKey, Certificate) {
        let blocks: [(kind: ArmorKind, bytes: [UInt8], line: Int)]
        do { blocks = try Armor.decode(key) } catch {
            throw MeshCAError("--ca-key: \(error)", fix: "pass the ca.key that `sluice mesh ca init` wrote")
        }
        guard let block = blocks.first(where: { $0.kind == .signingKey }), let k = signingKey(block.bytes) else {
            throw MeshCAError("--ca-key: no SLUICE MESH SIGNING KEY block", fix: "pass the ca.key that `sluice mesh ca init` wrote")
        }
        guard let cert = try loadCertificates(certificate, what: "--ca-cert").first else {
            throw MeshCAError("--ca-cert: no certificate", fix: "pass the ca.crt written next to the key")
        }
        guard cert.fields.isCA else {
            throw MeshCAError("--ca-cert: \(cert.fields.name) is a node certificate, not a CA", fix: "pass a CA's ca.crt")
        }
        guard cert.fields.subjectKey == k.publicKey.key else {
            throw MeshCAError("--ca-key does not belong to --ca-cert (\(cert.fields.name))",
                              fix: "pass the ca.key and ca.crt from the same `sluice mesh ca init` directory")
        }
        return (k, cert)
    }

    public static func loadCertificates(_ text: String, what: String) throws(MeshCAError) -> [Certificate] {
        let blocks: [(kind: ArmorKind, bytes: [UInt8], line: Int)]
        do { blocks = try Armor.decode(text) } catch {
            throw MeshCAError("\(what): \(error)", fix: "pass a certificate file that `sluice mesh ca` wrote")
        }
        var out: [Certificate] = []
        for b in blocks where b.kind == .certificate {
            do { out.append(try Certificate(parsing: b.bytes)) } catch {
                throw MeshCAError("\(what): line \(b.line): certificate \(error)", fix: "re-issue it with `sluice mesh ca`")
            }
        }
        guard !out.isEmpty else { throw MeshCAError("\(what): no SLUICE MESH CERTIFICATE block", fix: "pass a .crt file") }
        return out
    }

    public static func loadList(_ text: String, what: String) throws(MeshCAError) -> RevocationList {
        let blocks: [(kind: ArmorKind, bytes: [UInt8], line: Int)]
        do { blocks = try Armor.decode(text) } catch {
            throw MeshCAError("\(what): \(error)", fix: "pass a list that `sluice mesh ca revoke` wrote")
        }
        guard let b = blocks.first(where: { $0.kind == .revocationList }) else {
            throw MeshCAError("\(what): no SLUICE MESH REVOCATION LIST block", fix: "pass a list that `sluice mesh ca revoke` wrote")
        }
        do { return try RevocationList(parsing: b.bytes) } catch {
            throw MeshCAError("\(what): line \(b.line): revocation list \(error)", fix: "rewrite it with `sluice mesh ca revoke`")
        }
    }

    static func caFields(_ r: CertificateRequest, key: SigningKey, issuer: KeyID) throws(MeshCAError) -> CertificateFields {
        guard (0...15).contains(r.pathLength) else {
            throw MeshCAError("--path-length \(r.pathLength): out of range", fix: "use 0 (signs nodes only) … 15; 1 lets a root sign organization CAs")
        }
        return try makeFields(r, isCA: true, subject: key.publicKey.key, issuer: issuer)
    }

    static func makeFields(_ r: CertificateRequest, isCA: Bool, subject: PublicKey, issuer: KeyID) throws(MeshCAError) -> CertificateFields {
        guard (1...maxDays).contains(r.days) else {
            throw MeshCAError("--days \(r.days): out of range", fix: "use 1 … \(maxDays)")
        }
        func networks(_ list: [String], _ option: String) throws(MeshCAError) -> [OverlayNetwork] {
            var out: [OverlayNetwork] = []
            for text in list {
                guard let n = OverlayNetwork(text.trimmingCharacters()) else {
                    throw MeshCAError("\(option) \(text): not an IPv4 network", fix: "write a.b.c.d/len with len 0…32, e.g. 10.99.0.5/16")
                }
                out.append(n)
            }
            return out
        }
        guard let caps = Capabilities(names: r.capabilities) else {
            throw MeshCAError("--capabilities \(r.capabilities): unknown capability", fix: "use relay, rendezvous or both, comma-separated")
        }
        let fields = CertificateFields(
            isCA: isCA, pathLength: UInt8(r.pathLength), capabilities: caps, issuer: issuer, subjectKey: subject,
            serial: r.serial, notBefore: r.now, notAfter: r.now.addingClamped(Int64(r.days) * 86_400), name: r.name,
            organization: r.organization, addresses: try networks(r.addresses, "--addresses"),
            prefixes: try networks(r.prefixes, "--prefixes"), groups: r.groups.map { $0.trimmingCharacters() })
        if let problem = fields.problem {
            throw MeshCAError(problem, fix: "change the option it names (sluice mesh ca --help lists the rules)")
        }
        return fields
    }

    static func within(_ child: CertificateFields, _ issuer: Certificate) throws(MeshCAError) {
        let i = issuer.fields
        do { try CertificateVerifier.checkWithin(child: child, issuer: i) } catch {
            let fix: String
            switch error {
            case .validityExceedsIssuer:
                fix = "the issuer \(i.name) is valid until \(CivilTime.format(i.notAfter)); use a smaller --days"
            case .addressOutsideIssuer: fix = "choose --addresses inside the issuer's networks: " + i.addresses.map(\.description).joined(separator: ", ")
            case .prefixOutsideIssuer: fix = "choose --prefixes inside the issuer's prefixes: " + (i.prefixes.isEmpty ? "(none: the issuer grants no prefixes)" : i.prefixes.map(\.description).joined(separator: ", "))
            case .groupOutsideIssuer: fix = "choose --groups among the issuer's: " + (i.groups.isEmpty ? "(none)" : i.groups.joined(separator: ", "))
            case .capabilityOutsideIssuer: fix = "the issuer holds capabilities \(i.capabilities); ask for no more"
            case .organizationMismatch: fix = "use --organization \(i.organization), the issuer's"
            case .pathLengthExceeded: fix = "the issuer's path length is \(i.pathLength); a CA below it needs a smaller one, and a root needs --path-length 1 or more to sign organization CAs"
            default: fix = "check the issuer with `sluice mesh ca inspect`"
            }
            throw MeshCAError("the certificate would exceed its issuer \(i.name): \(error)", fix: fix)
        }
    }

    static func sign(_ fields: CertificateFields, with key: SigningKey) throws(MeshCAError) -> Certificate {
        do { return try Certificate(signing: fields, with: key) } catch {
            throw MeshCAError("the certificate would be longer than \(MeshConstants.maxCertificateSize) bytes",
                              fix: "use fewer or shorter addresses, prefixes and groups")
        }
    }
}

extension String {
    func trimmingNewlines() -> String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == "\r" || l == " " { s = s.dropLast() }
        while let f = s.first, f == "\n" || f == "\r" || f == " " { s = s.dropFirst() }
        return String(s)
    }
}

/// Unix seconds as a UTC date and time, "2026-12-07 18:15:37Z" (days-from-civil inverted; no calendar library).
enum CivilTime {
    static func format(_ seconds: Int64) -> String {
        // Beyond ±300,000 years the calendar is meaningless (and hostile values must not overflow below).
        guard seconds.magnitude < 10_000_000_000_000 else { return "@\(seconds)" }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (proleptic Gregorian), valid far beyond any certificate's range.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d)) \(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))Z"
    }
}
