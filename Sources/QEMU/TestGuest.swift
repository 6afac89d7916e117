// The test guest built by ci/build-test-guest.sh: Debian's kernel and a busybox initramfs whose
// /init (ci/guest/init) loads virtio-net, takes a DHCP lease, runs commands from the kernel
// command line, prints GuestMarker lines and powers off.
import Foundation

/// A built test guest: where its kernel and initramfs are.
public struct TestGuest: Equatable, Sendable {
    /// The kernel image (Debian's vmlinuz).
    public var kernel: String
    /// The gzip'd newc cpio initramfs.
    public var initramfs: String

    /// Where ci/build-test-guest.sh writes the guest, relative to the repository root.
    public static let cacheDirectory = "ci/cache/guest"

    public init(kernel: String, initramfs: String) { self.kernel = kernel; self.initramfs = initramfs }

    /// The guest under `repositoryRoot`, or a sentence saying what is missing and how to build it.
    public static func locate(repositoryRoot: String) -> Result<TestGuest, TestGuestError> {
        let dir = URL(fileURLWithPath: repositoryRoot).appendingPathComponent(cacheDirectory).path
        let guest = TestGuest(kernel: dir + "/vmlinuz", initramfs: dir + "/initramfs.cpio.gz")
        for file in [guest.kernel, guest.initramfs] where !FileManager.default.isReadableFile(atPath: file) {
            return .failure(TestGuestError("no test guest at \(dir) (\(URL(fileURLWithPath: file).lastPathComponent) is missing); build it with: bash ci/build-test-guest.sh"))
        }
        return .success(guest)
    }

    /// A machine that boots this guest with TCG on a serial console, reboot turned into exit
    /// (so a kernel panic ends QEMU instead of looping).
    public func machine(memoryMiB: Int = 256, cmdline: String, networks: [NetworkAttachment] = []) -> MachineConfig {
        var m = MachineConfig()
        m.memoryMiB = memoryMiB
        m.kernel = kernel
        m.initrd = initramfs
        m.cmdline = cmdline
        m.networks = networks
        m.extraArgs = ["-no-reboot"]
        return m
    }

    /// The kernel command line for the guest's /init: console on ttyS0, quiet, and the guest's
    /// own parameters (see ci/guest/init). Command text may not contain `"` or a newline: the
    /// kernel has no way to escape them. `$`, backquote and `\` are escaped here, so they reach the
    /// command's shell unexpanded.
    public static func cmdline(runs: [(name: String, command: String)] = [], dhcp: Bool = true, shell: Bool = false)
        throws(TestGuestError) -> String {
        // no_timer_check: on a loaded host, TCG can miss the kernel's IO-APIC timer test by chance,
        // and the kernel then panics at boot ("IO-APIC + timer doesn't work!"); skip the test.
        var words = ["console=ttyS0", "quiet", "panic=-1", "no_timer_check"]
        if !dhcp { words.append("sluice.dhcp=0") }
        if shell { words.append("sluice.shell=1") }
        for run in runs {
            guard !run.name.isEmpty, run.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw TestGuestError("command name '\(run.name)' must be letters, digits, '_' or '-'")
            }
            guard !run.command.contains("\""), !run.command.contains("\n") else {
                throw TestGuestError("command '\(run.command)' contains a double quote or a newline, which a kernel command line cannot carry")
            }
            var escaped = ""
            for c in run.command {
                if c == "$" || c == "`" || c == "\\" { escaped.append("\\") }
                escaped.append(c)
            }
            words.append("sluice.run.\(run.name)=\"\(escaped)\"")
        }
        let line = words.joined(separator: " ")
        // arch/x86/include/uapi/asm/setup.h: COMMAND_LINE_SIZE 2048, including the NUL.
        guard line.utf8.count < 2048 else { throw TestGuestError("the kernel command line is \(line.utf8.count) bytes; x86 takes at most 2047") }
        return line
    }
}

/// Why the test guest cannot be used.
public struct TestGuestError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
