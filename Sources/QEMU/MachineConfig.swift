// The machine.yml model (docs/machine.md). Accepts the seed project Oathgate's runner schema
// (`machine: {cpu, memory, kernel, disk}`) unchanged and extends it. Values only; parsing is in
// MachineConfig+YAML.swift, the QEMU arguments in QEMUCommandLine.swift.

/// A virtual machine to run under QEMU, validated. Paths are resolved against the machine file's directory.
public struct MachineConfig: Equatable, Sendable {
    /// QEMU machine type (Oathgate's `cpu`): "q35", "pc", "microvm".
    public var machineType: String = "q35"
    /// Guest RAM in MiB (Oathgate's `memory: 512m`); also the size of the shared memfd backend.
    public var memoryMiB: Int = 512
    /// The kernel image to boot directly (`-kernel`); nil boots the disk through the firmware.
    public var kernel: String?
    /// The initial ramdisk (`-initrd`); needs a kernel.
    public var initrd: String?
    /// The kernel command line (`-append`); needs a kernel.
    public var cmdline: String?
    /// A disk image attached as virtio-blk (`-drive file=…,if=virtio`).
    public var disk: String?
    /// The accelerator. TCG by default: KVM hangs at boot on the project's machines (docs/machine.md).
    public var accel: Accelerator = .tcg
    /// Virtual CPUs (`-smp`).
    public var cpus: Int = 1
    /// virtio-net devices, each the client of a bridge's vhost-user socket.
    public var networks: [NetworkAttachment] = []
    /// Where the serial console goes.
    public var console: Console = .stdio
    /// Arguments appended verbatim to the QEMU command line: the escape hatch.
    public var extraArgs: [String] = []

    public init() {}
}

/// QEMU's accelerator (`-machine …,accel=`).
public enum Accelerator: String, Equatable, Sendable, CaseIterable {
    /// Hardware virtualisation through /dev/kvm.
    case kvm
    /// QEMU's software translator: slower, works everywhere.
    case tcg
}

/// The serial console's destination.
public enum Console: Equatable, Sendable {
    /// The terminal QEMU runs in (multiplexed with the QEMU monitor: Ctrl-A X quits, Ctrl-A C toggles).
    case stdio
    /// A log file QEMU writes the console to.
    case file(String)
}

/// One virtio-net device backed by a vhost-user socket served by a bridge (`sluice bridge`).
public struct NetworkAttachment: Equatable, Sendable {
    /// Path of the bridge's vhost-user socket; QEMU connects to it as the client.
    public var socket: String
    /// The NIC's MAC address, lower-case "52:54:00:xx:xx:xx"; by default derived from the socket path.
    public var mac: String
    /// Queue pairs (virtio-net multiqueue); 1 means no multiqueue.
    public var queues: Int = 1
    /// Seconds between QEMU's reconnection attempts when the bridge goes away; 0 disables reconnecting.
    public var reconnect: Int = 1

    public init(socket: String, mac: String? = nil, queues: Int = 1, reconnect: Int = 1) {
        self.socket = socket
        self.mac = mac ?? NetworkAttachment.defaultMAC(socket: socket)
        self.queues = queues
        self.reconnect = reconnect
    }

    /// A locally stable MAC for a socket path: QEMU's 52:54:00 prefix and 24 bits of FNV-1a of the path,
    /// so two guests on one bridge never share the default (QEMU's own default is the same for every guest).
    public static func defaultMAC(socket: String) -> String {
        var hash: UInt32 = 0x811c_9dc5
        for byte in socket.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        let low = [UInt8(truncatingIfNeeded: hash >> 16), UInt8(truncatingIfNeeded: hash >> 8), UInt8(truncatingIfNeeded: hash)]
        return (["52", "54", "00"] + low.map { hex2($0) }).joined(separator: ":")
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}
