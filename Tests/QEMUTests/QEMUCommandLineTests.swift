import Testing
@testable import QEMU

private func machine(_ edit: (inout MachineConfig) -> Void = { _ in }) -> MachineConfig {
    var m = MachineConfig()
    m.kernel = "/k/vmlinuz"
    edit(&m)
    return m
}

/// The values following each occurrence of `flag`.
private func values(_ args: [String], _ flag: String) -> [String] {
    args.indices.filter { args[$0] == flag && $0 + 1 < args.count }.map { args[$0 + 1] }
}

@Test func fullMachineCommandLine() {
    let m = machine {
        $0.machineType = "q35"; $0.memoryMiB = 512; $0.cpus = 2
        $0.initrd = "/k/initrd"; $0.cmdline = "console=ttyS0 quiet"
        $0.disk = "/d/root.qcow2"
        $0.networks = [NetworkAttachment(socket: "/run/br0.sock", mac: "52:54:00:12:34:56")]
        $0.extraArgs = ["-no-reboot"]
    }
    let cmd = QEMUCommandLine(machine: m)
    #expect(cmd.executable == "qemu-system-x86_64")
    #expect(cmd.arguments == [
        "-machine", "q35,accel=tcg", "-m", "512M", "-smp", "2",
        "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-numa", "node,memdev=mem",
        "-kernel", "/k/vmlinuz", "-initrd", "/k/initrd", "-append", "console=ttyS0 quiet",
        "-drive", "file=/d/root.qcow2,if=virtio,format=qcow2",
        "-nographic", "-serial", "mon:stdio",
        "-chardev", "socket,id=chr0,path=/run/br0.sock,reconnect=1",
        "-netdev", "vhost-user,id=net0,chardev=chr0",
        "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,romfile=,vectors=0",
        "-no-reboot",
    ])
}

@Test func memoryBackendMatchesGuestMemory() {
    for mib in [64, 256, 4096] {
        let args = QEMUCommandLine(machine: machine { $0.memoryMiB = mib }).arguments
        #expect(values(args, "-m") == ["\(mib)M"])
        #expect(values(args, "-object") == ["memory-backend-memfd,id=mem,size=\(mib)M,share=on"])
    }
}

@Test func acceleratorGoesOnTheMachine() {
    let args = QEMUCommandLine(machine: machine { $0.machineType = "pc"; $0.accel = .kvm }).arguments
    #expect(values(args, "-machine") == ["pc,accel=kvm"])
}

@Test func everyNetworkGetsItsOwnIDs() {
    let m = machine {
        $0.networks = [NetworkAttachment(socket: "/a"), NetworkAttachment(socket: "/b", reconnect: 0),
                       NetworkAttachment(socket: "/c", queues: 4)]
    }
    let args = QEMUCommandLine(machine: m).arguments
    #expect(values(args, "-chardev") == [
        "socket,id=chr0,path=/a,reconnect=1", "socket,id=chr1,path=/b", "socket,id=chr2,path=/c,reconnect=1"])
    #expect(values(args, "-netdev") == [
        "vhost-user,id=net0,chardev=chr0", "vhost-user,id=net1,chardev=chr1", "vhost-user,id=net2,chardev=chr2,queues=4"])
    let devices = values(args, "-device")
    #expect(devices.count == 3)
    // TCG: INTx, not MSI-X (QEMU 7.2 crashes starting a vhost-user NIC with MSI-X without KVM).
    #expect(devices[0] == "virtio-net-pci,netdev=net0,mac=\(m.networks[0].mac),romfile=,vectors=0")
    #expect(devices[2] == "virtio-net-pci,netdev=net2,mac=\(m.networks[2].mac),romfile=,mq=on,vectors=0")
    // KVM multiqueue: 2 vectors per queue pair, plus config and control.
    let kvm = values(QEMUCommandLine(machine: machine { $0.accel = .kvm; $0.networks = m.networks }).arguments, "-device")
    #expect(kvm[0] == "virtio-net-pci,netdev=net0,mac=\(m.networks[0].mac),romfile=")
    #expect(kvm[2] == "virtio-net-pci,netdev=net2,mac=\(m.networks[2].mac),romfile=,mq=on,vectors=10")
    #expect(Set(devices.map { $0.split(separator: ",")[2] }).count == 3, "MACs are distinct")
}

@Test func consoleToAFileSilencesTheMonitor() {
    let args = QEMUCommandLine(machine: machine { $0.console = .file("/tmp/c.log") }).arguments
    #expect(values(args, "-serial") == ["file:/tmp/c.log"])
    #expect(values(args, "-monitor") == ["none"])
    #expect(args.contains("-nographic"))
    let overridden = QEMUCommandLine(machine: machine(), options: LaunchOptions(console: .file("/x.log"))).arguments
    #expect(values(overridden, "-serial") == ["file:/x.log"])
}

@Test func daemonizeUsesNoDisplayAndAPidFile() {
    let options = LaunchOptions(executable: "/opt/qemu/bin/qemu-system-x86_64", console: .file("/l"), daemonizePidFile: "/l.pid")
    let cmd = QEMUCommandLine(machine: machine { $0.extraArgs = ["-s"] }, options: options)
    #expect(cmd.executable == "/opt/qemu/bin/qemu-system-x86_64")
    #expect(!cmd.arguments.contains("-nographic"))
    #expect(values(cmd.arguments, "-display") == ["none"])
    #expect(values(cmd.arguments, "-pidfile") == ["/l.pid"])
    #expect(cmd.arguments.suffix(4) == ["-daemonize", "-pidfile", "/l.pid", "-s"], "extra args come last")
}

@Test func optionValuesEscapeCommas() {
    let m = machine { $0.disk = "/d/a,b.img"; $0.networks = [NetworkAttachment(socket: "/s/x,y.sock")] }
    let args = QEMUCommandLine(machine: m).arguments
    #expect(values(args, "-drive") == ["file=/d/a,,b.img,if=virtio,format=raw"])
    #expect(values(args, "-chardev") == ["socket,id=chr0,path=/s/x,,y.sock,reconnect=1"])
}

@Test func diskFormatComesFromTheExtensionOrIsProbed() {
    #expect(diskFormat("/a.qcow2") == "qcow2")
    #expect(diskFormat("/a.IMG") == "raw")
    #expect(diskFormat("/a.qcow") == nil)
    #expect(!QEMUCommandLine(machine: machine { $0.disk = "/a.vmdk" }).arguments.contains { $0.contains("format=") })
}

@Test func diskOnlyMachineHasNoKernelArguments() {
    var m = MachineConfig()
    m.disk = "/d.raw"
    let args = QEMUCommandLine(machine: m).arguments
    #expect(!args.contains("-kernel") && !args.contains("-initrd") && !args.contains("-append"))
}

@Test func shellCommandQuotesWhatNeedsIt() {
    let cmd = QEMUCommandLine(machine: machine { $0.cmdline = "console=ttyS0 sluice.run=\"echo it's\"" })
    #expect(cmd.shellCommand.hasPrefix("qemu-system-x86_64 -machine q35,accel=tcg -m 512M "))
    #expect(cmd.shellCommand.contains(" -append 'console=ttyS0 sluice.run=\"echo it'\\''s\"' "))
    #expect(shellQuoted("") == "''")
    #expect(shellQuoted("a b") == "'a b'")
    #expect(shellQuoted("mon:stdio") == "mon:stdio")
}
