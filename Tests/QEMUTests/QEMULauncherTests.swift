// The launcher's process handling, with /bin/sh standing in for QEMU (always runs, no guest needed).
import Foundation
import Testing
@testable import QEMU

/// A "QEMU" command line that runs a shell script instead.
private func shell(_ script: String) -> QEMUCommandLine {
    var m = MachineConfig()
    m.kernel = "/unused"
    var c = QEMUCommandLine(machine: m)
    c.executable = "/bin/sh"
    c.arguments = ["-c", script]
    return c
}

private let bound = Duration.seconds(120)   // only so a broken launcher fails instead of hanging

@Test func transcriptGetsStdoutAndStderrAndTheExitStatus() throws {
    let t = ConsoleTranscript()
    let p = try QEMULauncher.start(shell("echo one; echo two >&2; read x || echo eof; exit 7"), console: .transcript(t))
    #expect(p.wait(timeout: bound) == .exited(7))
    #expect(t.lines == ["one", "two", "eof"], "stdin is /dev/null")
    #expect(t.isFinished)
}

@Test func stopSendsSIGTERMFirst() throws {
    let t = ConsoleTranscript()
    let p = try QEMULauncher.start(shell("echo ready; exec sleep 600"), console: .transcript(t))
    #expect(t.waitForLine(timeout: bound) { $0 == "ready" } != nil)
    #expect(p.exitStatus == nil)
    #expect(p.stop(grace: bound) == .signalled(SIGTERM))
}

@Test func stopEscalatesToSIGKILLWhenSIGTERMIsIgnored() throws {
    let t = ConsoleTranscript()
    let p = try QEMULauncher.start(shell("trap '' TERM; echo ready; while :; do sleep 0.1; done"), console: .transcript(t))
    #expect(t.waitForLine(timeout: bound) { $0 == "ready" } != nil)
    #expect(p.stop(grace: .milliseconds(300)) == .signalled(SIGKILL))
}

/// Regression: Foundation's Process gave QEMU its caller's signal mask, and a test runner's
/// worker threads block SIGTERM — so QEMU never saw stop()'s SIGTERM.
@Test func childStartsWithNoSignalsBlockedWhateverTheCallerBlocks() throws {
    let t = ConsoleTranscript()
    let started = NSCondition()
    nonisolated(unsafe) var result: Result<QEMUProcess, QEMULaunchError>?
    let thread = Thread {
        var set = sigset_t()
        sigfillset(&set)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let previous = signal(SIGHUP, SIG_IGN)     // process-wide; QEMU must get the default back
        defer { signal(SIGHUP, previous) }
        let r: Result<QEMUProcess, QEMULaunchError>
        do throws(QEMULaunchError) { r = .success(try QEMULauncher.start(shell("grep -E '^Sig(Blk|Ign)' /proc/self/status"), console: .transcript(t))) }
        catch { r = .failure(error) }
        started.lock(); result = r; started.broadcast(); started.unlock()
    }
    thread.start()
    started.lock()
    while result == nil { started.wait() }
    started.unlock()
    let p = try #require(try result?.get())
    #expect(p.wait(timeout: bound) == .exited(0))
    #expect(t.lines.contains("SigBlk:\t0000000000000000"), "\(t.lines)")
    // Nothing the caller ignored stays ignored (glibc's internal real-time signals aside).
    let ignored = t.lines.first { $0.hasPrefix("SigIgn:") }.flatMap { UInt64($0.dropFirst("SigIgn:\t".count), radix: 16) }
    let mask = [SIGHUP, SIGINT, SIGTERM, SIGPIPE].reduce(UInt64(0)) { $0 | 1 << UInt64($1 - 1) }
    #expect(ignored.map { $0 & mask } == 0, "\(t.lines)")
}

@Test func logAppendsToAFile() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-launcher-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log").path
    defer { unlink(path) }
    for word in ["first", "second"] {
        let p = try QEMULauncher.start(shell("echo \(word); echo err >&2"), console: .log(path))
        #expect(p.wait(timeout: bound) == .exited(0))
    }
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "first\nerr\nsecond\nerr\n")
}

@Test func missingExecutableSaysHowToInstallQEMU() {
    var c = shell("true")
    c.executable = "qemu-system-does-not-exist"
    #expect { try QEMULauncher.start(c, console: .transcript(ConsoleTranscript())) } throws: { error in
        let e = error as? QEMULaunchError
        return e?.message == "qemu-system-does-not-exist is not on PATH" && e?.fix?.contains("apt-get install qemu-system-x86") == true
    }
}

@Test func preflightWantsTheBridgeSocketToExist() throws {
    var m = MachineConfig()
    m.kernel = "/k"
    m.networks = [NetworkAttachment(socket: "/nonexistent/br0.sock")]
    #expect { try QEMULauncher.preflight(m) } throws: { ($0 as? QEMULaunchError)?.message == "no vhost-user socket at /nonexistent/br0.sock" }
    m.networks = [NetworkAttachment(socket: "/etc/hostname")]
    #expect { try QEMULauncher.preflight(m) } throws: { ($0 as? QEMULaunchError)?.message == "/etc/hostname is not a Unix socket" }

    // A real listening socket passes.
    let path = "/tmp/sluice-pf-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd); unlink(path) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buf in
        for (i, b) in path.utf8.enumerated() { buf[i] = b }
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(bound == 0)
    m.networks = [NetworkAttachment(socket: path)]
    try QEMULauncher.preflight(m)
}

@Test func waitStatusDecoding() {
    #expect(QEMUExit(waitStatus: 0) == .exited(0))
    #expect(QEMUExit(waitStatus: 7 << 8) == .exited(7))
    #expect(QEMUExit(waitStatus: SIGTERM) == .signalled(SIGTERM))
    #expect(QEMUExit(waitStatus: SIGKILL | 0x80) == .signalled(SIGKILL), "core-dump bit")
}
