// `sluice mesh ca` as a person runs it: the built binary in a temporary directory, real files, exit codes, the
// key file's mode. Skipped (saying why) only when the binary was not built.
import Foundation
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

private func sluiceBinary() -> String? {
    for dir in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug"] {
        let p = "\(repositoryRoot)/\(dir)/sluice"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// Runs `sluice args…` in `directory` (with `stdin` as standard input); returns exit status and all output.
private func sluice(_ args: [String], in directory: String, stdin: String? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: sluiceBinary()!)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: directory)
    let out = Pipe(); p.standardOutput = out; p.standardError = out
    let input = Pipe(); p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Test(.enabled(if: sluiceBinary() != nil, "the sluice binary is not built (swift build --build-tests builds it)"))
func theCACommandIssuesValidatesAndRevokes() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-mesh-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func run(_ args: String, stdin: String? = nil) throws -> (status: Int32, output: String) {
        try sluice(args.split(separator: " ").map(String.init), in: dir, stdin: stdin)
    }
    #expect(try run("mesh ca init --name root --addresses 10.99.0.0/16 --groups * --capabilities relay --path-length 1 --days 3650 --out root").status == 0)
    #expect(try run("mesh ca init --name acme-ca --organization acme --addresses 10.99.1.0/24 --groups web --days 1000 --issuer-key root/ca.key --issuer-cert root/ca.crt --out acme").status == 0)
    let mode = try FileManager.default.attributesOfItem(atPath: dir + "/root/ca.key")[.posixPermissions] as? Int
    #expect(mode == 0o600)
    let secret = try run("wg genkey").output.trimmingCharacters(in: .whitespacesAndNewlines)
    let pub = try run("wg pubkey", stdin: secret + "\n").output.trimmingCharacters(in: .whitespacesAndNewlines)
    try pub.write(toFile: dir + "/node.pub", atomically: true, encoding: .utf8)
    #expect(try run("mesh ca sign --ca-key acme/ca.key --ca-cert acme/ca.crt --public-key node.pub --name web1 --organization acme --addresses 10.99.1.5/24 --groups web --out web1.crt").status == 0)
    let valid = try run("mesh ca inspect web1.crt --roots root/ca.crt")
    #expect(valid.status == 0 && valid.output.contains("chain valid: web1 ← acme-ca ← root") && valid.output.contains(pub))
    // Refusals: exit 2 with the option and a fix; an existing key is never overwritten.
    let outside = try run("mesh ca sign --ca-key acme/ca.key --ca-cert acme/ca.crt --public-key node.pub --name web2 --organization acme --addresses 10.99.2.5/24 --out web2.crt")
    #expect(outside.status == 2 && outside.output.contains("fix: choose --addresses inside the issuer's networks: 10.99.1.0/24"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/web2.crt"))
    let again = try run("mesh ca init --name root --out root")
    #expect(again.status == 2 && again.output.contains("refusing to overwrite"))
    // Revoked: inspect exits 1 and says why.
    #expect(try run("mesh ca revoke --ca-key root/ca.key --ca-cert root/ca.crt --list revoked.list --certificate web1.crt").status == 0)
    let revoked = try run("mesh ca inspect web1.crt --roots root/ca.crt --revocations revoked.list")
    #expect(revoked.status == 1 && revoked.output.contains("chain INVALID: revoked (serial)"))
    print("sluice mesh ca: init, org CA, sign, inspect, refusals and revoke checked in \(dir)")
}
