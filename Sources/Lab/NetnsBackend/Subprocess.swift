// A child process of a real run (ip, ping, busybox udhcpc, iperf3): started with posix_spawn in a
// clean signal state (Foundation's Process passes on the caller's signal mask, so a child of a
// thread that blocks SIGTERM could not be stopped — see Sources/QEMU/QEMULauncher.swift), its
// standard output and error in one pipe that the run loop drains without blocking.
import Basics
import Foundation
import HostIO

/// Why a real backend could not set up or carry on.
struct RealBackendError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A running (or finished) child process and what it printed.
final class Subprocess {
    /// The command, for messages.
    let command: [String]
    let pid: pid_t
    /// Complete output lines, each with the monotonic time it was read.
    private(set) var lines: [(time: Instant, text: String)] = []
    /// How it ended: its exit code, or 128 + the signal that ended it; nil while it runs.
    private(set) var exitCode: Int32?
    private var readEnd: Int32
    private var partial: [UInt8] = []
    private let clock = MonotonicClock()

    /// The search path children get (the test runner's PATH may lack the sbin directories).
    static let searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Starts `command` (its first word is looked up on `searchPath`).
    init(_ command: [String]) throws(RealBackendError) {
        self.command = command
        guard let name = command.first, let path = Self.executable(name) else {
            throw RealBackendError("\(command.first ?? "(nothing)") is not installed (looked in \(Self.searchPath))")
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw RealBackendError("pipe: \(String(cString: strerror(errno)))") }
        // Close-on-exec, so no other child inherits them (a stray write end keeps the pipe open).
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        var attributes = cleanSignalSpawnAttributes()
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = Self.searchPath
        environment["LC_ALL"] = "C"
        let envp = environment.keys.sorted().map { strdup("\($0)=\(environment[$0]!)") } + [nil]
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw RealBackendError("cannot start \(path): \(String(cString: strerror(rc)))")
        }
        pid = child
        readEnd = fds[0]
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        if exitCode == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        if readEnd >= 0 { close(readEnd) }
    }

    /// The pipe's read end, to wake a reactor when output arrives (-1 once it closed).
    var outputDescriptor: Int32 { readEnd }

    /// The first match for `name` on `searchPath` (itself when it holds a "/").
    static func executable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in searchPath.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return nil
    }

    /// Reads what output is waiting; returns the complete lines that arrived.
    @discardableResult
    func drain() -> [String] {
        guard readEnd >= 0 else { return [] }
        var fresh: [String] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n > 0 {
                for b in buffer[..<n] {
                    if b == UInt8(ascii: "\n") {
                        fresh.append(String(decoding: partial, as: UTF8.self)); partial.removeAll(keepingCapacity: true)
                    } else {
                        partial.append(b)
                    }
                }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 {   // end of output: every writer (the child and its children) closed the pipe
                if !partial.isEmpty { fresh.append(String(decoding: partial, as: UTF8.self)); partial.removeAll() }
                close(readEnd)
                readEnd = -1
            }
            break
        }
        let now = clock.now()
        lines += fresh.map { (now, $0) }
        return fresh
    }

    /// Whether it has exited (reaped without blocking); its output is drained first.
    @discardableResult
    func poll() -> Bool {
        drain()
        guard exitCode == nil else { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return false }
        exitCode = Self.decode(status)
        drain()
        return true
    }

    /// Waits up to `timeout` for it to exit; true if it did.
    @discardableResult
    func wait(timeout: Duration) -> Bool {
        let deadline = clock.now() + timeout
        while !poll() {
            if clock.now() >= deadline { return false }
            usleep(2_000)
        }
        return true
    }

    /// Sends `signal` if it still runs.
    func send(_ signal: Int32) {
        if exitCode == nil { kill(pid, signal) }
    }

    /// Asks it to stop with `signal`, then SIGKILL after `grace`; returns once it is reaped.
    func stop(_ signal: Int32 = SIGTERM, grace: Duration = .seconds(2)) {
        send(signal)
        if wait(timeout: grace) { return }
        send(SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exitCode = Self.decode(status)
        drain()
    }

    /// All output so far, as one text.
    var output: String { lines.map(\.text).joined(separator: "\n") }

    private static func decode(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs `command` to the end and returns its output; throws with the output if it fails.
    @discardableResult
    static func run(_ command: [String], timeout: Duration = .seconds(30)) throws(RealBackendError) -> String {
        let p = try Subprocess(command)
        guard p.wait(timeout: timeout) else {
            p.stop(SIGKILL)
            throw RealBackendError("\(command.joined(separator: " ")) did not finish within \(Format.duration(timeout))")
        }
        guard p.exitCode == 0 else {
            throw RealBackendError("\(command.joined(separator: " ")) failed (exit \(p.exitCode ?? -1)): \(p.output)")
        }
        return p.output
    }
}
