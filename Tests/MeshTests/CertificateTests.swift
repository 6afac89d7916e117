// Certificates: the codec (round trip, every truncation, every flipped byte, canonical form), Ed25519 against
// RFC 8032, chain validation with every rejection reason, revocation lists and the text armour.
import Basics
import Crypto
import Foundation
import Testing
import Wire
@testable import Mesh

@Test func ed25519MatchesRFC8032Test1() {
    // RFC 8032 §7.1, TEST 1 (empty message).
    let key = SigningKey(seed: SecretKey(hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!)
    #expect(key.publicKey.bytes.hex == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    let sig = key.sign([UInt8]())
    #expect(sig.hex == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    #expect(key.publicKey.verify(signature: sig, message: []))
    var bad = sig
    bad[10] ^= 1
    #expect(!key.publicKey.verify(signature: bad, message: []))
    #expect(!key.publicKey.verify(signature: Array(sig.prefix(63)), message: []))
    #expect(!key.publicKey.verify(signature: sig, message: [0]))
}

@Test func base64RoundTripsAnyLength() {
    for n in 0..<70 {
        let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }
    #expect(Base64.decode("abc") == nil)
    #expect(Base64.decode("ab!=") == nil)
}

@Test func certificateRoundTripsAndIsCanonical() throws {
    let pki = PKI()
    let node = pki.chain(key: KeyPair(privateKey: SecretKey(hex: String(repeating: "11", count: 32))!).publicKey)[0]
    let parsed = try Certificate(parsing: node.encoded)
    #expect(parsed == node)
    #expect(parsed.encoded == node.encoded)
    #expect(try Certificate(parsing: pki.root.encoded) == pki.root)
    #expect(node.encoded.count <= MeshConstants.maxCertificateSize)
    // Every truncation is refused, never a trap.
    for n in 0..<node.encoded.count {
        #expect(throws: CertificateError.self) { _ = try Certificate(parsing: Array(node.encoded.prefix(n))) }
    }
    // A trailing byte, an unknown version, a reserved flag bit, an unknown capability bit.
    #expect(throws: CertificateError.malformed) { _ = try Certificate(parsing: node.encoded + [0]) }
    var v = node.encoded; v[0] = 2
    #expect(throws: CertificateError.unsupportedVersion) { _ = try Certificate(parsing: v) }
    var f = node.encoded; f[1] |= 2
    #expect(throws: CertificateError.malformed) { _ = try Certificate(parsing: f) }
    var c = node.encoded; c[3] |= 0x80
    #expect(throws: CertificateError.malformed) { _ = try Certificate(parsing: c) }
    // Lists out of order are not canonical: two groups swapped in place.
    let two = try Certificate(signing: CertificateFields(isCA: false, issuer: pki.root.keyID, subjectKey: .zero, serial: 1,
                                                         notBefore: 0, notAfter: 1, name: "n", groups: ["aa", "bb"]), with: pki.rootKey)
    var swapped = two.encoded
    let pattern: [UInt8] = [2, 0x61, 0x61, 2, 0x62, 0x62]
    let at = (0...(swapped.count - 6)).first { Array(swapped[$0..<$0 + 6]) == pattern }! + 1
    swapped[at] = UInt8(ascii: "b"); swapped[at + 1] = UInt8(ascii: "b")
    swapped[at + 3] = UInt8(ascii: "a"); swapped[at + 4] = UInt8(ascii: "a")
    #expect(throws: CertificateError.malformed) { _ = try Certificate(parsing: swapped) }
    // Fields that cannot be encoded are refused at signing.
    #expect(throws: CertificateError.malformed) {
        _ = try Certificate(signing: CertificateFields(isCA: false, issuer: pki.root.keyID, subjectKey: .zero, serial: 1,
                                                       notBefore: 5, notAfter: 5, name: "n"), with: pki.rootKey)
    }
    #expect(CertificateFields(isCA: false, issuer: pki.root.keyID, subjectKey: .zero, serial: 1, notBefore: 0,
                              notAfter: 1, name: "n", groups: ["*"]).problem != nil)
    #expect(CertificateFields(isCA: false, issuer: pki.root.keyID, subjectKey: .zero, serial: 1, notBefore: 0,
                              notAfter: 1, name: "n", prefixes: [net("10.1.2.3/24")]).problem != nil)
    #expect(CertificateFields(isCA: false, issuer: pki.root.keyID, subjectKey: .zero, serial: 1, notBefore: 0,
                              notAfter: 1, name: "has space").problem != nil)
}

@Test func everyFlippedByteIsRefused() {
    let pki = PKI()
    let chain = pki.chain(key: KeyPair(privateKey: SecretKey(hex: String(repeating: "22", count: 32))!).publicKey)
    let verifier = CertificateVerifier(anchors: pki.anchors)
    #expect((try? verifier.validate(chain, now: fixtureNow)) != nil)
    var accepted = 0
    for i in 0..<chain[0].encoded.count {
        var bytes = chain[0].encoded
        bytes[i] ^= 0x01
        if let c = try? Certificate(parsing: bytes), (try? verifier.validate([c, chain[1]], now: fixtureNow)) != nil {
            accepted += 1
        }
    }
    #expect(accepted == 0)
}

/// The rejection `chain` gets at `now` (nil when valid).
func rejection(_ chain: [Certificate], _ verifier: CertificateVerifier, now: Int64 = fixtureNow) -> CertificateError? {
    do { _ = try verifier.validate(chain, now: now); return nil } catch { return error }
}

@Test func chainValidationRejectsEachBadInputByReason() throws {
    let pki = PKI()
    let key = KeyPair(privateKey: SecretKey(hex: String(repeating: "33", count: 32))!).publicKey
    let v = CertificateVerifier(anchors: pki.anchors)
    let good = pki.chain(key: key)
    #expect(rejection(good, v) == nil)
    #expect(rejection(pki.chain(key: key, underOrg: false), v) == nil)

    // Forged: the right issuer named, signed by another key.
    let forger = SigningKey(seed: SecretKey(hex: String(repeating: "44", count: 32))!)
    let forged = try Certificate(signing: pki.nodeFields(key: key), with: forger)
    #expect(rejection([forged, pki.org], v) == .badSignature)
    // A foreign CA: a whole other PKI.
    let other = PKI(seed: 99)
    #expect(rejection(other.chain(key: key), v) == .unknownIssuer)
    #expect(rejection([good[0]], v) == .unknownIssuer)  // the organization CA left out
    // Time, with ±60 s of skew.
    let f = pki.nodeFields(key: key)
    #expect(rejection(good, v, now: f.notAfter + 60) == nil)
    #expect(rejection(good, v, now: f.notAfter + 61) == .expired)
    #expect(rejection(good, v, now: f.notBefore - 60) == nil)
    #expect(rejection(good, v, now: f.notBefore - 61) == .notYetValid)
    #expect(rejection(good, v, now: .max) == .expired)
    #expect(rejection(good, v, now: .min) == .notYetValid)
    // Constraints: a child never exceeds its issuer.
    func signed(_ change: (inout CertificateFields) -> Void) -> [Certificate] { pki.chain(key: key, change) }
    #expect(rejection(signed { $0.notAfter = pki.org.fields.notAfter + 1 }, v) == .validityExceedsIssuer)
    #expect(rejection(signed { $0.addresses = [net("10.99.2.5/24")] }, v) == .addressOutsideIssuer)
    #expect(rejection(signed { $0.addresses = [net("10.99.1.5/16")] }, v) == .addressOutsideIssuer)
    #expect(rejection(signed { $0.prefixes = [net("10.0.0.0/8")] }, v) == .prefixOutsideIssuer)
    #expect(rejection(signed { $0.groups = ["db"] }, v) == .groupOutsideIssuer)
    #expect(rejection(signed { $0.capabilities = [.rendezvous] }, v) == .capabilityOutsideIssuer)
    #expect(rejection(signed { $0.organization = "evil" }, v) == .organizationMismatch)
    // Structure: a node cannot issue; a root with path length 0 cannot have an organization CA below it; a CA is
    // not a node; at most two certificates.
    let nodeKey = SigningKey(seed: SecretKey(hex: String(repeating: "55", count: 32))!)
    var asIssuer = pki.nodeFields(key: nodeKey.publicKey.key, underOrg: false)
    asIssuer.subjectKey = nodeKey.publicKey.key
    let nodeIssuer = try Certificate(signing: asIssuer, with: pki.rootKey)
    var child = pki.nodeFields(key: key, underOrg: false)
    child.issuer = nodeIssuer.keyID
    #expect(rejection([try Certificate(signing: child, with: nodeKey), nodeIssuer], v) == .issuerNotCA)
    var flatRootFields = pki.root.fields
    flatRootFields.pathLength = 0
    let flatRoot = try Certificate(signing: flatRootFields, with: pki.rootKey)
    let vFlat = CertificateVerifier(anchors: try TrustAnchors([flatRoot]))
    #expect(rejection(good, vFlat) == .pathLengthExceeded)
    #expect(rejection([pki.org], v) == .notANode)
    #expect(rejection(good + [pki.root], v) == .chainTooLong)
    #expect(rejection([], v) == .malformed)
}

@Test func revocationIsCheckedAtEveryLevel() throws {
    let pki = PKI()
    let key = KeyPair(privateKey: SecretKey(hex: String(repeating: "66", count: 32))!).publicKey
    let chain = pki.chain(key: key)
    func verifier(serials: [RevokedSerial] = [], keys: [PublicKey] = []) throws -> CertificateVerifier {
        var set = RevocationSet()
        try set.apply(try RevocationList(signer: pki.rootKey, sequence: 1, issuedAt: fixtureNow, serials: serials, keys: keys),
                      roots: pki.anchors)
        return CertificateVerifier(anchors: pki.anchors, revocations: set)
    }
    #expect(rejection(chain, try verifier(serials: [RevokedSerial(issuer: pki.org.keyID, serial: 100)])) == .revokedSerial)
    #expect(rejection(chain, try verifier(serials: [RevokedSerial(issuer: pki.org.keyID, serial: 101)])) == nil)
    #expect(rejection(chain, try verifier(keys: [key])) == .revokedKey)
    #expect(rejection(chain, try verifier(serials: [RevokedSerial(issuer: pki.root.keyID, serial: 2)])) == .revokedIssuer)
    #expect(rejection(chain, try verifier(keys: [pki.org.fields.subjectKey])) == .revokedIssuer)
    #expect(rejection(chain, try verifier(keys: [pki.root.fields.subjectKey])) == .revokedIssuer)

    // Lists: only a root's verify; a newer sequence replaces; an older one changes nothing; a flipped byte fails.
    var set = RevocationSet()
    let byOrg = try RevocationList(signer: pki.orgKey, sequence: 1, issuedAt: 0, serials: [], keys: [key])
    #expect(throws: CertificateError.unknownIssuer) { try set.apply(byOrg, roots: pki.anchors) }
    let l2 = try RevocationList(signer: pki.rootKey, sequence: 2, issuedAt: 0, serials: [], keys: [key])
    #expect(try set.apply(l2, roots: pki.anchors))
    let l1 = try RevocationList(signer: pki.rootKey, sequence: 1, issuedAt: 0, serials: [], keys: [])
    #expect(try set.apply(l1, roots: pki.anchors) == false)
    #expect(set.keys == [key])
    var tampered = l2.encoded
    tampered[20] ^= 1
    #expect(throws: CertificateError.badSignature) {
        var s = RevocationSet(); try s.apply(try RevocationList(parsing: tampered), roots: pki.anchors)
    }
    #expect(try RevocationList(parsing: l2.encoded) == l2)
    for n in 0..<l2.encoded.count {
        #expect(throws: CertificateError.self) { _ = try RevocationList(parsing: Array(l2.encoded.prefix(n))) }
    }
}

@Test func armourRoundTripsAndLocatesErrors() throws {
    let pki = PKI()
    let text = "# a comment\n" + Armor.encode(.certificate, pki.org.encoded) + Armor.encode(.certificate, pki.root.encoded)
    let blocks = try Armor.decode(text)
    #expect(blocks.map(\.kind) == [.certificate, .certificate])
    #expect(blocks[0].bytes == pki.org.encoded && blocks[1].bytes == pki.root.encoded)
    #expect(blocks[0].line == 2)
    #expect(try Armor.decode(text.replacingOccurrences(of: "\n", with: "\r\n")).count == 2)
    #expect(throws: ArmorError(line: 2, message: "block not closed (no END line)")) {
        _ = try Armor.decode("x\n-----BEGIN SLUICE MESH CERTIFICATE-----\nAAAA\n")
    }
    #expect(throws: ArmorError.self) { _ = try Armor.decode("-----BEGIN SLUICE MESH THING-----\n") }
    #expect(throws: ArmorError.self) {
        _ = try Armor.decode("-----BEGIN SLUICE MESH CERTIFICATE-----\n!!!!\n-----END SLUICE MESH CERTIFICATE-----\n")
    }
}

@Test func expiryIsWarnedWellAhead() throws {
    let pki = PKI()
    let node = pki.chain(key: .zero)[0]  // valid one year from fixtureNow − 1 day
    #expect(node.expiryWarning(now: fixtureNow) == nil)
    #expect(node.expiryWarning(now: node.fields.notAfter - 31 * day) == nil)
    #expect(node.expiryWarning(now: node.fields.notAfter - 29 * day) == 29 * day)
    // A 3-day certificate is warned about in its last day.
    let short = pki.chain(key: .zero) { $0.notAfter = $0.notBefore + 3 * day }[0]
    #expect(short.expiryWarning(now: short.fields.notBefore + day) == nil)
    #expect(short.expiryWarning(now: short.fields.notBefore + 2 * day + 1) != nil)
    #expect(CivilTime.format(951_782_400) == "2000-02-29 00:00:00Z")
    #expect(CivilTime.format(fixtureNow) == "2026-12-07 00:00:00Z")
    #expect(CivilTime.format(.min) == "@\(Int64.min)")
}

@Test func certificateErrorsFitTheirCounters() {
    #expect(ReasonCounts<CertificateError>.fits)
    #expect(ReasonCounts<MeshDropReason>.fits)
}
