// A signed revocation list (docs/mesh.md, "Revocation"): certificates revoked by (issuer key id, serial) and keys
// revoked outright (a node's X25519 static key or a CA's Ed25519 key). A root signs it; every node applies every
// list it can verify, and the union is checked at every level of every chain. Big-endian:
//
//   0   1    version (1)
//   1   16   signer key id (a trusted root's)
//   17  8    sequence (the signer's list number: a newer list replaces an older one of the same signer)
//   25  8    issued at, Unix seconds
//   33  2    serial entries (≤ 4096), each 16-byte issuer key id + 8-byte serial, strictly ascending
//   …   2    key entries (≤ 4096), each 32 bytes, strictly ascending
//   …   64   Ed25519 signature over every byte above

import Crypto

/// One revoked certificate: its issuer and serial.
public struct RevokedSerial: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let issuer: KeyID
    public let serial: UInt64
    public init(issuer: KeyID, serial: UInt64) { self.issuer = issuer; self.serial = serial }
    public static func < (a: RevokedSerial, b: RevokedSerial) -> Bool { (a.issuer, a.serial) < (b.issuer, b.serial) }
    public var description: String { "\(issuer):\(serial)" }
}

/// A revocation list as signed by one root.
public struct RevocationList: Equatable, Sendable {
    public static let version: UInt8 = 1
    public static let maxEntries = 4096

    public let signer: KeyID
    public let sequence: UInt64
    public let issuedAt: Int64
    public let serials: [RevokedSerial]
    public let keys: [PublicKey]
    /// Every byte, signature included.
    public let encoded: [UInt8]

    /// Signs a list (entries are sorted and deduplicated here).
    public init(signer key: SigningKey, sequence: UInt64, issuedAt: Int64, serials: [RevokedSerial],
                keys: [PublicKey]) throws(CertificateError) {
        let s = Array(Set(serials)).sorted(), k = Array(Set(keys)).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        guard s.count <= Self.maxEntries, k.count <= Self.maxEntries else { throw .malformed }
        signer = KeyID(of: key.publicKey); self.sequence = sequence; self.issuedAt = issuedAt
        self.serials = s; self.keys = k
        let body = Self.body(signer: signer, sequence: sequence, issuedAt: issuedAt, serials: s, keys: k)
        encoded = body + key.sign(body)
    }

    static func body(signer: KeyID, sequence: UInt64, issuedAt: Int64, serials: [RevokedSerial],
                     keys: [PublicKey]) -> [UInt8] {
        var w = ByteWriter()
        w.u8(version)
        w.append(signer.bytes)
        w.u64(sequence)
        w.i64(issuedAt)
        w.u16(UInt16(serials.count))
        for e in serials { w.append(e.issuer.bytes); w.u64(e.serial) }
        w.u16(UInt16(keys.count))
        for k in keys { w.append(k.bytes) }
        return w.bytes
    }

    /// Parses a list occupying all of `bytes` (the signature is checked by `RevocationSet.apply`).
    public init(parsing bytes: [UInt8]) throws(CertificateError) {
        var r = ByteReader(bytes)
        guard try r.u8() == Self.version else { throw .unsupportedVersion }
        guard let signer = KeyID(try r.take(KeyID.length)) else { throw .malformed }
        let sequence = try r.u64(), issuedAt = try r.i64()
        let serialCount = Int(try r.u16())
        guard serialCount <= Self.maxEntries else { throw .malformed }
        var serials: [RevokedSerial] = []
        for _ in 0..<serialCount {
            guard let issuer = KeyID(try r.take(KeyID.length)) else { throw .malformed }
            let e = RevokedSerial(issuer: issuer, serial: try r.u64())
            if let last = serials.last, !(last < e) { throw .malformed }
            serials.append(e)
        }
        let keyCount = Int(try r.u16())
        guard keyCount <= Self.maxEntries else { throw .malformed }
        var keys: [PublicKey] = []
        for _ in 0..<keyCount {
            guard let k = PublicKey(try r.take(32)) else { throw .malformed }
            if let last = keys.last, !last.bytes.lexicographicallyPrecedes(k.bytes) { throw .malformed }
            keys.append(k)
        }
        guard r.remaining == Ed25519.signatureLength else { throw .malformed }
        self.signer = signer; self.sequence = sequence; self.issuedAt = issuedAt
        self.serials = serials; self.keys = keys; encoded = bytes
    }

    /// True when `key` signed this list.
    public func isSigned(by key: SigningPublicKey) -> Bool {
        let n = encoded.count - Ed25519.signatureLength
        return key.verify(signature: Array(encoded[n...]), message: Array(encoded[..<n]))
    }
}

/// Everything revoked, from every verified list: what the chain check consults at every level.
public struct RevocationSet: Sendable, Equatable {
    public private(set) var serials: Set<RevokedSerial> = []
    public private(set) var keys: Set<PublicKey> = []
    /// The newest list applied per signer.
    public private(set) var lists: [KeyID: RevocationList] = [:]

    public init() {}

    /// Applies `list` when a trusted root signed it and it is newer than that root's last list; returns false for
    /// an older or equal sequence (nothing changes). Throws when the signer is not a root or the signature fails.
    @discardableResult
    public mutating func apply(_ list: RevocationList, roots: TrustAnchors) throws(CertificateError) -> Bool {
        guard let root = roots.roots[list.signer] else { throw .unknownIssuer }
        guard list.isSigned(by: root.signingKey) else { throw .badSignature }
        if let old = lists[list.signer], old.sequence >= list.sequence { return false }
        lists[list.signer] = list
        serials = []; keys = []
        for l in lists.values { serials.formUnion(l.serials); keys.formUnion(l.keys) }
        return true
    }

    /// True when `certificate` is revoked by its serial or its key.
    public func revocation(of certificate: Certificate) -> CertificateError? {
        if serials.contains(RevokedSerial(issuer: certificate.fields.issuer, serial: certificate.fields.serial)) {
            return .revokedSerial
        }
        if keys.contains(certificate.fields.subjectKey) { return .revokedKey }
        return nil
    }
}
