// Invites and join tokens (docs/mesh.md, "Joining"). An invite is what an admission node keeps: a random id and
// secret, an expiry, whether it is approved without a person, and the certificate the new node will be given (its
// name, organization, addresses, prefixes, groups, capabilities and how many days it is valid). A token is what the
// new node is handed: enough to reach the admission node, authenticate it, and prove it holds the invite.
//
// Invite file: one armoured block `SLUICE MESH INVITE` (secret — mode 0600) around, big-endian:
//
//   off len  field
//   0   1    version (1)
//   1   1    flags: bit 0 = approved without `sluice mesh approve`; other bits zero
//   2   16   invite id
//   18  32   invite secret (the join handshake's psk)
//   50  8    expiry, Unix seconds (signed)
//   58  2    days the node certificate is valid (1 … 36 500)
//   60  …    the node certificate's fields in the certificate encoding (Sources/Mesh/Certificate.swift) with a zero
//            subject key, serial 0, notBefore 0, notAfter 1 and 64 zero bytes where the signature goes
//
// Token: `sluicejoin1:` then standard base64 of 102 bytes: the admission node's X25519 key (32), its IPv4 endpoint
// (4 + port 2), the invite id (16), the invite secret (32) and the key id of the root the new node must trust (16).

import Basics
import Crypto
import Wire

/// An invite an admission node holds.
public struct MeshInvite: Sendable, Equatable {
    public static let idLength = 16
    public static let version: UInt8 = 1

    public let id: [UInt8]
    public let secret: SecretKey
    /// Unix seconds after which a join with this invite is refused.
    public var expires: Int64
    /// Approved as soon as the new node proves the secret (no `sluice mesh approve`).
    public var autoApprove: Bool
    /// Days the node certificate is valid, from the approval.
    public var days: Int
    /// The certificate template: name, organization, addresses, prefixes, groups, capabilities, and the issuer's
    /// key id. Subject key, serial and validity are filled in at approval.
    public var template: CertificateFields

    public init(id: [UInt8], secret: SecretKey, expires: Int64, autoApprove: Bool, days: Int, template: CertificateFields) {
        self.id = id; self.secret = secret; self.expires = expires; self.autoApprove = autoApprove; self.days = days
        var t = template
        t.subjectKey = .zero; t.serial = 0; t.notBefore = 0; t.notAfter = 1
        self.template = t
    }

    /// The invite's id as 32 hex digits (file names, status, `sluice mesh approve`).
    public var idHex: String { id.hex }

    /// The binary form (the armoured block's bytes).
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.u8(Self.version)
        w.u8(autoApprove ? 1 : 0)
        w.append(id)
        w.append(secret.withUnsafeBytes { Array($0) })
        w.i64(expires)
        w.u16(UInt16(clamping: days))
        w.append(template.encoded)
        w.append([UInt8](repeating: 0, count: Ed25519.signatureLength))
        return w.bytes
    }

    /// Parses the binary form. Never traps; the template must be a valid node certificate's fields.
    public init(parsing bytes: [UInt8]) throws(CertificateError) {
        var r = ByteReader(bytes)
        guard try r.u8() == Self.version else { throw .unsupportedVersion }
        let flags = try r.u8()
        guard flags & ~1 == 0 else { throw .malformed }
        let id = try r.take(Self.idLength)
        guard let secret = SecretKey(try r.take(SecretKey.length)) else { throw .malformed }
        let expires = try r.i64()
        let days = Int(try r.u16())
        guard (1...CertificateAuthority.maxDays).contains(days) else { throw .malformed }
        let template = try Certificate(parsing: try r.take(r.remaining))
        let f = template.fields
        guard !f.isCA, f.subjectKey.isZero, f.serial == 0, f.notBefore == 0, f.notAfter == 1,
              template.signature.allSatisfy({ $0 == 0 }) else {
            throw .malformed
        }
        self.init(id: id, secret: secret, expires: expires, autoApprove: flags & 1 == 1, days: days,
                  template: template.fields)
    }

    /// The armoured file text.
    public var armored: String {
        "# Secret: a sluice mesh invite (\(template.name)). Whoever holds its token can join once until it expires.\n"
            + Armor.encode(.invite, encoded)
    }

    /// The first invite in an armoured text.
    public static func load(_ text: String, what: String) throws(MeshCAError) -> MeshInvite {
        let blocks: [(kind: ArmorKind, bytes: [UInt8], line: Int)]
        do { blocks = try Armor.decode(text) } catch {
            throw MeshCAError("\(what): \(error)", fix: "pass an invite file that `sluice mesh invite` wrote")
        }
        guard let b = blocks.first(where: { $0.kind == .invite }) else {
            throw MeshCAError("\(what): no SLUICE MESH INVITE block", fix: "pass an invite file that `sluice mesh invite` wrote")
        }
        do { return try MeshInvite(parsing: b.bytes) } catch {
            throw MeshCAError("\(what): line \(b.line): invite \(error)", fix: "make a new one with `sluice mesh invite`")
        }
    }
}

/// What a joining node is handed: where the admission node is, its key, the invite, and the root to trust.
public struct JoinToken: Sendable, Equatable {
    public static let prefix = "sluicejoin1:"
    public static let length = 32 + 6 + MeshInvite.idLength + 32 + KeyID.length

    public var admissionKey: PublicKey
    public var endpoint: SocketAddressV4
    public var inviteID: [UInt8]
    public var secret: SecretKey
    public var rootKeyID: KeyID

    public init(admissionKey: PublicKey, endpoint: SocketAddressV4, inviteID: [UInt8], secret: SecretKey, rootKeyID: KeyID) {
        self.admissionKey = admissionKey; self.endpoint = endpoint; self.inviteID = inviteID; self.secret = secret
        self.rootKeyID = rootKeyID
    }

    public var text: String {
        var w = ByteWriter()
        w.append(admissionKey.bytes)
        w.append(endpoint.address.octets)
        w.u16(endpoint.port)
        w.append(inviteID)
        w.append(secret.withUnsafeBytes { Array($0) })
        w.append(rootKeyID.bytes)
        return Self.prefix + Base64.encode(w.bytes)
    }

    /// Parses a token; nil when it is not one (wrong prefix, base64 or length, a zero key, port 0).
    public init?(text: String) {
        let t = String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        guard t.hasPrefix(Self.prefix), let b = Base64.decode(String(t.dropFirst(Self.prefix.count))),
              b.count == Self.length else { return nil }
        var r = ByteReader(b)
        guard let key = try? PublicKey(r.take(32)), !key.isZero, let ip = try? r.take(4), let port = try? r.u16(), port != 0,
              let id = try? r.take(MeshInvite.idLength), let secretBytes = try? r.take(32), let secret = SecretKey(secretBytes),
              let root = try? KeyID(r.take(KeyID.length)) else { return nil }
        self.init(admissionKey: key, endpoint: SocketAddressV4(address: IPv4Address(ip[0], ip[1], ip[2], ip[3]), port: port),
                  inviteID: id, secret: secret, rootKeyID: root)
    }
}

extension CertificateAuthority {
    /// A CA's signing key and certificate from their armoured texts (`ca.key`, `ca.crt`), checked to belong together.
    public static func loadSigner(key: String, certificate: String) throws(MeshCAError) -> (SigningKey, Certificate) {
        try loadIssuer(key: key, certificate: certificate)
    }

    /// A new invite (random id and secret) for a node certificate `request` describes, checked now against the CA
    /// in `caKey`/`caCert` exactly as `sign` would check it. Returns the invite and the key id of the root above the
    /// CA (what a token names).
    public static func makeInvite(_ request: CertificateRequest, caKey: String, caCert: String, expires: Int64,
                                  autoApprove: Bool) throws(MeshCAError) -> (invite: MeshInvite, root: KeyID) {
        let (_, ca) = try loadIssuer(key: caKey, certificate: caCert)
        guard request.pathLength == 0 else {
            throw MeshCAError("--path-length applies to CAs only", fix: "leave --path-length out for an invite")
        }
        var fields = try makeFields(request, isCA: false, subject: .zero, issuer: ca.keyID)
        try within(fields, ca)
        guard expires > request.now else {
            throw MeshCAError("the invite would expire at once", fix: "give --expires-hours 1 or more")
        }
        var id = [UInt8](repeating: 0, count: MeshInvite.idLength)
        let idSource = SecretKey.random()
        idSource.withUnsafeBytes { for i in 0..<id.count { id[i] = $0[i] } }
        let invite = MeshInvite(id: id, secret: SecretKey.random(), expires: expires, autoApprove: autoApprove,
                                days: request.days, template: fields)
        return (invite, ca.fields.issuer)
    }
}
