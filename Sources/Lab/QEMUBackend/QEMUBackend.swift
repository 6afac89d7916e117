// The `qemu` backend: a scenario's hosts are QEMU test guests (TCG; ci/build-test-guest.sh) whose
// virtio-net NICs are served by a BridgeDaemon over vhost-user, one socket per bridge segment. A
// guest's commands are fixed at boot (QEMUGuestPlan), so only what can be said on a kernel command
// line runs here — the capability table (LabBackend) refuses the rest when the file is loaded.
// Expectations are checked against the bridge's pcaps, as on the other backends.
import Basics
import Foundation
import QEMU

/// Runs scenarios with QEMU guests as hosts.
public enum QEMUBackend {
    /// Where the test guest is: $SLUICE_TEST_GUEST (a directory holding vmlinuz and
    /// initramfs.cpio.gz), else ci/cache/guest under the working directory or one above it.
    public static func locateGuest() -> Result<TestGuest, TestGuestError> {
        if let dir = ProcessInfo.processInfo.environment["SLUICE_TEST_GUEST"], !dir.isEmpty {
            let guest = TestGuest(kernel: dir + "/vmlinuz", initramfs: dir + "/initramfs.cpio.gz")
            guard FileManager.default.isReadableFile(atPath: guest.kernel), FileManager.default.isReadableFile(atPath: guest.initramfs) else {
                return .failure(TestGuestError("SLUICE_TEST_GUEST=\(dir) holds no vmlinuz and initramfs.cpio.gz"))
            }
            return .success(guest)
        }
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var first: TestGuestError?
        for _ in 0..<4 {
            switch TestGuest.locate(repositoryRoot: dir.path) {
            case .success(let g): return .success(g)
            case .failure(let e): first = first ?? e
            }
            dir.deleteLastPathComponent()
        }
        return .failure(first!)
    }

    /// Why this machine cannot run the backend (no QEMU, no test guest), or nil if it can.
    public static func unavailableReason() -> String? {
        guard Subprocess.executable("qemu-system-x86_64") != nil else {
            return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86, or run ci/build-test-guest.sh)"
        }
        if case .failure(let e) = locateGuest() { return e.description }
        return nil
    }

    /// Runs `scenario`: boots its guests, waits until each has run its commands and powered off
    /// (or a generous limit passes), and evaluates its expectations. Never throws: a run that
    /// cannot start or breaks off is an `.error` run.
    public static func run(_ scenario: Scenario, seed: UInt64, captureDirectory: String) -> LabRun {
        let clock = ContinuousClock()
        let began = clock.now
        var run = LabRun(scenario, seed: seed, backend: .qemu)
        if let why = unavailableReason() {
            run.status = .error(why)
            return run
        }
        let guest = try! locateGuest().get()
        let interrupt = InterruptGuard()
        defer { interrupt.finish() }
        do {
            let output = try QEMUScenarioRun(scenario, seed: seed, guest: guest, captureDirectory: captureDirectory, interrupt: interrupt).run()
            run.record(output, of: scenario)
        } catch {
            run.status = .error("\(error)")
        }
        run.wallTime = clock.now - began
        return run
    }
}
