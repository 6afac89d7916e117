// Running the interop tools from tests: processes with a time limit, and a WireGuard pair in two network
// namespaces built by ci/interop/wg-pair.sh (sluice on side a, wireguard-go or sluice on side b).

import Foundation
import Glibc
import Testing

/// What a finished process left.
struct ProcessResult: CustomStringConvertible {
    var status: Int32
    var output: String
    var timedOut: Bool
    var succeeded: Bool { status == 0 && !timedOut }
    var description: String { "exit \(status)\(timedOut ? " (timed out)" : ""): \(output)" }
}

/// Runs `argv` (found on PATH) with stdout and stderr captured together; SIGTERM after `timeout` seconds.
///
/// posix_spawn and waitpid rather than Foundation's Process: Process learns of the child's exit through a
/// descriptor the child inherits, which background daemons started by a script (wireguard-go, sluice) keep open,
/// so a script that leaves daemons behind would look as if it never ended.
func run(_ argv: [String], timeout: Double, environment: [String: String] = [:]) throws -> ProcessResult {
    let output = "/tmp/sluice-test-\(UUID().uuidString).out"
    defer { unlink(output) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
    defer { for p in cArgs + cEnv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, &cArgs, &cEnv)
    guard rc == 0 else { throw InteropFailure("cannot start \(argv[0]): errno \(rc)") }
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    var timedOut = false
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { throw InteropFailure("waitpid: errno \(errno)") }
        if !timedOut, Date() > deadline { timedOut = true; kill(pid, SIGTERM) }
        usleep(20_000)
    }
    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    // WIFEXITED / WEXITSTATUS by hand (macros Swift does not import); a signal death reads as 128 + signal.
    let exit = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return ProcessResult(status: exit, output: text, timedOut: timedOut)
}

/// The repository root (this file is Tests/TunnelTests/InteropHarness.swift).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Installs wireguard-go, wg, iperf3, ip and ping when missing (ci/interop/ensure-tools.sh).
func ensureInteropTools() throws {
    let r = try run(["bash", repositoryRoot + "/ci/interop/ensure-tools.sh"], timeout: 600)
    guard r.succeeded else { throw InteropFailure("installing the interop tools failed: \(r)") }
}

/// The debug sluice binary; built (in its own scratch directory, as `swift test` holds .build's lock) if missing.
func sluiceBinary() throws -> String {
    let main = repositoryRoot + "/.build/debug/sluice"
    if FileManager.default.isExecutableFile(atPath: main) { return main }
    let scratch = repositoryRoot + "/.build/interop"
    let built = scratch + "/debug/sluice"
    if !FileManager.default.isExecutableFile(atPath: built) {
        print("interop: \(main) is missing; building it into \(scratch) (swift build --product sluice)")
        let r = try run(["swift", "build", "--package-path", repositoryRoot, "--scratch-path", scratch, "--product", "sluice"],
                        timeout: 1800)
        guard r.succeeded else { throw InteropFailure("building sluice failed: \(r)") }
    }
    return built
}

struct InteropFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A tunnel between namespaces swg-NAME-a (203.0.113.1, always sluice) and swg-NAME-b (203.0.113.2).
final class WireGuardPair {
    let name: String
    let directory: String
    let sideB: String
    static let addressA = "203.0.113.1"
    static let addressB = "203.0.113.2"

    /// `b` is "wggo" or "sluice"; `sluice` lines go into the [Sluice] section of sluice ends.
    /// `a` is "sluice" (`sluice wg up`) or "wgquick" (wg-quick up with sluice as its userspace implementation).
    init(_ name: String, a: String = "sluice", b: String = "wggo", mtu: Int = 1420, psk: Bool = false, sluice: [String] = []) throws {
        self.name = name
        self.sideB = b
        directory = "/tmp/sluice-wg/\(name)"
        var environment = ["MTU": "\(mtu)", "SLUICE_BIN": try sluiceBinary()]
        if psk { environment["PSK"] = "1" }
        if !sluice.isEmpty { environment["SLUICE_EXTRA"] = sluice.joined(separator: "\n") }
        let r = try run(["bash", repositoryRoot + "/ci/interop/wg-pair.sh", "up", name, a, b], timeout: 120,
                        environment: environment)
        guard r.succeeded else {
            _ = try? run(["bash", repositoryRoot + "/ci/interop/wg-pair.sh", "down", name], timeout: 30)
            throw InteropFailure("wg-pair.sh up \(name) \(a) \(b) failed: \(r)")
        }
    }

    deinit { _ = try? run(["bash", repositoryRoot + "/ci/interop/wg-pair.sh", "down", name], timeout: 30) }

    var namespaceA: String { "swg-\(name)-a" }
    var namespaceB: String { "swg-\(name)-b" }
    var interfaceA: String { "wg-\(name)-a" }
    var interfaceB: String { "wg-\(name)-b" }
    var vethB: String { "v\(name)-b" }

    func inA(_ argv: [String], timeout: Double = 30) throws -> ProcessResult {
        try run(["ip", "netns", "exec", namespaceA] + argv, timeout: timeout)
    }

    func inB(_ argv: [String], timeout: Double = 30) throws -> ProcessResult {
        try run(["ip", "netns", "exec", namespaceB] + argv, timeout: timeout)
    }

    func file(_ name: String) -> String {
        (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// `ping -c count` from side a (or b) to the other; returns how many replies came back.
    func ping(from side: Character, count: Int = 3, deadline: Int? = nil) throws -> (received: Int, result: ProcessResult) {
        let target = side == "a" ? Self.addressB : Self.addressA
        var argv = ["ping", "-n", "-c", "\(count)", "-i", "0.2", "-W", "2"]
        if let deadline { argv += ["-w", "\(deadline)"] }
        let r = side == "a" ? try inA(argv + [target], timeout: Double(deadline ?? count * 3) + 10)
                            : try inB(argv + [target], timeout: Double(deadline ?? count * 3) + 10)
        let received = r.output.firstMatch(of: /(\d+) received/).flatMap { Int($0.1) } ?? 0
        return (received, r)
    }

    /// The sluice log of side a after a SIGUSR1 status request.
    func statusA() throws -> String {
        let before = file("a.log")
        guard let pid = Int32(file("a.pid")) else { throw InteropFailure("no pid for side a") }
        kill(pid, SIGUSR1)
        for _ in 0..<50 {
            usleep(50_000)
            let now = file("a.log")
            if now.count > before.count, now.hasSuffix("B") { return String(now.dropFirst(before.count)) }
        }
        throw InteropFailure("no status after SIGUSR1; log: \(file("a.log"))")
    }

    /// wireguard-go's latest handshake with side a (Unix seconds; 0 for none), from `wg show`.
    func latestHandshakeB() throws -> Int {
        let r = try inB(["wg", "show", interfaceB, "latest-handshakes"])
        guard r.succeeded else { throw InteropFailure("wg show failed: \(r)") }
        return r.output.split(separator: "\t").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
    }

    /// iperf3 TCP for `seconds` from side a to b (or, `reverse`, b to a); returns bits per second received.
    func iperf(seconds: Int = 3, reverse: Bool = false, to host: String = addressB) throws -> Double {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["ip", "netns", "exec", namespaceB, "iperf3", "-s", "-1", "-B", host]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() }; server.waitUntilExit() }
        var last: ProcessResult? = nil
        for _ in 0..<20 {
            usleep(200_000)
            let r = try inA(["iperf3", "-c", host, "-t", "\(seconds)", "-J", "--connect-timeout", "3000"]
                            + (reverse ? ["-R"] : []), timeout: Double(seconds) + 30)
            last = r
            if r.succeeded {
                guard let data = r.output.data(using: .utf8),
                      let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let end = json["end"] as? [String: Any], let sum = end["sum_received"] as? [String: Any],
                      let bps = sum["bits_per_second"] as? Double, let bytes = sum["bytes"] as? Double else {
                    throw InteropFailure("iperf3 gave no sum_received: \(r.output.prefix(400))")
                }
                guard bytes > 0 else { throw InteropFailure("iperf3 moved no bytes") }
                return bps
            }
            if !r.output.contains("unable to connect") && !r.output.contains("Connection refused") { break }
        }
        throw InteropFailure("iperf3 \(reverse ? "b→a" : "a→b") failed: \(last.map(\.description) ?? "")")
    }
}
