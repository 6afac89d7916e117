// Running as wg-quick's userspace implementation. wg-quick(8) runs `$WG_QUICK_USERSPACE_IMPLEMENTATION NAME` and
// expects it to return once the interface and its UAPI socket exist, leaving a daemon behind (wireguard-go forks a
// child and waits for it). Here the parent spawns `sluice wg interface -f NAME` in a new session with a pipe on
// descriptor 3 (`SLUICE_WG_READY_FD`); the child creates the TUN device and the socket, then writes "ready" (or
// its error) on the pipe and closes it. The parent exits 0 on "ready", 1 with the child's error otherwise.
//
// The daemon's standard streams go to /dev/null, or are appended to the file named by SLUICE_WG_LOG.

import Glibc
import HostIO

public enum UserspaceDaemon {
    /// The environment variable naming the readiness pipe in the child.
    public static let readyVariable = "SLUICE_WG_READY_FD"
    /// The environment variable naming a log file for the daemon.
    public static let logVariable = "SLUICE_WG_LOG"
    /// glibc's POSIX_SPAWN_SETSID (spawn.h, since 2.26; behind _GNU_SOURCE, so Glibc's module lacks it).
    static let spawnSetSID: Int16 = 0x80

    /// Starts `executable arguments…` as a daemon and waits until it reports ready. Returns nil when it did,
    /// else the reason it did not.
    public static func spawn(executable: String, arguments: [String]) -> String? {
        var pipeFDs: [CInt] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { return "pipe: \(Errno(rawValue: errno))" }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(pipeFDs[0]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let log = getenv(logVariable).map { String(cString: $0) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let log, !log.isEmpty {
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 3)

        var attributes = cleanSignalSpawnAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        var flags: Int16 = 0
        posix_spawnattr_getflags(&attributes, &flags)
        posix_spawnattr_setflags(&attributes, flags | Self.spawnSetSID)

        var environment = [String]()
        var e = environ
        while let entry = e.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix(readyVariable + "=") { environment.append(text) }
            e += 1
        }
        environment.append("\(readyVariable)=3")
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
        close(pipeFDs[1])
        guard rc == 0 else { return "cannot start \(executable): \(Errno(rawValue: rc))" }

        var message: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            message += chunk[0..<n]
            if message.count > 4096 { break }
        }
        let text = String(decoding: message, as: UTF8.self)
        if text == "ready\n" { return nil }
        // The child failed: reap it, so it leaves no zombie.
        var status: CInt = 0
        _ = waitpid(pid, &status, 0)
        return text.isEmpty ? "the daemon exited before it was ready" : text.trimmingSuffixNewline
    }

    /// In the daemon: reports readiness (message nil) or a failure to the waiting parent, if there is one.
    public static func notify(_ failure: String?) {
        guard let value = getenv(readyVariable), let fd = CInt(String(cString: value)), fd >= 0 else { return }
        unsetenv(readyVariable)
        let text = failure.map { $0 + "\n" } ?? "ready\n"
        _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}

extension String {
    var trimmingSuffixNewline: String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }
}
