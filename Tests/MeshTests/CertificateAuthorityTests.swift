// What `sluice mesh ca` does, on text: a root, an organization CA, a node chain that validates, refusals that name
// the option and the fix, revocation, inspection.
import Crypto
import Testing
@testable import Mesh

private func request(_ name: String, days: Int = 365, serial: UInt64 = 1) -> CertificateRequest {
    CertificateRequest(name: name, days: days, serial: serial, now: fixtureNow)
}

@Test func aRootAnOrganizationCAAndANodeChainThatValidates() throws {
    var r = request("root", days: 3650)
    r.addresses = ["10.99.0.0/16"]; r.prefixes = ["0.0.0.0/0"]; r.groups = ["*"]; r.capabilities = "relay,rendezvous"
    r.pathLength = 1
    let root = try CertificateAuthority.makeRoot(r)
    #expect(root.key.contains("BEGIN SLUICE MESH SIGNING KEY") && root.certificate.contains("BEGIN SLUICE MESH CERTIFICATE"))
    var o = request("acme-ca", days: 1000, serial: 2)
    o.organization = "acme"; o.addresses = ["10.99.1.0/24"]; o.groups = ["web", "ops"]
    let org = try CertificateAuthority.makeIntermediate(o, issuerKey: root.key, issuerCertificate: root.certificate)
    let nodeKey = KeyPair.random().publicKey.base64
    var n = request("web1", serial: 3)
    n.organization = "acme"; n.addresses = ["10.99.1.5/24"]; n.groups = ["web"]
    let chain = try CertificateAuthority.signNode(n, publicKey: nodeKey + "\n", issuerKey: org.key,
                                                  issuerCertificate: org.certificate)
    let inspected = try CertificateAuthority.inspect(chain, roots: root.certificate, revocations: nil, now: fixtureNow)
    #expect(inspected.valid == true)
    #expect(inspected.report.contains("chain valid: web1 ← acme-ca ← root"))

    // Refusals: each names the option and gives a fix.
    func refusal(_ body: () throws -> Void) -> MeshCAError? {
        do { try body(); return nil } catch let e as MeshCAError { return e } catch { return nil }
    }
    var outside = n; outside.addresses = ["10.99.2.5/24"]
    let e1 = refusal { _ = try CertificateAuthority.signNode(outside, publicKey: nodeKey, issuerKey: org.key, issuerCertificate: org.certificate) }
    #expect(e1?.message.contains("address outside") == true && e1?.fix.contains("10.99.1.0/24") == true)
    var long = n; long.days = 5000
    #expect(refusal { _ = try CertificateAuthority.signNode(long, publicKey: nodeKey, issuerKey: org.key, issuerCertificate: org.certificate) }?
        .fix.contains("smaller --days") == true)
    var badNet = n; badNet.addresses = ["10.99.1.5/40"]
    #expect(refusal { _ = try CertificateAuthority.signNode(badNet, publicKey: nodeKey, issuerKey: org.key, issuerCertificate: org.certificate) }?
        .message.hasPrefix("--addresses") == true)
    #expect(refusal { _ = try CertificateAuthority.signNode(n, publicKey: "not a key", issuerKey: org.key, issuerCertificate: org.certificate) }?
        .message.hasPrefix("--public-key") == true)
    #expect(refusal { _ = try CertificateAuthority.signNode(n, publicKey: nodeKey, issuerKey: root.key, issuerCertificate: org.certificate) }?
        .message.contains("does not belong") == true)
    var wrongOrg = n; wrongOrg.organization = "other"
    #expect(refusal { _ = try CertificateAuthority.signNode(wrongOrg, publicKey: nodeKey, issuerKey: org.key, issuerCertificate: org.certificate) }?
        .fix.contains("--organization acme") == true)
    var zero = n; zero.days = 0
    #expect(refusal { _ = try CertificateAuthority.signNode(zero, publicKey: nodeKey, issuerKey: org.key, issuerCertificate: org.certificate) }?
        .message.hasPrefix("--days") == true)
    #expect(refusal { _ = try CertificateAuthority.makeIntermediate(o, issuerKey: org.key, issuerCertificate: org.certificate) } != nil)

    // Revocation by certificate, then by key into the same list: the sequence grows and the chain fails.
    let list1 = try CertificateAuthority.revoke(existing: nil, issuerKey: root.key, issuerCertificate: root.certificate,
                                                serials: [], certificates: [chain], keys: [], now: fixtureNow)
    let revoked = try CertificateAuthority.inspect(chain, roots: root.certificate, revocations: list1, now: fixtureNow)
    #expect(revoked.valid == false && revoked.report.contains("revoked (serial)"))
    let list2 = try CertificateAuthority.revoke(existing: list1, issuerKey: root.key, issuerCertificate: root.certificate,
                                                serials: [], certificates: [], keys: [nodeKey], now: fixtureNow)
    let listReport = try CertificateAuthority.inspect(list2, roots: nil, revocations: nil, now: fixtureNow).report
    #expect(listReport.contains("sequence 2") && listReport.contains("revoked key \(nodeKey)"))
    #expect(refusal { _ = try CertificateAuthority.revoke(existing: nil, issuerKey: org.key, issuerCertificate: org.certificate,
                                                          serials: [], certificates: [], keys: [nodeKey], now: 0) } != nil)
    #expect(refusal { _ = try CertificateAuthority.revoke(existing: nil, issuerKey: root.key, issuerCertificate: root.certificate,
                                                          serials: ["zz:1"], certificates: [], keys: [], now: 0) }?
        .message.hasPrefix("--serial") == true)
    // Inspecting garbage is a located refusal, not a crash.
    #expect(refusal { _ = try CertificateAuthority.inspect("-----BEGIN SLUICE MESH CERTIFICATE-----\nAAAA\n-----END SLUICE MESH CERTIFICATE-----\n",
                                                           roots: nil, revocations: nil, now: 0) }?.message.contains("line 1") == true)
    #expect(refusal { _ = try CertificateAuthority.inspect("hello", roots: nil, revocations: nil, now: 0) } != nil)
}
