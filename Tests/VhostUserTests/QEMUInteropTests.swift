// The server against a real QEMU (qemu-system-x86_64, TCG). No guest kernel is needed: QEMU
// negotiates at start-up, and the virtio-net option ROM (iPXE) drives the NIC when the machine
// boots from the network — it sets up both rings and transmits DHCP requests through them.
// A second test boots the host's Debian kernel and initramfs (a shell as init) so the real Linux
// virtio_net driver runs against the server (about 40 s under TCG).
// Skipped (with the reason printed) where QEMU or a kernel is missing. SLUICE_QEMU_TRACE=1 adds
// QEMU's own vhost trace to /tmp/sluice-qemu-*.log; SLUICE_QEMU_GDB=1 runs the Linux guest's QEMU
// under gdb (a backtrace lands in the log if QEMU crashes).

import Basics
import Glibc
import HostIO
import Testing
import Virtio
@testable import VhostUser

/// Records what a real guest transmits, and echoes it (a loop back) so its receive path runs too.
final class RecordingDatapath: VhostUserServerDelegate {
    weak var server: VhostUserServer?
    var nics: [Int: VirtioNetQueuePair<GuestMemoryRegions>] = [:]
    var transmitted: [[UInt8]] = []
    var delivered = 0
    var started = 0, stopped = 0
    /// The features the guest acknowledged, as the queue pair uses them.
    var features: VirtioFeatures?
    /// The rings' last_avail_idx when the pair stopped: what GET_VRING_BASE answered.
    var stoppedAt: (receive: UInt16, transmit: UInt16)?
    var disconnected: VhostUserError?
    /// Every message the server traced, in order.
    var trace: [String] = []

    /// A server on `path` that traces its messages into the datapath's `trace` and reports to it.
    static func serving(path: String, reactor: Reactor) throws -> (VhostUserServer, RecordingDatapath) {
        let server = try VhostUserServer(path: path, reactor: reactor)
        let datapath = RecordingDatapath()
        server.traceMessages = true
        server.log = { [weak datapath] in datapath?.trace.append($0) }
        datapath.server = server
        server.delegate = datapath
        return (server, datapath)
    }

    func vhostUserQueuePairStarted(_ guest: VhostUserGuestID, pair: Int, nic: VirtioNetQueuePair<GuestMemoryRegions>) {
        nics[pair] = nic
        features = nic.features
        started += 1
    }

    func vhostUserQueuePairStopped(_ guest: VhostUserGuestID, pair: Int) {
        if let nic = nics[pair] { stoppedAt = (nic.receiveQueue.lastAvailIndex, nic.transmitQueue.lastAvailIndex) }
        nics[pair] = nil
        stopped += 1
    }

    func vhostUserKicked(_ guest: VhostUserGuestID, pair: Int, queue: VirtioNetQueueKind) {
        guard let nic = nics[pair] else { return }
        let batch = nic.transmit(limit: 64) { _, frame in
            transmitted.append(Array(frame))
            if case .delivered = nic.receive(frame) { delivered += 1 }
        }
        if batch.notifyGuest { server?.notify(guest, pair: pair, queue: .transmit) }
        if nic.finishReceiveBatch() { server?.notify(guest, pair: pair, queue: .receive) }
    }

    func vhostUserGuestDisconnected(_ guest: VhostUserGuestID, reason: VhostUserError) { disconnected = reason }
}

/// The path of an executable on PATH, or nil.
func executable(_ name: String) -> String? {
    let path = String(cString: getenv("PATH") ?? strdup("/usr/bin:/bin"))
    for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
    return nil
}

/// Starts `arguments[0]` with stdout and stderr to `logPath`; returns its pid.
func spawn(_ arguments: [String], logPath: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    // The child starts with no blocked signals and default dispositions, whatever the test
    // runner's threads block or ignore (else QEMU would never see SIGTERM).
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t(), defaults = sigset_t()
    sigemptyset(&none)
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
    guard rc == 0 else { throw Errno(rawValue: rc) }
    return pid
}

@Suite(.serialized) struct QEMUInteropTests {
    @Test func realQEMUNegotiatesStartsTheRingsAndTransmits() throws {
        guard let qemu = executable("qemu-system-x86_64") else {
            print("QEMUInteropTests skipped: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
            return
        }
        let reactor = try Reactor()
        let path = "/tmp/sluice-qemu-\(getpid()).sock"
        let (server, datapath) = try RecordingDatapath.serving(path: path, reactor: reactor)

        let logPath = "/tmp/sluice-qemu-\(getpid()).log"
        let mac: [UInt8] = [0x52, 0x54, 0x00, 0x5C, 0x1C, 0xE0]
        let pid = try spawn([
            qemu, "-machine", "pc,accel=tcg", "-m", "256M", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "null", "-monitor", "none", "-no-reboot",
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
            "-chardev", "socket,id=c0,path=\(path)",
            "-netdev", "vhost-user,id=n0,chardev=c0",
            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:5c:1c:e0",
            "-boot", "n",
        ] + (getenv("SLUICE_QEMU_TRACE") != nil ? ["-trace", "vhost*", "-trace", "virtio_net*"] : []), logPath: logPath)
        var exited = false
        defer {
            if !exited { kill(pid, SIGKILL); var status: CInt = 0; waitpid(pid, &status, 0) }
        }

        // Until iPXE has transmitted a frame, or 90 s (TCG on a loaded machine is slow).
        let start = reactor.clock.now()
        while datapath.transmitted.isEmpty, reactor.clock.now() - start < .seconds(90) {
            try reactor.runOnce(timeout: .milliseconds(100))
            var status: CInt = 0
            if waitpid(pid, &status, WNOHANG) == pid { exited = true; break }
        }
        let elapsed = reactor.clock.now() - start
        print("QEMU message sequence (\(elapsed)):\n" + datapath.trace.joined(separator: "\n"))
        #expect(!exited, "QEMU exited early; see \(logPath)")
        #expect(datapath.started >= 1, "no queue pair started")
        let frame = try #require(datapath.transmitted.first, "the guest transmitted nothing within 90 s")
        #expect(Array(frame[6..<12]) == mac, "source MAC is the NIC's")
        print("first frame from the guest: \(frame.count) bytes, ethertype 0x\(String(UInt16(frame[12]) << 8 | UInt16(frame[13]), radix: 16))")
        #expect(!datapath.trace.contains { $0.contains(" closed: ") }, "the server closed QEMU's connection")
        #expect(datapath.delivered >= 1, "the echoed frame found a receive buffer the guest posted")

        // QEMU goes away: it stops the rings (GET_VRING_BASE, answered while we keep serving),
        // exits, and the connection ends cleanly with its memory released.
        let traceBeforeStop = datapath.trace.count
        kill(pid, SIGTERM)
        let stopAt = reactor.clock.now()
        while !exited || datapath.disconnected == nil, reactor.clock.now() - stopAt < .seconds(20) {
            try reactor.runOnce(timeout: .milliseconds(20))
            var status: CInt = 0
            if !exited, waitpid(pid, &status, WNOHANG) == pid { exited = true }
        }
        print("after SIGTERM:\n" + datapath.trace[traceBeforeStop...].joined(separator: "\n"))
        #expect(exited, "QEMU did not exit within 20 s of SIGTERM")
        #expect(datapath.disconnected == .peerClosed)
        // QEMU stopped the rings with GET_VRING_BASE before leaving; the answers were the real
        // indices — at least one transmit chain and one receive buffer were consumed.
        #expect(datapath.trace.filter { $0.contains("GET_VRING_BASE") }.count == 2)
        let stoppedAt = try #require(datapath.stoppedAt)
        print("GET_VRING_BASE answered receive \(stoppedAt.receive), transmit \(stoppedAt.transmit)")
        #expect(stoppedAt.transmit >= UInt16(datapath.transmitted.count) && stoppedAt.transmit > 0)
        #expect(stoppedAt.receive >= UInt16(datapath.delivered) && stoppedAt.receive > 0)
        #expect(datapath.nics.isEmpty)
        #expect(server.releaseUnusedMemory() == 0)
    }
}

extension QEMUInteropTests {
    /// A Linux guest (the host's Debian kernel and initramfs, with a shell as init) loads
    /// virtio_net — which acknowledges MRG_RXBUF, EVENT_IDX and INDIRECT_DESC — brings the NIC up
    /// and pings: its ARP requests cross the server.
    @Test func linuxGuestNegotiatesTheFullFeatureSetAndTransmits() throws {
        guard let qemu = executable("qemu-system-x86_64") else {
            print("QEMUInteropTests skipped: qemu-system-x86_64 is not installed")
            return
        }
        guard let kernel = firstFile(in: "/boot", prefix: "vmlinuz-"),
              let initrd = firstFile(in: "/boot", prefix: "initrd.img-") else {
            print("QEMUInteropTests.linuxGuest… skipped: no kernel and initrd in /boot")
            return
        }
        let reactor = try Reactor()
        let path = "/tmp/sluice-qemu-linux-\(getpid()).sock"
        let (server, datapath) = try RecordingDatapath.serving(path: path, reactor: reactor)
        let logPath = "/tmp/sluice-qemu-linux-\(getpid()).log"
        let script = "mkdir -p /proc /sys; mount -t proc proc /proc; mount -t sysfs sys /sys; "
            + "modprobe virtio_pci; modprobe virtio_net; "
            + "ip link set eth0 up; ip addr add 10.9.0.2/24 dev eth0; ping -c 2 -W 1 10.9.0.1; poweroff -f"
        let debugger: [String] = getenv("SLUICE_QEMU_GDB") != nil ? ["/usr/bin/gdb", "-batch", "-ex", "run", "-ex", "bt", "--args"] : []
        let pid = try spawn(debugger + [
            qemu, "-machine", "pc,accel=tcg", "-m", "1G", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "file:\(logPath).console", "-monitor", "none", "-no-reboot",
            "-object", "memory-backend-memfd,id=mem,size=1G,share=on", "-numa", "node,memdev=mem",
            "-chardev", "socket,id=c0,path=\(path)", "-netdev", "vhost-user,id=n0,chardev=c0",
            // vectors=0: QEMU 7.2 with TCG crashes in msix_set_vector_notifiers when vhost starts
            // with MSI-X (a QEMU bug, before any message reaches the back end); INTx avoids it.
            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:5c:1c:e1,vectors=0",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 quiet panic=-1 rdinit=/bin/sh -- -c \"\(script)\"",
        ] + (getenv("SLUICE_QEMU_TRACE") != nil ? ["-trace", "vhost*"] : []), logPath: logPath)
        var exited = false
        defer { if !exited { kill(pid, SIGKILL); var status: CInt = 0; waitpid(pid, &status, 0) } }
        let start = reactor.clock.now()
        var status: CInt = 0
        while !exited, reactor.clock.now() - start < .seconds(300) {
            try reactor.runOnce(timeout: .milliseconds(100))
            if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        }
        print("QEMU wait status: \(status)")
        // Let the server see the disconnect.
        for _ in 0..<20 where datapath.disconnected == nil { try reactor.runOnce(timeout: .milliseconds(50)) }
        print("Linux guest (\(reactor.clock.now() - start)): \(datapath.transmitted.count) frames transmitted, "
              + "\(datapath.delivered) echoed back")
        print(datapath.trace.filter { !$0.contains("VRING_ENABLE") }.joined(separator: "\n"))
        #expect(exited && status == 0, "the guest did not power off within 300 s (wait status \(status)); console in \(logPath).console")
        // Linux's virtio_net takes everything the device offers that QEMU passes through.
        let features = try #require(datapath.features, "no queue pair started")
        print("Linux acknowledged \(features)")
        #expect(features.isSuperset(of: [.version1, .netMergeableRxBuffers, .ringEventIndex, .indirectDescriptors]))
        #expect(datapath.delivered == datapath.transmitted.count, "every echoed frame found a receive buffer")
        #expect(!datapath.trace.contains { $0.contains(" closed: ") })
        let arp = datapath.transmitted.filter { $0.count >= 42 && $0[12] == 0x08 && $0[13] == 0x06 }
        #expect(arp.count >= 1, "no ARP request from the guest; console in \(logPath).console")
    }
}

/// The first file in `directory` whose name starts with `prefix` (sorted), as a path.
func firstFile(in directory: String, prefix: String) -> String? {
    guard let dir = opendir(directory) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.hasPrefix(prefix) { names.append(name) }
    }
    return names.sorted().first.map { "\(directory)/\($0)" }
}
