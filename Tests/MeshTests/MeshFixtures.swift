// A small PKI for the mesh tests: a root, an organization CA, nodes — all from fixed seeds, so every byte is
// reproducible (Ed25519 signatures are deterministic).
import Basics
import Crypto
import Wire
@testable import Mesh

/// Fixed time the fixtures are valid around: 2026-12-07 00:00:00Z.
let fixtureNow: Int64 = 1_796_601_600
let day: Int64 = 86_400

func net(_ s: String) -> OverlayNetwork { OverlayNetwork(s)! }

struct PKI {
    let rootKey: SigningKey
    let root: Certificate
    let orgKey: SigningKey
    let org: Certificate
    var anchors: TrustAnchors { try! TrustAnchors([root]) }

    init(seed: UInt64 = 7) {
        var g = SeededRandom(seed: seed, component: "pki")
        rootKey = .deterministic(using: &g)
        orgKey = .deterministic(using: &g)
        root = try! Certificate(signing: CertificateFields(
            isCA: true, pathLength: 1, capabilities: [.relay, .rendezvous], issuer: KeyID(of: rootKey.publicKey),
            subjectKey: rootKey.publicKey.key, serial: 1, notBefore: fixtureNow - 10 * day, notAfter: fixtureNow + 3650 * day,
            name: "root", addresses: [net("10.99.0.0/16")], prefixes: [net("0.0.0.0/0")], groups: ["*"]), with: rootKey)
        org = try! Certificate(signing: CertificateFields(
            isCA: true, pathLength: 0, capabilities: [.relay], issuer: KeyID(of: rootKey.publicKey),
            subjectKey: orgKey.publicKey.key, serial: 2, notBefore: fixtureNow - 5 * day, notAfter: fixtureNow + 1000 * day,
            name: "acme-ca", organization: "acme", addresses: [net("10.99.1.0/24")], prefixes: [net("192.168.0.0/16")],
            groups: ["ops", "web"]), with: rootKey)
    }

    /// Node fields under the organization CA (or the root), valid around fixtureNow.
    func nodeFields(key: PublicKey, name: String = "node", serial: UInt64 = 100, underOrg: Bool = true,
                    address: String = "10.99.1.5/16", notBefore: Int64 = fixtureNow - day,
                    notAfter: Int64 = fixtureNow + 365 * day) -> CertificateFields {
        CertificateFields(isCA: false, capabilities: underOrg ? [.relay] : [], issuer: underOrg ? org.keyID : root.keyID,
                          subjectKey: key, serial: serial, notBefore: notBefore, notAfter: notAfter, name: name,
                          organization: underOrg ? "acme" : "", addresses: [net(underOrg ? "10.99.1.5/24" : address)],
                          prefixes: underOrg ? [net("192.168.7.0/24")] : [], groups: underOrg ? ["web"] : [])
    }

    /// A node chain: [node, org] or [node].
    func chain(key: PublicKey, underOrg: Bool = true, _ change: (inout CertificateFields) -> Void = { _ in }) -> [Certificate] {
        var f = nodeFields(key: key, underOrg: underOrg)
        change(&f)
        let node = try! Certificate(signing: f, with: underOrg ? orgKey : rootKey)
        return underOrg ? [node, org] : [node]
    }
}
