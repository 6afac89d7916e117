// Shared helpers for the real-bridge tests: run commands, find the sluice binary, make network
// namespaces that are always removed, and start `sluice bridge` as a child process.
import Foundation
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The built `sluice` (swift build --build-tests builds it beside the tests).
func sluiceBinary() -> String? {
    for dir in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug"] {
        let p = "\(repositoryRoot)/\(dir)/sluice"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

@discardableResult
func sh(_ command: String, allowFailure: Bool = false) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let out = Pipe(); p.standardOutput = out; p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    if p.terminationStatus != 0 && !allowFailure { throw CommandFailed(command: command, status: p.terminationStatus, output: text) }
    return text
}

struct CommandFailed: Error, CustomStringConvertible {
    var command: String, status: Int32, output: String
    var description: String { "`\(command)` exited \(status): \(output)" }
}

/// Root and the tools these tests drive; nil when all is there, else why they are skipped.
func realNetworkSkipReason(needing tools: [String] = ["ip", "busybox", "tshark"]) -> String? {
    if getuid() != 0 { return "not root (network namespaces and TAP devices need root; CI runs as root)" }
    for t in tools where (try? sh("command -v \(t)")) == nil { return "'\(t)' is not installed (ci/setup.sh installs it)" }
    if sluiceBinary() == nil { return "the sluice binary is not built (swift build)" }
    return nil
}

/// Network namespaces named uniquely for this process, deleted when the value goes away.
final class Namespaces {
    let names: [String]
    init(_ labels: [String]) throws {
        names = labels.map { "sl\(getpid())\($0)" }
        for n in names {
            try sh("ip netns del \(n) 2>/dev/null; ip netns add \(n) && ip -n \(n) link set lo up")
        }
    }
    subscript(_ i: Int) -> String { names[i] }
    deinit { for n in names { _ = try? sh("ip netns del \(n)", allowFailure: true) } }
}

/// `sluice bridge` as a child process (in network namespace `namespace` if given: `ip netns exec`
/// execs, so the process is sluice itself), stopped with SIGTERM when the value goes away. Its
/// config is `<directory>/<name>.yml`, its log `<directory>/<name>.log`.
final class RunningBridge {
    let process = Process()
    let logPath: String
    let configPath: String

    /// State (the lease database) goes under `directory` too, never to /var/lib; `environment` is
    /// added to the bridge's.
    init(namespace: String? = nil, config: String, directory: String, name: String = "bridge",
         environment: [String: String] = [:], umask: String? = nil, arguments: [String] = []) throws {
        configPath = "\(directory)/\(name).yml"
        logPath = "\(directory)/\(name).log"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let command = [sluiceBinary()!, "bridge", configPath, "--capture-directory", directory, "--state-directory", directory] + arguments
        if let umask {
            // Started under this umask (the sockets must not take their mode from it).
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "umask \(umask) && exec \"$@\"", "sh"] + command
        } else if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace] + command
        } else {
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
        }
        process.standardOutput = log; process.standardError = log
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        try process.run()
    }

    /// Waits until the log contains `text` (or the process ends); false on timeout.
    func waitForLog(_ text: String, seconds: Double = 20) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if log.contains(text) { return true }
            if !process.isRunning { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stats() throws -> String { try sh("\(sluiceBinary()!) bridge \(configPath) --stats") }

    /// SIGTERM, then wait; returns the exit status.
    func stop() -> Int32 {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        return process.terminationStatus
    }

    /// SIGKILL (no shutdown of any kind), then wait.
    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    deinit { _ = stop() }
}

func temporaryDirectory(_ label: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(label)-\(getpid())").path
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
