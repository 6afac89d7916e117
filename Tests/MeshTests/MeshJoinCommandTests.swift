// `sluice mesh invite`, `join` and `approve` as a person runs them (the built binary, real files): the invite file's
// mode and contents, the token, and the refusals with their fixes. The whole flow with agents is
// ci/interop/mesh-join.sh (MeshJoinNamespaceTests). Skipped (saying why) only when the binary was not built.
import Foundation
import Testing
@testable import Mesh

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

private func sluiceBinary() -> String? {
    for dir in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug"] {
        let p = "\(repositoryRoot)/\(dir)/sluice"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

private func sluice(_ args: [String], in directory: String) throws -> (status: Int32, output: String, stdout: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: sluiceBinary()!)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: directory)
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let stdout = String(decoding: o, as: UTF8.self)
    return (p.terminationStatus, stdout + String(decoding: e, as: UTF8.self), stdout)
}

@Test(.enabled(if: sluiceBinary() != nil, "the sluice binary is not built (swift build --build-tests builds it)"))
func theInviteJoinAndApproveCommandsWriteCheckAndRefuse() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-join-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir + "/invites", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func run(_ args: String) throws -> (status: Int32, output: String, stdout: String) {
        try sluice(args.split(separator: " ").map(String.init), in: dir)
    }
    #expect(try run("mesh ca init --name root --addresses 10.99.0.0/16 --groups * --capabilities relay --path-length 1 --days 3650 --out root").status == 0)
    #expect(try run("mesh ca init --name acme-ca --organization acme --addresses 10.99.1.0/24 --groups web --days 1000 --issuer-key root/ca.key --issuer-cert root/ca.crt --out acme").status == 0)
    let admissionPub = "7Oa/taetg3V8umy1OOshuNOiD9SNmEr7AEIj3vVEBwQ="
    let made = try run("mesh invite --ca-key acme/ca.key --ca-cert acme/ca.crt --invites invites --admission-key \(admissionPub) --endpoint 192.0.2.1:51820 --name web9 --organization acme --addresses 10.99.1.9/24 --groups web --days 30 --expires-hours 2")
    #expect(made.status == 0, "\(made.output)")
    let token = try #require(JoinToken(text: made.stdout), "stdout is the token: \(made.stdout)")
    #expect(token.admissionKey.base64 == admissionPub && token.endpoint.description == "192.0.2.1:51820")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/invites")
    #expect(files == [token.inviteID.hex + ".invite"])
    let path = dir + "/invites/" + files[0]
    #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
    let invite = try MeshInvite.load(try String(contentsOfFile: path, encoding: .utf8), what: path)
    #expect(invite.secret == token.secret && invite.template.name == "web9" && invite.days == 30 && !invite.autoApprove)
    // The token's root is the root above the organization CA.
    let root = try CertificateAuthority.loadCertificates(try String(contentsOfFile: dir + "/root/ca.crt", encoding: .utf8), what: "root")[0]
    #expect(token.rootKeyID == root.keyID)
    let shown = try run("mesh ca inspect \(path)")
    #expect(shown.status == 0 && shown.output.contains("invite (secret) \(token.inviteID.hex) for web9"), "\(shown.output)")

    // Refusals: exit 2 with a fix, nothing written.
    let outside = try run("mesh invite --ca-key acme/ca.key --ca-cert acme/ca.crt --invites invites --admission-key \(admissionPub) --endpoint 192.0.2.1:51820 --name web8 --organization acme --addresses 10.99.2.9/24")
    #expect(outside.status == 2 && outside.output.contains("fix: choose --addresses inside the issuer's networks: 10.99.1.0/24"), "\(outside.output)")
    let endpoint = try run("mesh invite --ca-key acme/ca.key --ca-cert acme/ca.crt --invites invites --admission-key \(admissionPub) --endpoint nowhere --name web8 --organization acme --addresses 10.99.1.8/24")
    #expect(endpoint.status == 2 && endpoint.output.contains("fix: e.g. --endpoint"), "\(endpoint.output)")
    let key = try run("mesh invite --ca-key acme/ca.key --ca-cert acme/ca.crt --invites invites --admission-key nokey --endpoint 192.0.2.1:1 --name web8 --organization acme --addresses 10.99.1.8/24")
    #expect(key.status == 2 && key.output.contains("--admission-key") && key.output.contains("fix:"), "\(key.output)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/invites").count == 1)

    let garbage = try run("mesh join sluicejoin1:AAAA --out joined")
    #expect(garbage.status == 2 && garbage.output.contains("fix: pass the whole `sluicejoin1:"), "\(garbage.output)")
    // Nobody answers at 127.0.0.1:9 (discard): the join gives up after its timeout and says what to check.
    var local = token
    local.endpoint = .init(address: .init(127, 0, 0, 1), port: 9)
    let silent = try run("mesh join \(local.text) --out joined --timeout 1")
    #expect(silent.status == 1 && silent.output.contains("no answer from 127.0.0.1:9") && silent.output.contains("fix:"), "\(silent.output)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/joined/node.crt"))
    let approve = try run("mesh approve web9 --control \(dir)/no.sock")
    #expect(approve.status == 1 && approve.output.contains("cannot connect"), "\(approve.output)")
}
