// The `sluice` command as a user meets it (the executable `swift build --build-tests` builds beside
// the tests): --version, help text wrapped at word boundaries, `sluice check`'s capture filters and
// warnings, and `sluice lab run`/`lab merge` exit statuses.
import Foundation
import Testing

/// The built sluice, or nil (the test then says why it cannot run).
func builtSluice() -> String? {
    for dir in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug"] {
        let p = "\(repositoryRoot)/\(dir)/sluice"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    print("skipped: no built sluice under \(repositoryRoot)/.build (run swift build --build-tests first)")
    return nil
}

/// Runs sluice with `arguments`; its status, standard output and standard error.
func sluice(_ arguments: [String], columns: Int? = nil, in directory: String? = nil) throws -> (status: Int32, out: String, err: String)? {
    guard let path = builtSluice() else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var env = ProcessInfo.processInfo.environment
    if let columns { env["COLUMNS"] = "\(columns)" }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let errData = err.fileHandleForReading.readDataToEndOfFile()  // small: read after stdout would also do
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

@Test func versionComesFromOneConstant() throws {
    guard let r = try sluice(["--version"]) else { return }
    let source = try String(contentsOfFile: repositoryRoot + "/Sources/sluice/Version.swift", encoding: .utf8)
    let version = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(r.status == 0 && version.split(separator: ".").count == 3 && version.split(separator: ".").allSatisfy { Int($0) != nil }, "\(r)")
    #expect(source.contains("static let current = \"\(version)\""))
}

/// Commands whose help text is ours to wrap (every command with a discussion of its own).
let helpCommands: [[String]] = [[], ["lab"], ["lab", "run"], ["lab", "merge"], ["check"], ["bridge"], ["vm"], ["wg"], ["wg", "up"], ["wg", "interface"],
                                ["bench"], ["bench", "forward"], ["bench", "wireguard"], ["bench", "tunnel"], ["bench", "sim"],
                                ["bench", "load"], ["replay"], ["mesh"], ["mesh", "ca"], ["mesh", "ca", "init"], ["mesh", "ca", "sign"],
                                ["mesh", "ca", "revoke"], ["mesh", "ca", "inspect"], ["mesh", "up"], ["mesh", "status"]]

@Test(arguments: helpCommands)
func helpTextIsWrappedAtWordBoundaries(_ command: [String]) throws {
    guard let r = try sluice(command + ["--help"], columns: 80) else { return }
    #expect(r.status == 0)
    // The prose before USAGE: every line fits 80 columns, and no line ends early, i.e. the next
    // line's first word would have fitted after it (a hard line break inside a paragraph).
    // ArgumentParser fills lines to 79 columns.
    let prose = r.out.components(separatedBy: "\nUSAGE:")[0].components(separatedBy: "\n")
    for (line, next) in zip(prose, prose.dropFirst()) where !line.isEmpty && !next.isEmpty {
        #expect(line.count <= 80, "\(command): '\(line)'")
        let word = next.split(separator: " ").first.map(String.init) ?? ""
        #expect(line.count + 1 + word.count > 79, "\(command): a line breaks early before '\(word)': '\(line)'")
    }
}

/// A bridge.yml under a temporary directory.
func bridgeFile(_ text: String, name: String = #function) throws -> String {
    let path = temporaryDirectory(name) + "/bridge.yml"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

let servedBridge = """
name: br0
router:
  ipv4: 10.0.0.1/24
  dhcp: { start: 10.0.0.100, end: 10.0.0.200 }
  interfaces:
    - { name: dmz, ipv4: 10.1.0.1/24 }
vhost-user:
  - { socket: /tmp/br0.sock }
captures:
  - { file: lan.pcap, filter: "udp port 67" }

"""

@Test func checkCompilesCaptureFiltersAndLocatesTheBadOnes() throws {
    let ok = try bridgeFile(servedBridge.replacingOccurrences(of: "\n    - { name: dmz, ipv4: 10.1.0.1/24 }", with: "").replacingOccurrences(of: "  interfaces:\n", with: ""))
    guard let good = try sluice(["check", ok]) else { return }
    #expect(good.status == 0 && good.out.contains("ok — bridge 'br0'") && !good.out.contains("warning"), "\(good)")
    let bad = try bridgeFile(servedBridge + "  - { file: x.pcap, filter: \"tcp port http-ish\" }\n  - { file: y.pcap, filter: \"udp and\" }\n",
                             name: "badFilters")
    guard let r = try sluice(["check", bad]) else { return }
    #expect(r.status == 2, "\(r)")
    let lines = r.err.components(separatedBy: "\n").filter { $0.contains(": error: ") }
    #expect(lines.count == 2, "\(r.err)")
    #expect(lines.first?.hasPrefix("\(bad):11:29: error: captures[1].filter: filter \"tcp port http-ish\" does not compile") == true, "\(r.err)")
    #expect(lines.last?.hasPrefix("\(bad):12:29: error: captures[2].filter: filter \"udp and\" does not compile") == true, "\(r.err)")
    // A filter error and an error the Engine finds are reported together, in file order.
    let both = try bridgeFile(servedBridge.replacingOccurrences(of: "10.0.0.200", with: "10.0.0.300")
                              + "  - { file: y.pcap, filter: \"udp and\" }\n", name: "filterAndEngine")
    guard let b = try sluice(["check", both]) else { return }
    let bothLines = b.err.components(separatedBy: "\n").filter { $0.contains(": error: ") }
    #expect(b.status == 2 && bothLines.count == 2 && bothLines[0].hasPrefix("\(both):4:") && bothLines[1].hasPrefix("\(both):11:29:"), "\(b.err)")
}

@Test func checkWarnsAboutABridgeThatServesNoOne() throws {
    // No port at all: one warning, exit 0.
    let portless = try bridgeFile(servedBridge.replacingOccurrences(of: "vhost-user:\n  - { socket: /tmp/br0.sock }\n", with: ""), name: "portless")
    guard let r = try sluice(["check", portless]) else { return }
    #expect(r.status == 0 && r.out.contains("\(portless):1:1: warning: the bridge has no port"), "\(r)")
    #expect(r.out.components(separatedBy: "warning:").count == 2)
    // A port on lan only: the dmz segment serves no one (located at its interfaces item).
    let dmz = try bridgeFile(servedBridge, name: "dmz")
    guard let d = try sluice(["check", dmz]) else { return }
    #expect(d.status == 0 && d.out.contains("\(dmz):6:7: warning: segment 'dmz' has no port"), "\(d)")
    #expect(!d.out.contains("segment 'lan' has no port"))
    // A tap on dmz as well: no warning.
    let both = try bridgeFile(servedBridge + "taps:\n  - { name: sl-tap0, segment: dmz }\n", name: "both")
    guard let b = try sluice(["check", both]) else { return }
    #expect(b.status == 0 && !b.out.contains("warning"), "\(b)")
}

@Test func labRunAndMergeExitStatuses() throws {
    let dir = temporaryDirectory()
    try writeSuite(dir + "/s", count: 2)
    guard let none = try sluice(["lab", "run", "s", "--filter", "zzz", "--report", "r0"], in: dir) else { return }
    #expect(none.status == 2 && none.out.contains("error: no scenario matches --filter 'zzz'"), "\(none)")
    guard let badShard = try sluice(["lab", "run", "s", "--shard", "3/2"], in: dir) else { return }
    #expect(badShard.status != 0 && badShard.err.contains("--shard '3/2' is not I/N"), "\(badShard)")
    for i in 1...2 {
        guard let part = try sluice(["lab", "run", "s", "--shard", "\(i)/2", "--report", "p\(i)"], in: dir) else { return }
        #expect(part.status == 0 && part.out.contains("1 of 2 scenario files selected (1 in shard \(i)/2)"), "\(part)")
    }
    guard let merged = try sluice(["lab", "merge", "m", "p1", "p2"], in: dir) else { return }
    #expect(merged.status == 0 && merged.out.contains("merged 2 scenario(s) from 2 report(s): 2 passed"), "\(merged)")
    for f in ["junit.xml", "summary.md", "index.html", "run.json"] { #expect(FileManager.default.fileExists(atPath: "\(dir)/m/\(f)")) }
    guard let missing = try sluice(["lab", "merge", "m2", "p1"], in: dir) else { return }
    #expect(missing.status == 2 && missing.err.contains("shard 2/2 missing"), "\(missing)")
    guard let into = try sluice(["lab", "merge", "p1", "p1", "p2"], in: dir) else { return }
    #expect(into.status == 2, "\(into)")
}

@Test func checkReportsEveryErrorOfAScenarioFile() throws {
    let dir = temporaryDirectory()
    try (base + "links:\n  - { between: [vm1, br9] }\ntimline: []\n").write(toFile: dir + "/bad.yml", atomically: true, encoding: .utf8)
    guard let r = try sluice(["check", dir + "/bad.yml"]) else { return }
    let lines = r.err.components(separatedBy: "\n").filter { $0.contains(": error: ") }
    #expect(r.status == 2 && lines.count == 2 && lines[0].hasPrefix("\(dir)/bad.yml:6:") && lines[1].hasPrefix("\(dir)/bad.yml:7:1:"), "\(r)")
    try pingScenario.write(toFile: dir + "/good.yml", atomically: true, encoding: .utf8)
    guard let g = try sluice(["check", dir + "/good.yml"]) else { return }
    #expect(g.status == 0 && g.out.contains("ok — scenario 'dhcp-and-ping': 3 nodes, 1 links, 4 timeline entries, 7 expectations"), "\(g)")
}
