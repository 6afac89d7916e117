// Boots the real test guest (ci/build-test-guest.sh) under QEMU with TCG. Skipped, with the
// reason, when the guest has not been built or QEMU is not installed.
import Foundation
import Testing
@testable import QEMU

enum GuestEnvironment {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The built guest, or why these tests cannot run.
    static let guest: Result<TestGuest, TestGuestError> = {
        let result: Result<TestGuest, TestGuestError>
        do {
            _ = try QEMULauncher.executablePath("qemu-system-x86_64")
            result = TestGuest.locate(repositoryRoot: repositoryRoot)
        } catch {
            result = .failure(TestGuestError("qemu-system-x86_64 is not installed; bash ci/build-test-guest.sh installs it and builds the guest"))
        }
        if case .failure(let why) = result { print("QEMUTests: SKIPPED guest boot tests: \(why)") }
        return result
    }()

    static var available: Bool { (try? guest.get()) != nil }
    static var reason: Comment {
        if case .failure(let why) = guest { return Comment(rawValue: "SKIPPED: \(why)") }
        return ""
    }

    /// Module names the guest's build loaded (ci/cache/guest/guest.env MODULES="…").
    static func builtModules() throws -> [String] {
        let env = try String(contentsOfFile: repositoryRoot + "/" + TestGuest.cacheDirectory + "/guest.env", encoding: .utf8)
        let line = try #require(env.split(separator: "\n").first { $0.hasPrefix("MODULES=") })
        return line.dropFirst("MODULES=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: " ").map(String.init)
    }

    /// Echoes console lines into the test log with a prefix, so a failing boot can be read.
    static func transcript(_ name: String) -> ConsoleTranscript {
        ConsoleTranscript { print("[\(name)] \($0)") }
    }
}

/// Generous bounds, only so that a hung guest fails instead of hanging the suite; a TCG boot
/// takes about 10 s on an idle machine. No assertion depends on how long anything took.
private let bootTimeout = Duration.seconds(300)

private func isResult(_ m: GuestMarker) -> Bool { if case .result = m { true } else { false } }

@Suite(.serialized, .enabled(if: GuestEnvironment.available, GuestEnvironment.reason))
struct TestGuestBootTests {
    @Test func bootsLoadsVirtioNetTakesALeaseRunsCommandsAndPowersOff() throws {
        let guest = try GuestEnvironment.guest.get()
        let mac = "52:54:00:5a:00:01"
        var machine = guest.machine(cmdline: try TestGuest.cmdline(runs: [("probe", "ip -4 addr show eth0"), ("fails", "exit 3")]))
        // QEMU's user-mode network (slirp) has a DHCP server inside QEMU; no traffic leaves it.
        machine.extraArgs += ["-netdev", "user,id=user0,restrict=on", "-device", "virtio-net-pci,netdev=user0,mac=\(mac),romfile="]
        let transcript = GuestEnvironment.transcript("boot")
        let started = ContinuousClock.now
        let qemu = try QEMULauncher.start(QEMUCommandLine(machine: machine), console: .transcript(transcript))
        let exit = qemu.wait(timeout: bootTimeout)
        print("QEMUTests: boot to power-off took \(ContinuousClock.now - started)")
        if exit == nil { qemu.stop() }
        #expect(exit == .exited(0), "QEMU should exit by itself after the guest's poweroff -f")

        let markers = transcript.markers
        #expect(markers.count == 10, "\(markers)")
        guard markers.count == 10 else { return }
        guard case .initStarted(let kernel) = markers[0] else { Issue.record("first marker \(markers[0])"); return }
        #expect(!kernel.isEmpty)
        #expect(markers[1] == .modulesLoaded(try GuestEnvironment.builtModules()))
        #expect(markers[2] == .networkUp(interface: "eth0", mac: mac))
        // udhcpc's script reports the lease's details, then /init the lease.
        guard case .dhcpLease(let leased, let fields) = markers[3] else { Issue.record("no lease details: \(markers[3])"); return }
        // slirp's DHCP server is 10.0.2.2, its lease a day; restricted (restrict=on) it offers
        // neither router nor DNS server, which the line says with "-".
        #expect(fields["server"] == "10.0.2.2" && fields["lease"] == "86400", "\(fields)")
        #expect(fields["router"] == "-" && fields["dns"] == "-", "\(fields)")
        guard case .dhcpBound(let address) = markers[4] else { Issue.record("no lease: \(markers[4])"); return }
        #expect(address.hasPrefix("10.0.2.") && address.hasSuffix("/24"), "slirp's network is 10.0.2.0/24")
        #expect(leased == address)
        #expect(markers[5...] == [.runStarted("probe"), .result(name: "probe", exitCode: 0),
                                  .runStarted("fails"), .result(name: "fails", exitCode: 3), .done][...])
        // The probe's own output shows the leased address on eth0.
        #expect(transcript.lines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("inet \(address) ") })
    }

    @Test func stopEndsARunningGuestWithSIGTERM() throws {
        let guest = try GuestEnvironment.guest.get()
        let machine = guest.machine(cmdline: try TestGuest.cmdline(runs: [("nap", "sleep 3600")], dhcp: false))
        let transcript = GuestEnvironment.transcript("stop")
        let qemu = try QEMULauncher.start(QEMUCommandLine(machine: machine), console: .transcript(transcript))
        let running = transcript.waitForMarker(timeout: bootTimeout) { $0 == .runStarted("nap") }
        #expect(running != nil, "the guest should reach its command")
        #expect(qemu.exitStatus == nil, "still running before stop")
        let exit = qemu.stop(grace: .seconds(30))
        #expect(qemu.exitStatus == exit)
        // QEMU shuts down on SIGTERM, says so and exits 0; SIGKILL would mean SIGTERM was ignored.
        #expect(exit == .exited(0), "\(exit)")
        #expect(transcript.lines.contains { $0.contains("terminating on signal 15") })
        #expect(!transcript.markers.contains(.done))
        #expect(kill(qemu.pid, 0) != 0, "the process is gone")
    }

    @Test func detachedGuestFromTheFixtureWritesItsConsoleToALog() throws {
        _ = try GuestEnvironment.guest.get()
        let machine = try MachineConfig.load(path: GuestEnvironment.repositoryRoot + "/fixtures/machines/test-guest.yml")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-qemu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/console.log"
        let command = QEMUCommandLine(machine: machine, options: LaunchOptions(console: .file(log), daemonizePidFile: dir + "/qemu.pid"))
        let pid = try QEMULauncher.daemonize(command)
        #expect(pid > 0)

        // The daemon is not our child: watch its console log and its /proc entry.
        let deadline = ContinuousClock.now + bootTimeout
        func alive() -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return !stat.contains(") Z ")               // a zombie has exited; its parent has not reaped it
        }
        while alive() && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.2) }
        if alive() { kill(pid, SIGKILL); Issue.record("the detached guest did not power off") }
        let transcript = ConsoleTranscript()
        transcript.append(Array((FileManager.default.contents(atPath: log) ?? Data())))
        transcript.finish()
        #expect(transcript.markers.contains(.noNetwork))
        #expect(transcript.markers.contains(.result(name: "hello", exitCode: 0)))
        #expect(transcript.markers.last == .done)
        #expect(transcript.lines.contains { $0.hasPrefix("Linux ") }, "uname -a printed")
    }
}
