// MachineConfig → the qemu-system-x86_64 argument vector. Pure: no files are read, nothing runs.
// Reference: QEMU 7.2 "Invocation" (qemu-system-x86_64 -help) and docs/system/devices/vhost-user.rst.

/// How a machine is started, beyond what its file says (the command line's overrides).
public struct LaunchOptions: Equatable, Sendable {
    /// The QEMU binary, a name looked up on PATH or a path.
    public var executable: String = "qemu-system-x86_64"
    /// Replaces the machine's console (`sluice vm --console-log PATH`).
    public var console: Console?
    /// Detach: QEMU daemonizes itself (`-daemonize`) and writes its pid to this file.
    public var daemonizePidFile: String?

    public init(executable: String = "qemu-system-x86_64", console: Console? = nil, daemonizePidFile: String? = nil) {
        self.executable = executable; self.console = console; self.daemonizePidFile = daemonizePidFile
    }
}

/// A QEMU invocation: the executable and its arguments.
public struct QEMUCommandLine: Equatable, Sendable {
    public var executable: String
    public var arguments: [String]

    /// The command line that runs `machine` with `options`.
    public init(machine: MachineConfig, options: LaunchOptions = LaunchOptions()) {
        executable = options.executable
        var a: [String] = []
        let memory = "\(machine.memoryMiB)M"
        a += ["-machine", "\(machine.machineType),accel=\(machine.accel.rawValue)"]
        a += ["-m", memory, "-smp", "\(machine.cpus)"]
        // vhost-user: "The guest memory must be shared with the backend" — a memfd backend with
        // share=on, bound to the one NUMA node, so the bridge can map it (docs/machine.md).
        a += ["-object", "memory-backend-memfd,id=mem,size=\(memory),share=on", "-numa", "node,memdev=mem"]
        if let kernel = machine.kernel { a += ["-kernel", kernel] }
        if let initrd = machine.initrd { a += ["-initrd", initrd] }
        if let cmdline = machine.cmdline { a += ["-append", cmdline] }
        if let disk = machine.disk {
            a += ["-drive", "file=\(optionValue(disk)),if=virtio" + (diskFormat(disk).map { ",format=\($0)" } ?? "")]
        }
        if options.daemonizePidFile != nil {
            a += ["-display", "none"]        // -nographic would claim stdio, which a daemon closes
        } else {
            a += ["-nographic"]
        }
        switch options.console ?? machine.console {
        case .stdio:
            // -nographic puts the monitor on stdio too; "mon:" multiplexes both (Ctrl-A C switches,
            // Ctrl-A X quits). A plain "-serial stdio" is refused: "cannot use stdio by multiple character devices".
            a += ["-serial", "mon:stdio"]
        case .file(let path):
            a += ["-serial", "file:\(path)", "-monitor", "none"]
        }
        for (i, net) in machine.networks.enumerated() {
            var chardev = "socket,id=chr\(i),path=\(optionValue(net.socket))"
            if net.reconnect > 0 { chardev += ",reconnect=\(net.reconnect)" }
            var netdev = "vhost-user,id=net\(i),chardev=chr\(i)"
            // romfile= (empty): no iPXE option ROM; these NICs are never booted from.
            var device = "virtio-net-pci,netdev=net\(i),mac=\(net.mac),romfile="
            if net.queues > 1 { netdev += ",queues=\(net.queues)" }
            if machine.accel == .tcg {
                // Without KVM there is no irqfd, and QEMU 7.2 (Debian 12) dereferences its missing
                // irqfd table in msix_set_vector_notifiers when a Linux guest starts a vhost-user
                // NIC with MSI-X: it segfaults. INTx (vectors=0) avoids that path.
                device += net.queues > 1 ? ",mq=on,vectors=0" : ",vectors=0"
            } else if net.queues > 1 {
                // One MSI-X vector per queue (RX and TX per pair), one for config, one for control.
                device += ",mq=on,vectors=\(2 * net.queues + 2)"
            }
            a += ["-chardev", chardev, "-netdev", netdev, "-device", device]
        }
        if let pidFile = options.daemonizePidFile { a += ["-daemonize", "-pidfile", pidFile] }
        a += machine.extraArgs
        arguments = a
    }

    /// The whole command, quoted for a POSIX shell (for `sluice vm --print-command` and logs).
    public var shellCommand: String {
        ([executable] + arguments).map(shellQuoted).joined(separator: " ")
    }
}

/// QEMU's option syntax separates key=value pairs with commas; a comma inside a value is doubled.
func optionValue(_ s: String) -> String { s.replacingOccurrences(of: ",", with: ",,") }

/// The image format named by a disk's extension; nil lets QEMU probe (it warns for raw images).
func diskFormat(_ path: String) -> String? {
    let lower = path.lowercased()
    if lower.hasSuffix(".qcow2") { return "qcow2" }   // ".qcow" may be either version: probe it
    if lower.hasSuffix(".raw") || lower.hasSuffix(".img") { return "raw" }
    return nil
}

/// `s` as one word for a POSIX shell: bare when it is safe, else in single quotes.
func shellQuoted(_ s: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@%+")
    if !s.isEmpty && s.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
