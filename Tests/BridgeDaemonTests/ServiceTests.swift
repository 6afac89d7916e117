// `sluice bridge` as a service: READY=1 / WATCHDOG=1 / STOPPING=1 reach a fake $NOTIFY_SOCKET;
// its sockets keep their configured modes under umask 000 (an unprivileged user cannot connect
// with the defaults, a member of the configured group can, an allow-list turns away others);
// a socket in a world-writable directory is refused with a located error; the units pass
// `systemd-analyze verify` after `packaging/install.sh` puts them in place.
import Foundation
import Testing

/// A unix datagram socket bound at `path`, as systemd's notify socket is.
final class FakeNotifySocket {
    let fd: Int32
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let r = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, r == 0 else { throw CommandFailed(command: "bind \(path)", status: errno, output: "") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
    /// Datagrams received until `seconds` pass or `until` holds for what was received.
    func receive(seconds: Double, until: ([String]) -> Bool) -> [String] {
        var got: [String] = []
        let end = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < end, !until(got) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { got.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
        }
        return got
    }
    deinit { close(fd) }
}

@Test func bridgeTellsAFakeServiceManagerItIsReadyAliveAndStopping() throws {
    guard sluiceBinary() != nil else { print("SKIPPED notify: the sluice binary is not built (swift build)"); return }
    let dir = try temporaryDirectory("notify")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let notify = try FakeNotifySocket(path: dir + "/notify")
    let bridge = try RunningBridge(config: leaseBridgeConfig(dir), directory: dir,
                                   environment: ["NOTIFY_SOCKET": dir + "/notify", "WATCHDOG_USEC": "200000"])
    let running = notify.receive(seconds: 20) { $0.filter { $0 == "WATCHDOG=1" }.count >= 2 }
    #expect(running.first?.hasPrefix("READY=1\n") == true, "\(running) \(bridge.log)")
    #expect(running.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(running)")
    // READY comes after the sockets are open: the vhost-user socket exists by then.
    #expect(FileManager.default.fileExists(atPath: dir + "/vm.sock"))
    #expect(bridge.stop() == 0)
    let stopping = notify.receive(seconds: 2) { $0.contains("STOPPING=1") }
    #expect(stopping.contains("STOPPING=1"), "\(stopping)")
}

/// Runs `python3` as `nobody` (group `nogroup`, no supplementary groups): connects to `socket`,
/// then reads; prints "connected", "refused <errno name>" or "closed" (the bridge hung up).
func connectAsNobody(_ socket: String) throws -> String {
    let script = """
    socket, sys = __import__("socket"), __import__("sys")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1])
    except OSError as e:
        print("refused", e.strerror); sys.exit(0)
    s.settimeout(1.0)
    try:
        data = s.recv(1)
        print("closed" if data == b"" else "connected")
    except socket.timeout:
        print("connected")
    except OSError:
        print("closed")
    """
    return try sh("setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '\(script)' \(socket)", allowFailure: true)
}

@Test func underUmask000UnprivilegedUsersCannotConnectWithTheDefaults() throws {
    if getuid() != 0 { print("SKIPPED socket permissions: not root (needs to run a client as nobody; CI runs as root)"); return }
    guard sluiceBinary() != nil else { print("SKIPPED socket permissions: the sluice binary is not built"); return }
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), (try? sh("command -v setpriv")) != nil else {
        print("SKIPPED socket permissions: /usr/bin/python3 or setpriv missing (apt-get install python3 util-linux)"); return
    }
    let dir = try temporaryDirectory("sockperm")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try sh("chmod 0755 \(dir)")
    let bridge = try RunningBridge(config: """
    name: permbr
    router: { ipv4: 10.61.0.1/24 }
    vhost-user:
      - { socket: \(dir)/default.sock }
      - { socket: \(dir)/group.sock, group: nogroup }
      - { socket: \(dir)/allow.sock, group: nogroup, allow-users: [root] }
    control: \(dir)/ctl
    """, directory: dir, umask: "000")
    #expect(bridge.waitForLog("socket=\(dir)/allow.sock"), "\(bridge.log)")
    let modes = try sh("stat -c '%n %a %U %G' \(dir)/default.sock \(dir)/group.sock \(dir)/allow.sock \(dir)/ctl")
    #expect(modes.contains("default.sock 660 root root") && modes.contains("group.sock 660 root nogroup")
            && modes.contains("ctl 600 root root"), "\(modes)")
    let denied = try connectAsNobody("\(dir)/default.sock"), deniedControl = try connectAsNobody("\(dir)/ctl")
    #expect(denied.hasPrefix("refused Permission denied"), "\(denied)")
    #expect(deniedControl.hasPrefix("refused Permission denied"), "\(deniedControl)")
    let member = try connectAsNobody("\(dir)/group.sock")
    #expect(member.hasPrefix("connected"), "\(member)")
    // Let in by the file's group, turned away by the peer check.
    let checked = try connectAsNobody("\(dir)/allow.sock")
    #expect(checked.hasPrefix("closed"), "\(checked)")
    #expect(bridge.waitForLog("uid=65534"), "\(bridge.log)")
    #expect(bridge.log.contains("connection refused reason=\"not in allow-users/allow-groups\""), "\(bridge.log)")
    // Root still reads the control socket.
    #expect(try bridge.stats().contains("bridge permbr"))
}

@Test func socketInAWorldWritableDirectoryWithoutStickyBitIsRefused() throws {
    guard let sluice = sluiceBinary() else { print("SKIPPED unsafe socket directory: the sluice binary is not built"); return }
    let dir = try temporaryDirectory("sockdir")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir + "/open", withIntermediateDirectories: true)
    try sh("chmod 0777 \(dir)/open")
    let config = "name: opendir\nrouter: { ipv4: 10.62.0.1/24 }\nvhost-user:\n  - { socket: \(dir)/ok.sock }\n  - { socket: \(dir)/open/vm.sock }\n"
    try config.write(toFile: dir + "/bridge.yml", atomically: true, encoding: .utf8)
    let out = try sh("\(sluice) bridge \(dir)/bridge.yml --state-directory \(dir) 2>&1; echo status=$?", allowFailure: true)
    #expect(out.contains("\(dir)/bridge.yml:5:") && out.contains("world-writable without the sticky bit"), "\(out)")
    #expect(out.contains("fix:") && out.contains("status=2"), "\(out)")
    // With the sticky bit (as /tmp has) it is accepted.
    try sh("chmod 1777 \(dir)/open")
    let bridge = try RunningBridge(config: config, directory: dir, name: "sticky")
    #expect(bridge.waitForLog("socket=\(dir)/open/vm.sock"), "\(bridge.log)")
}

@Test func installedUnitsPassSystemdAnalyzeVerify() throws {
    guard (try? sh("command -v systemd-analyze")) != nil else {
        print("SKIPPED units: systemd-analyze is not installed (apt-get install systemd)"); return
    }
    guard let sluice = sluiceBinary() else { print("SKIPPED units: the sluice binary is not built"); return }
    let dir = try temporaryDirectory("units")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // Installed into a scratch prefix: the units are rewritten to name the binary there.
    let out = try sh("cd \(repositoryRoot) && BINARY=\(sluice) PREFIX=\(dir)/usr SYSCONFDIR=\(dir)/etc UNITDIR=\(dir)/units bash packaging/install.sh")
    #expect(out.contains("installed \(dir)/usr/bin/sluice"), "\(out)")
    for file in ["usr/bin/sluice", "units/sluice-bridge@.service", "units/sluice-wg@.service", "etc/sluice/bridge.yml.example",
                 "usr/share/doc/sluice/operating.md"] {
        #expect(FileManager.default.fileExists(atPath: "\(dir)/\(file)"), "\(file) not installed")
    }
    let unit = try String(contentsOfFile: "\(dir)/units/sluice-bridge@.service", encoding: .utf8)
    #expect(unit.contains("ExecStart=\(dir)/usr/bin/sluice bridge \(dir)/etc/sluice/%i.yml"), "\(unit)")
    try sh("cp \(dir)/units/sluice-bridge@.service \(dir)/units/sluice-bridge@br0.service && cp \(dir)/units/sluice-wg@.service \(dir)/units/sluice-wg@wg0.service")
    let verify = try sh("cd \(dir)/units && systemd-analyze verify --man=no ./sluice-bridge@br0.service ./sluice-wg@wg0.service 2>&1; echo status=$?",
                        allowFailure: true)
    // systemd-analyze prints nothing for sound units; in a container without systemd running it
    // may still warn about the host's own units, which are not ours.
    let ours = verify.split(separator: "\n").filter { $0.contains("sluice") }
    #expect(ours.isEmpty && verify.contains("status=0"), "\(verify)")
    // The sample configuration is one `sluice check` accepts (its group may not exist here).
    let check = try sh("\(sluice) check \(dir)/etc/sluice/bridge.yml.example 2>&1", allowFailure: true)
    #expect(check.contains("ok"), "\(check)")
}

@Test func wgUpTellsAFakeServiceManagerItIsReady() throws {
    if let why = realNetworkSkipReason(needing: ["ip"]) { print("SKIPPED wg notify: \(why)"); return }
    let sluice = sluiceBinary()!
    let dir = try temporaryDirectory("wg-notify")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["wgn"])
    let key = try sh("\(sluice) wg genkey").trimmingCharacters(in: .whitespacesAndNewlines)
    let peer = try sh("\(sluice) wg genkey | \(sluice) wg pubkey").trimmingCharacters(in: .whitespacesAndNewlines)
    try "[Interface]\nPrivateKey = \(key)\nAddress = 203.0.113.9/24\n[Peer]\nPublicKey = \(peer)\nAllowedIPs = 198.18.0.0/15\n"
        .write(toFile: dir + "/wgn0.conf", atomically: true, encoding: .utf8)
    let notify = try FakeNotifySocket(path: dir + "/notify")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = ["netns", "exec", ns[0], sluice, "wg", "up", dir + "/wgn0.conf", "--name", "wgn0"]
    process.environment = ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": dir + "/notify"]) { $1 }
    process.standardOutput = FileHandle.nullDevice; process.standardError = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
    let got = notify.receive(seconds: 20) { !$0.isEmpty }
    #expect(got.first?.hasPrefix("READY=1\n") == true, "\(got)")
    // Ready means up: the interface exists with its address.
    let link = try sh("ip -n \(ns[0]) addr show wgn0")
    #expect(link.contains("203.0.113.9/24"), "\(link)")
}
