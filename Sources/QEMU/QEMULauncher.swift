// Starting and stopping qemu-system-x86_64: the one place in this module that runs a process.
//
// posix_spawn rather than Foundation's Process, for three reasons found the hard way:
// Process leaves the child with its caller's signal mask (a test runner's worker thread blocks
// SIGTERM, so QEMU ignored `stop()`), puts it in a process group of its own (so it cannot own a
// terminal), and its pipe could outlive QEMU in a daemon's grandchild.
import Foundation
import HostIO

/// Where QEMU's standard output and error go; standard input is always /dev/null.
public enum ConsoleAttachment: Sendable {
    /// A pipe into `transcript` (the console when it is on stdio, and QEMU's own messages).
    case transcript(ConsoleTranscript)
    /// A file QEMU's output is appended to.
    case log(String)
}

/// How a QEMU process ended.
public enum QEMUExit: Equatable, Sendable, CustomStringConvertible {
    /// exit(status): 0 after the guest powered off.
    case exited(Int32)
    /// Ended by this signal (SIGKILL when `stop()` found SIGTERM ignored).
    case signalled(Int32)

    public var description: String {
        switch self {
        case .exited(let s): "exited with status \(s)"
        case .signalled(let s): "ended by signal \(s)"
        }
    }

    /// Decodes a wait(2) status.
    init(waitStatus s: Int32) {
        self = s & 0x7f == 0 ? .exited((s >> 8) & 0xff) : .signalled(s & 0x7f)
    }
}

/// Why QEMU could not be started.
public struct QEMULaunchError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var fix: String?
    public init(message: String, fix: String? = nil) { self.message = message; self.fix = fix }
    public var description: String { "error: \(message)" + (fix.map { "\n  fix: \($0)" } ?? "") }
}

/// Starts QEMU for a command line.
public enum QEMULauncher {
    /// Starts `command` and returns the running process; its output goes where `console` says.
    /// It stays in our process group, so a Ctrl-C at the terminal reaches it too.
    public static func start(_ command: QEMUCommandLine, console: ConsoleAttachment) throws(QEMULaunchError) -> QEMUProcess {
        let path = try executablePath(command.executable)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var readEnd: Int32 = -1
        switch console {
        case .transcript:
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw QEMULaunchError(message: "pipe: \(errnoText())") }
            // Close-on-exec, so no other child inherits them (a stray write end keeps the pipe open).
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            readEnd = fds[0]
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
            defer { close(fds[1]) }                   // after spawning: QEMU holds the only write end
            return try spawn(path, command, &actions, console: console, readEnd: readEnd)
        case .log(let file):
            posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            return try spawn(path, command, &actions, console: console, readEnd: -1)
        }
    }

    private static func spawn(_ path: String, _ command: QEMUCommandLine, _ actions: inout posix_spawn_file_actions_t,
                              console: ConsoleAttachment, readEnd: Int32) throws(QEMULaunchError) -> QEMUProcess {
        var attributes = cleanSignalSpawnAttributes()
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            if readEnd >= 0 { close(readEnd) }
            throw QEMULaunchError(message: "cannot start \(path): \(String(cString: strerror(rc)))")
        }
        let process = QEMUProcess(pid: pid, command: command)
        if case .transcript(let transcript) = console { process.startReading(fd: readEnd, into: transcript) }
        process.startWaiting()
        return process
    }

    /// Replaces this process with QEMU, so QEMU owns the terminal (raw mode; Ctrl-A X quits) and
    /// its exit status is ours. Returns only by throwing.
    public static func exec(_ command: QEMUCommandLine) throws(QEMULaunchError) -> Never {
        let path = try executablePath(command.executable)
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { signal(s, SIG_DFL) }
        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        execv(path, argv)
        let reason = errnoText()
        argv.forEach { free($0) }
        throw QEMULaunchError(message: "cannot run \(path): \(reason)")
    }

    /// Starts `command`, which must carry `LaunchOptions.daemonizePidFile`, and returns the
    /// daemon's pid once QEMU has detached (it reports setup errors before detaching).
    public static func daemonize(_ command: QEMUCommandLine) throws(QEMULaunchError) -> Int32 {
        guard let i = command.arguments.firstIndex(of: "-pidfile"), i + 1 < command.arguments.count,
              command.arguments.contains("-daemonize") else {
            throw QEMULaunchError(message: "the command line has no -daemonize -pidfile", fix: "build it with LaunchOptions(daemonizePidFile:)")
        }
        let pidFile = command.arguments[i + 1]
        // QEMU's messages before it detaches (errors) go to a scratch file.
        let messages = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-qemu-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log").path
        defer { unlink(messages) }
        let process = try start(command, console: .log(messages))
        let text = { (try? String(contentsOfFile: messages, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }
        // The foreground QEMU exits as soon as the daemon is set up; the bound only avoids waiting forever.
        guard let exit = process.wait(timeout: .seconds(120)) else {
            process.stop()
            throw QEMULaunchError(message: "QEMU did not detach within 120 s: \(text())")
        }
        guard exit == .exited(0) else { throw QEMULaunchError(message: "QEMU \(exit): \(text())") }
        guard let contents = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(contents.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw QEMULaunchError(message: "QEMU detached but there is no pid in \(pidFile) (did the guest stop at once?)")
        }
        return pid
    }

    /// What would stop `machine` from starting, found before QEMU runs: a bridge socket that is
    /// not there yet (QEMU gives up at once, reconnect or not), or KVM without /dev/kvm.
    public static func preflight(_ machine: MachineConfig) throws(QEMULaunchError) {
        for net in machine.networks {
            var st = stat()
            guard stat(net.socket, &st) == 0 else {
                throw QEMULaunchError(message: "no vhost-user socket at \(net.socket)",
                                      fix: "start the bridge first (sluice bridge bridge.yml); QEMU connects to it at start-up")
            }
            guard st.st_mode & S_IFMT == S_IFSOCK else {
                throw QEMULaunchError(message: "\(net.socket) is not a Unix socket", fix: "point socket: at the bridge's vhost-user socket")
            }
        }
        if machine.accel == .kvm, access("/dev/kvm", R_OK | W_OK) != 0 {
            throw QEMULaunchError(message: "accel: kvm, but /dev/kvm is not usable here", fix: "use accel: tcg")
        }
    }

    /// `name` as an executable path: itself when it contains "/", else the first match on PATH.
    static func executablePath(_ name: String) throws(QEMULaunchError) -> String {
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else {
                throw QEMULaunchError(message: "\(name) is not an executable file")
            }
            return name
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw QEMULaunchError(message: "\(name) is not on PATH",
                              fix: "install QEMU: apt-get install qemu-system-x86 (or run ci/build-test-guest.sh, which does)")
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// A running QEMU, our child. Killed (SIGKILL) when released while still running, so none
/// outlives its owner.
public final class QEMUProcess: @unchecked Sendable {
    /// The command it runs.
    public let command: QEMUCommandLine
    /// The process id.
    public let pid: Int32
    private let state = State()

    /// What the waiter and reader threads share with the owner (they do not keep the owner alive).
    final class State: @unchecked Sendable {
        let condition = NSCondition()
        var exit: QEMUExit?
        var outputOpen = false
    }

    init(pid: Int32, command: QEMUCommandLine) {
        self.pid = pid; self.command = command
    }

    deinit {
        if exitStatus == nil { kill(pid, SIGKILL) }
    }

    /// How it ended, or nil while it runs.
    public var exitStatus: QEMUExit? { state.condition.lock(); defer { state.condition.unlock() }; return state.exit }

    /// Waits until QEMU has exited and its output is read; nil when `timeout` passes first.
    @discardableResult
    public func wait(timeout: Duration) -> QEMUExit? {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18)
        state.condition.lock(); defer { state.condition.unlock() }
        while state.exit == nil || state.outputOpen {
            if !state.condition.wait(until: deadline) { break }
        }
        return state.outputOpen ? nil : state.exit
    }

    /// Stops QEMU: SIGTERM (QEMU prints "terminating on signal 15", stops the guest and exits 0),
    /// then SIGKILL after `grace`.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) -> QEMUExit {
        if exitStatus == nil { kill(pid, SIGTERM) }
        if let e = wait(timeout: grace) { return e }
        if exitStatus == nil { kill(pid, SIGKILL) }
        // A SIGKILLed process is reaped promptly; the long bound only avoids waiting forever.
        return wait(timeout: .seconds(60)) ?? exitStatus ?? .signalled(SIGKILL)
    }

    /// Reaps the child on a thread of its own (waitpid for this pid only).
    func startWaiting() {
        let (state, pid) = (state, pid)
        let thread = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            state.condition.lock(); state.exit = QEMUExit(waitStatus: status); state.condition.broadcast(); state.condition.unlock()
        }
        thread.name = "qemu-wait-\(pid)"
        thread.start()
    }

    /// Reads the child's output into `transcript` until the pipe closes.
    func startReading(fd: Int32, into transcript: ConsoleTranscript) {
        let state = state
        state.condition.lock(); state.outputOpen = true; state.condition.unlock()
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { transcript.append(buffer[..<n]); continue }
                if n < 0 && errno == EINTR { continue }
                break
            }
            close(fd)
            transcript.finish()
            state.condition.lock(); state.outputOpen = false; state.condition.broadcast(); state.condition.unlock()
        }
        thread.name = "qemu-console-\(pid)"
        thread.start()
    }
}
