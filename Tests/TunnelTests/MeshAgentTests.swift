// `sluice mesh up`: mesh.yml's located errors (unit), and four agents in network namespaces (root), with Babel and
// with static routing: direct, a SIGHUP reload that keeps sessions, through a relay with the direct path blocked by
// nftables, the relay killed, clean shutdown (ci/interop/mesh-agents.sh).

import Crypto
import Foundation
import Mesh
import Testing
@testable import Tunnel

@Suite struct MeshAgentConfigurationTests {
    /// A node's files in a temporary directory: key, certificate, root, registry.
    func makeNode() throws -> (TemporaryDirectory, String) {
        let dir = try TemporaryDirectory()
        let now = Int64(Date().timeIntervalSince1970)
        var rootRequest = CertificateRequest(name: "root", days: 30, serial: 1, now: now)
        rootRequest.addresses = ["10.99.0.0/16"]
        let root = try CertificateAuthority.makeRoot(rootRequest)
        let keyText = KeyText.generatePrivateKey()
        let pub = try KeyText.publicKey(fromPrivateKeyInput: Array(keyText.utf8))
        var nodeRequest = CertificateRequest(name: "a", days: 30, serial: 2, now: now)
        nodeRequest.addresses = ["10.99.0.1/24"]
        let cert = try CertificateAuthority.signNode(nodeRequest, publicKey: pub, issuerKey: root.key, issuerCertificate: root.certificate)
        try dir.write("a.key", keyText + "\n")
        try dir.write("a.crt", cert)
        try dir.write("ca.crt", root.certificate)
        try dir.write("registry.json", """
        [{ "organization": "lab", "public_key": "DqdiztjubP4jLkaFVDKw6dtna5QUvcBHuejj1CKUH40=",
           "nodes": [{ "common_name": "a", "endpoints": [{ "address": "192.0.2.1", "port": 51820 }],
                       "remarks": { "network": "10.98.1.0/24" },
                       "sluice": { "public_key": "\(pub)", "addresses": ["10.99.0.1/24"] } }] }]
        """)
        return (dir, "private-key: a.key\ncertificate: a.crt\nroots: ca.crt\nregistry: registry.json\n")
    }

    func parse(_ dir: TemporaryDirectory, _ text: String) throws -> MeshAgentConfiguration {
        try MeshAgentConfiguration.parse(text, path: dir.path + "/mesh.yml", now: Int64(Date().timeIntervalSince1970))
    }

    @Test func aGoodFileGivesTheCertificatesAddressAndDefaults() throws {
        let (dir, base) = try makeNode()
        let c = try parse(dir, base + "# a comment\ntun: mesh7\n")
        #expect(c.address.description == "10.99.0.1/24")
        #expect(c.tunName == "mesh7" && c.listenPort == 51820 && c.mtu == MeshAgentConfiguration.defaultMTU)
        #expect(c.peers.isEmpty && c.relay)
        #expect(c.controlPath == "/run/sluice-mesh-mesh7.sock")
    }

    @Test func errorsNameTheLineAndAFix() throws {
        let (dir, base) = try makeNode()
        let cases: [(String, String, String)] = [
            (base + "listen-port: 70000\n", "mesh.yml:5: listen-port: \"70000\" is out of range", "fix: a whole number from 1 to 65535"),
            (base + "mtu: 100\n", "mesh.yml:5: mtu", "fix: a whole number from 576 to 9000"),
            (base + "colour: blue\n", "mesh.yml:5: unknown setting `colour`", "fix: one of:"),
            (base + "tun: mesh0\ntun: mesh1\n", "mesh.yml:6: `tun` given twice (first on line 5)", "fix: keep one"),
            (base + "relay: maybe\n", "mesh.yml:5: relay: \"maybe\"", "fix: `relay: true`"),
            (base + "tun: a-very-long-interface-name\n", "mesh.yml:5: tun:", "fix: 1 to 15 characters"),
            (base + "address: 10.99.0.1\n", "mesh.yml:5: address:", "fix: e.g. `address: 10.99.0.5/16`"),
            (base + "just words\n", "mesh.yml:5: expected `key: value`", "fix:"),
            ("certificate: a.crt\nroots: ca.crt\nregistry: registry.json\n", "`private-key` is missing", "fix: add `private-key:"),
            (base.replacingOccurrences(of: "a.key", with: "missing.key"), "mesh.yml:1: private-key: cannot read", "fix: check the path"),
            (base.replacingOccurrences(of: "roots: ca.crt", with: "roots: a.key"), "mesh.yml:3: roots:", "fix:"),
        ]
        for (text, message, fix) in cases {
            do {
                _ = try parse(dir, text)
                Issue.record("accepted: \(text)")
            } catch {
                let d = "\(error)"
                #expect(d.contains(message) && d.contains(fix), "\(d)")
            }
        }
    }

    @Test func aKeyTheCertificateWasNotIssuedForIsRefused() throws {
        let (dir, base) = try makeNode()
        try dir.write("other.key", KeyText.generatePrivateKey() + "\n")
        do {
            _ = try parse(dir, base.replacingOccurrences(of: "a.key", with: "other.key"))
            Issue.record("accepted a certificate for another key")
        } catch {
            #expect("\(error)".contains("mesh.yml:2: certificate: the first certificate is not a node certificate"), "\(error)")
            #expect("\(error)".contains("fix: sign this key"), "\(error)")
        }
    }

    @Test func aRegistryErrorNamesTheRegistrysLine() throws {
        let (dir, base) = try makeNode()
        try dir.write("registry.json", "[{ \"organization\": \"lab\",\n  \"public_key\": 7 }]")
        do {
            _ = try parse(dir, base)
            Issue.record("accepted a bad registry")
        } catch {
            #expect("\(error)".contains("registry.json:2:") && "\(error)".contains("fix:"), "\(error)")
        }
    }
}

@Suite(.serialized, .enabled(if: getuid() == 0, "mesh agent tests need root: network namespaces, TUN devices, nftables"))
struct MeshAgentNamespaceTests {
    /// ci/interop/mesh-agents.sh does the work; every check it makes is a line, and a failed one fails this test.
    /// With Babel (the default routing): routes and costs in the status, a SIGHUP reload that keeps the session,
    /// the blocked direct path moved to whichever relay Babel's route takes, that relay killed.
    @Test(.timeLimit(.minutes(5)))
    func fourAgentsDirectRelayedAndRelayKilled() throws { try agents(routing: "babel") }

    /// The same with `routing: static`: the registry's first relay (r1) takes the traffic, then r2.
    @Test(.timeLimit(.minutes(5)))
    func fourAgentsWithStaticRouting() throws { try agents(routing: "static") }

    func agents(routing: String) throws {
        for tool in ["nft", "iperf3", "ip", "ping", "python3"] where try run(["sh", "-c", "command -v \(tool)"], timeout: 10).status != 0 {
            let r = try run(["apt-get", "install", "-y", "-qq", tool == "nft" ? "nftables" : tool == "ping" ? "iputils-ping" : tool],
                            timeout: 600, environment: ["DEBIAN_FRONTEND": "noninteractive"])
            #expect(r.succeeded, "installing \(tool): \(r)")
        }
        let sluice = try sluiceBinary()
        let r = try run(["bash", repositoryRoot + "/ci/interop/mesh-agents.sh", sluice], timeout: 280,
                        environment: ["MESH_ROUTING": routing])
        print(r.output.split(separator: "\n").filter { $0.contains("RESULT") || $0.contains("FAILED") }.joined(separator: "\n"))
        #expect(r.succeeded, "\(r)")
        #expect(r.output.contains("mesh-agents: 0 failed checks"), "\(r)")
    }
}
