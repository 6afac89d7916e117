// The mesh certificate (docs/mesh.md, "Certificates"): a compact, versioned, canonical binary encoding, signed by
// its issuer over the exact encoded bytes before the signature. Big-endian throughout:
//
//   off len  field
//   0   1    version (1)
//   1   1    flags: bit 0 = CA; other bits zero
//   2   1    path length: how many CA levels a CA may have below it (0 for a node)
//   3   1    capabilities: bit 0 relay, bit 1 rendezvous; other bits zero
//   4   16   issuer key id (KeyID of the issuer's Ed25519 key; a root names itself)
//   20  32   subject key: a CA's Ed25519 verification key, or a node's X25519 Noise static key
//   52  8    serial
//   60  8    notBefore, Unix seconds (signed)
//   68  8    notAfter
//   76  1+n  name (1…63 bytes of printable ASCII, no space)
//   …   1+n  organization (0…63 bytes, same alphabet)
//   …   1+   addresses: count (≤ 8), then per entry family (4|6), 4|16 address bytes, prefix length
//   …   1+   prefixes: count (≤ 16), same entries, no host bits set
//   …   1+   groups: count (≤ 16), then per group 1 length byte + 1…32 bytes of [a-z0-9._-], or "*" (CA only)
//   …   64   Ed25519 signature over every byte above
//
// Canonical: lists strictly ascending (so no duplicates), every reserved bit zero, the whole at most 400 bytes, no
// trailing bytes. Parsing enforces all of it, so `Certificate(parsing: b).encoded == b` always holds.

import Crypto
import Wire

/// Sixteen bytes naming an Ed25519 key: BLAKE2s-128 of the key.
public struct KeyID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let length = 16
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.length else { return nil }
        self.bytes = bytes
    }

    /// The id of `key`.
    public init(of key: SigningPublicKey) { bytes = BLAKE2s.hash(key.bytes, outputLength: Self.length) }

    /// Parses 32 hex digits.
    public init?(hex: String) {
        guard let b = [UInt8](hex: hex) else { return nil }
        self.init(b)
    }

    public static func < (a: KeyID, b: KeyID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
    public var description: String { bytes.hex }
}

/// The signed fields of a certificate.
public struct CertificateFields: Equatable, Sendable {
    public var isCA: Bool
    public var pathLength: UInt8
    public var capabilities: Capabilities
    public var issuer: KeyID
    /// A CA's Ed25519 key or a node's X25519 static key (both 32 bytes).
    public var subjectKey: PublicKey
    public var serial: UInt64
    public var notBefore: Int64
    public var notAfter: Int64
    public var name: String
    public var organization: String
    public var addresses: [OverlayNetwork]
    public var prefixes: [OverlayNetwork]
    public var groups: [String]

    public init(isCA: Bool, pathLength: UInt8 = 0, capabilities: Capabilities = [], issuer: KeyID,
                subjectKey: PublicKey, serial: UInt64, notBefore: Int64, notAfter: Int64, name: String,
                organization: String = "", addresses: [OverlayNetwork] = [], prefixes: [OverlayNetwork] = [],
                groups: [String] = []) {
        self.isCA = isCA; self.pathLength = pathLength; self.capabilities = capabilities; self.issuer = issuer
        self.subjectKey = subjectKey; self.serial = serial; self.notBefore = notBefore; self.notAfter = notAfter
        self.name = name; self.organization = organization
        self.addresses = addresses.sorted(); self.prefixes = prefixes.sorted(); self.groups = groups.sorted()
    }

    /// The group that, held by a CA, lets it grant any group.
    public static let anyGroup = "*"
    public static let version: UInt8 = 1
    public static let maxAddresses = 8
    public static let maxPrefixes = 16
    public static let maxGroups = 16
    public static let maxNameLength = 63
    public static let maxGroupLength = 32

    /// Why these fields cannot be encoded, or nil when they can (the same rules parsing enforces). The text says
    /// what is wrong; callers that take input from people add the fix.
    public var problem: String? {
        if !Self.isName(name) { return "name \"\(name)\" must be 1…63 printable ASCII characters without spaces" }
        if !organization.isEmpty && !Self.isName(organization) {
            return "organization \"\(organization)\" must be at most 63 printable ASCII characters without spaces"
        }
        if notBefore >= notAfter { return "notBefore must be before notAfter" }
        if !isCA && pathLength != 0 { return "a node certificate has path length 0" }
        if capabilities.rawValue & ~Capabilities.known.rawValue != 0 { return "unknown capability bits" }
        if addresses.count > Self.maxAddresses { return "at most \(Self.maxAddresses) addresses" }
        if prefixes.count > Self.maxPrefixes { return "at most \(Self.maxPrefixes) prefixes" }
        if groups.count > Self.maxGroups { return "at most \(Self.maxGroups) groups" }
        if Set(addresses).count != addresses.count { return "an address is listed twice" }
        if Set(prefixes).count != prefixes.count { return "a prefix is listed twice" }
        if Set(groups).count != groups.count { return "a group is listed twice" }
        if let p = prefixes.first(where: { !$0.isNetwork }) { return "prefix \(p) has host bits set (use \(OverlayNetwork(family: p.family, address: p.networkAddress, prefixLength: p.prefixLength)!))" }
        for g in groups where !Self.isGroup(g, allowAny: isCA) {
            return g == Self.anyGroup ? "only a CA may hold the group \"*\"" : "group \"\(g)\" must be 1…32 characters of a-z 0-9 . _ -"
        }
        return nil
    }

    static func isName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return !u.isEmpty && u.count <= maxNameLength && u.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    static func isGroup(_ s: String, allowAny: Bool) -> Bool {
        if s == anyGroup { return allowAny }
        let u = Array(s.utf8)
        return !u.isEmpty && u.count <= maxGroupLength && u.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        }
    }

    /// The bytes the issuer signs. Only for fields with `problem == nil` (Certificate(signing:) and parsing check
    /// that first), so every length below fits its byte.
    var encoded: [UInt8] {
        var w = ByteWriter()
        w.u8(Self.version)
        w.u8(isCA ? 1 : 0)
        w.u8(pathLength)
        w.u8(capabilities.rawValue)
        w.append(issuer.bytes)
        w.append(subjectKey.bytes)
        w.u64(serial)
        w.i64(notBefore)
        w.i64(notAfter)
        w.u8(UInt8(name.utf8.count)); w.append(Array(name.utf8))
        w.u8(UInt8(organization.utf8.count)); w.append(Array(organization.utf8))
        for list in [addresses.sorted(), prefixes.sorted()] {
            w.u8(UInt8(list.count))
            for n in list { w.append(n.encoded) }
        }
        let g = groups.sorted()
        w.u8(UInt8(g.count))
        for group in g { w.u8(UInt8(group.utf8.count)); w.append(Array(group.utf8)) }
        return w.bytes
    }
}

/// A parsed (not yet validated) certificate: its fields, its exact bytes and the signature over them.
public struct Certificate: Equatable, Sendable, CustomStringConvertible {
    public let fields: CertificateFields
    /// Every byte, signature included.
    public let encoded: [UInt8]

    /// The bytes the signature covers.
    public var signedBytes: ArraySlice<UInt8> { encoded[0..<(encoded.count - Ed25519.signatureLength)] }
    public var signature: ArraySlice<UInt8> { encoded[(encoded.count - Ed25519.signatureLength)...] }

    /// Signs `fields` with `issuerKey`. Throws `.malformed` when the fields cannot be encoded or the result is
    /// longer than `MeshConstants.maxCertificateSize`.
    public init(signing fields: CertificateFields, with issuerKey: SigningKey) throws(CertificateError) {
        guard fields.problem == nil else { throw .malformed }
        let body = fields.encoded
        let bytes = body + issuerKey.sign(body)
        guard bytes.count <= MeshConstants.maxCertificateSize else { throw .malformed }
        self.fields = fields
        encoded = bytes
    }

    /// Parses one certificate occupying all of `bytes`. Never traps; the signature is not checked here.
    public init(parsing bytes: [UInt8]) throws(CertificateError) {
        guard bytes.count <= MeshConstants.maxCertificateSize else { throw .malformed }
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == CertificateFields.version else { throw .unsupportedVersion }
        let flags = try r.u8()
        guard flags & ~1 == 0 else { throw .malformed }
        let pathLength = try r.u8()
        let capabilities = Capabilities(rawValue: try r.u8())
        guard let issuer = KeyID(try r.take(KeyID.length)), let subject = PublicKey(try r.take(32)) else {
            throw .malformed
        }
        let serial = try r.u64()
        let notBefore = try r.i64(), notAfter = try r.i64()
        func text() throws(CertificateError) -> String {
            let count = Int(try r.u8())
            return String(decoding: try r.take(count), as: UTF8.self)
        }
        let name = try text(), organization = try text()
        func networks() throws(CertificateError) -> [OverlayNetwork] {
            let count = Int(try r.u8())
            var out: [OverlayNetwork] = []
            for _ in 0..<count {
                let family = try r.u8()
                let size: Int
                switch family { case 4: size = 4; case 6: size = 16; default: throw .malformed }
                let address = try r.take(size)
                guard let n = OverlayNetwork(family: family, address: address, prefixLength: try r.u8()) else {
                    throw .malformed
                }
                out.append(n)
            }
            return out
        }
        let addresses = try networks(), prefixes = try networks()
        let groupCount = Int(try r.u8())
        var groups: [String] = []
        for _ in 0..<groupCount { groups.append(try text()) }
        guard r.remaining == Ed25519.signatureLength else { throw .malformed }
        let fields = CertificateFields(
            isCA: flags & 1 == 1, pathLength: pathLength, capabilities: capabilities, issuer: issuer, subjectKey: subject,
            serial: serial, notBefore: notBefore, notAfter: notAfter, name: name, organization: organization,
            addresses: addresses, prefixes: prefixes, groups: groups)
        // Canonical form: the fields must be valid and re-encode to exactly the bytes read (sorted lists, valid
        // UTF-8 that round-trips, no duplicates).
        guard fields.problem == nil,
              fields.encoded.elementsEqual(bytes[0..<(bytes.count - Ed25519.signatureLength)]) else { throw .malformed }
        self.fields = fields
        encoded = bytes
    }

    /// True when `key` signed this certificate.
    public func isSigned(by key: SigningPublicKey) -> Bool {
        Array(signature).withUnsafeBytes { s in Array(signedBytes).withUnsafeBytes { key.verify(signature: s, message: $0) } }
    }

    /// A CA's verification key (its subject key read as Ed25519).
    public var signingKey: SigningPublicKey { SigningPublicKey(fields.subjectKey) }
    /// The key id children of this CA carry as their issuer.
    public var keyID: KeyID { KeyID(of: signingKey) }

    /// True when the inner IPv4 source `a` is one of the node's addresses or inside one of its prefixes.
    /// Allocates nothing (checked per packet).
    public func covers(source a: IPv4Address) -> Bool {
        for n in fields.addresses where n.family == 4 && n.ipv4Raw == a.rawValue { return true }
        for n in fields.prefixes where n.family == 4 {
            let mask: UInt32 = n.prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - Int(n.prefixLength))
            if (n.ipv4Raw ^ a.rawValue) & mask == 0 { return true }
        }
        return false
    }

    /// Seconds until expiry when it is within the warning horizon (30 days, or a third of the lifetime when that
    /// is shorter); nil when expiry is further away. Negative once expired.
    public func expiryWarning(now: Int64) -> Int64? {
        let lifetime = fields.notAfter.subtractingClamped(fields.notBefore)
        let horizon = min(MeshConstants.expiryWarningSeconds, lifetime / 3)
        let left = fields.notAfter.subtractingClamped(now)
        return left <= horizon ? left : nil
    }

    public var description: String {
        "\(fields.isCA ? "CA" : "node") \(fields.name) serial \(fields.serial)"
    }
}

extension Int64 {
    /// self − other, clamped to Int64's range (the operands come from certificates: never trap).
    func subtractingClamped(_ other: Int64) -> Int64 {
        let (v, o) = subtractingReportingOverflow(other)
        return o ? (other < 0 ? .max : .min) : v
    }
    /// self + other, clamped.
    func addingClamped(_ other: Int64) -> Int64 {
        let (v, o) = addingReportingOverflow(other)
        return o ? (other > 0 ? .max : .min) : v
    }
}
