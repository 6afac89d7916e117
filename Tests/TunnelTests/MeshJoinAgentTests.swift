// Joining with an invite through real agents (ci/interop/mesh-join.sh, as root): an admission agent, a member and a
// new node in network namespaces — a wrong secret refused and counted, the join waiting until `sluice mesh approve`,
// the certificate stored, the used token refused, and the new node pinging a member. Plus mesh.yml's admission keys.

import Crypto
import Foundation
import Mesh
import Testing
@testable import Tunnel

@Suite struct MeshAdmissionConfigurationTests {
    @Test func admissionKeysGoTogetherAndNameTheirLine() throws {
        let (dir, base) = try MeshAgentConfigurationTests().makeNode()
        func parse(_ text: String) throws -> MeshAgentConfiguration {
            try MeshAgentConfiguration.parse(text, path: dir.path + "/mesh.yml", now: Int64(Date().timeIntervalSince1970))
        }
        // Without the keys: no admission.
        #expect(try parse(base).admissionSettings() == nil)
        // One key alone.
        do { _ = try parse(base + "invites: inv\n"); Issue.record("accepted invites alone") } catch {
            #expect("\(error)".contains("mesh.yml:5: admission needs admission-ca-key, admission-ca-cert and invites together"), "\(error)")
            #expect("\(error)".contains("fix:"), "\(error)")
        }
        // A key that is not a CA key.
        do {
            _ = try parse(base + "admission-ca-key: a.key\nadmission-ca-cert: ca.crt\ninvites: .\n")
            Issue.record("accepted a node key as the CA key")
        } catch {
            #expect("\(error)".contains("mesh.yml:5: admission:") && "\(error)".contains("fix:"), "\(error)")
        }
    }
}

@Suite(.serialized, .enabled(if: getuid() == 0, "mesh join tests need root: network namespaces, TUN devices"))
struct MeshJoinNamespaceTests {
    /// ci/interop/mesh-join.sh does the work; every check it makes is a line, and a failed one fails this test.
    @Test(.timeLimit(.minutes(3)))
    func aNewNodeJoinsWithATokenIsApprovedAndPings() throws {
        for tool in ["ip", "ping", "python3"] where try run(["sh", "-c", "command -v \(tool)"], timeout: 10).status != 0 {
            let r = try run(["apt-get", "install", "-y", "-qq", tool == "ping" ? "iputils-ping" : tool],
                            timeout: 600, environment: ["DEBIAN_FRONTEND": "noninteractive"])
            #expect(r.succeeded, "installing \(tool): \(r)")
        }
        let sluice = try sluiceBinary()
        let r = try run(["bash", repositoryRoot + "/ci/interop/mesh-join.sh", sluice], timeout: 150)
        print(r.output.split(separator: "\n").filter { $0.contains("RESULT") || $0.contains("FAILED") }.joined(separator: "\n"))
        #expect(r.succeeded, "\(r)")
        #expect(r.output.contains("mesh-join: 0 failed checks"), "\(r)")
    }
}
