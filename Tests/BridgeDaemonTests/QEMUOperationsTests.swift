// Operating `sluice bridge` under a real QEMU guest (TCG, the project's test guest; issue 20's
// "Reload" and "Permissions" checks): the bridge is started under `umask 000`; a QEMU run as an
// unprivileged user is turned away by the default vhost-user socket (0660 root:root) and let in
// by the one whose `group:` is among its supplementary groups; its guest takes a lease, and while
// it pings the router the bridge reloads a changed pool, reservation and lease time (applied:
// the guest's vhost-user connection stays the same one, it keeps its address and renews it with
// the new lease time) and then a router move (refused: the old configuration keeps serving).
@testable import BridgeDaemon
import Basics
import Foundation
import QEMU
import Testing

/// The gid of a group QEMU can be made a member of here ("kvm" on Debian), or nil.
private func memberGroup() -> (name: String, gid: UInt32)? {
    for name in ["kvm", "libvirt-qemu"] { if let g = getgrnam(name) { return (name, g.pointee.gr_gid) } }
    return nil
}

/// QEMU's command line for `machine`, run as nobody:nogroup with `groups` as its only
/// supplementary groups (setpriv execs QEMU, so the process is QEMU itself).
private func unprivileged(_ machine: MachineConfig, groups: [UInt32]) throws -> QEMUCommandLine {
    var command = QEMUCommandLine(machine: machine)
    let qemu = try #require(try? sh("command -v \(command.executable)").trimmingCharacters(in: .whitespacesAndNewlines))
    let groupList = groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")]
    command.arguments = ["--reuid=nobody", "--regid=nogroup"] + groupList + ["--", qemu] + command.arguments
    command.executable = "/usr/bin/setpriv"
    return command
}

@Test func unprivilegedQEMUInTheSocketsGroupLeasesAndKeepsItAcrossReloads() throws {
    if let why = guestSkipReason() { print("SKIPPED QEMU operations: \(why)"); return }
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
        print("SKIPPED QEMU operations: setpriv is missing (apt-get install util-linux)"); return
    }
    guard let group = memberGroup() else { print("SKIPPED QEMU operations: no kvm or libvirt-qemu group to run QEMU in"); return }
    let guest = try TestGuest.locate(repositoryRoot: repositoryRoot).get()
    let dir = try temporaryDirectory("qemu-ops")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try sh("chmod 0755 \(dir)")  // nobody may reach the sockets; the sockets' own modes decide
    let sluice = sluiceBinary()!
    func config(pool: String, lease: String, reservations: String = "[]", router: String = "10.74.0.1/24") -> String {
        """
        name: qopsbr
        router:
          ipv4: \(router)
          dhcp: { \(pool), lease: \(lease), reservations: \(reservations) }
        vhost-user:
          - { socket: \(dir)/default.sock }
          - { socket: \(dir)/group.sock, group: \(group.name) }
        control: \(dir)/ctl
        leases: \(dir)/leases
        """
    }
    let bridge = try RunningBridge(config: config(pool: "start: 10.74.0.100, end: 10.74.0.110", lease: "10s"), directory: dir, umask: "000")
    #expect(bridge.waitForLog("socket=\(dir)/group.sock"), "bridge did not start: \(bridge.log)")
    let modes = try sh("stat -c '%n %a %G' \(dir)/default.sock \(dir)/group.sock")
    #expect(modes.contains("default.sock 660 root") && modes.contains("group.sock 660 \(group.name)"), "\(modes)")

    // The defaults turn an unprivileged QEMU away, even one in the group (it is not the socket's).
    let refusedMachine = guest.machine(cmdline: try TestGuest.cmdline(), networks: [NetworkAttachment(socket: "\(dir)/default.sock", mac: "52:54:00:00:74:09", reconnect: 0)])
    let refusedTranscript = ConsoleTranscript()
    let refused = try QEMULauncher.start(try unprivileged(refusedMachine, groups: [group.gid]), console: .transcript(refusedTranscript))
    let denied = refusedTranscript.waitForLine(timeout: .seconds(60)) { $0.contains("Permission denied") }
    #expect(denied?.contains("\(dir)/default.sock") == true, "QEMU as nobody was not refused: \(refusedTranscript.lines.suffix(5))")
    // Without reconnect=, QEMU gives up at once (with it, it would retry and never get in either).
    let refusedExit = refused.wait(timeout: .seconds(30))
    #expect(refusedExit != nil && refusedExit != .exited(0), "\(String(describing: refusedExit))")

    // A member of the socket's group: connects, leases, pings the router through both reloads.
    let pings = 50
    // TestGuest.cmdline carries no_timer_check (a loaded host's TCG can fail the IO-APIC timer check).
    let machine = guest.machine(cmdline: try TestGuest.cmdline(runs: [
        ("pings", "ping -c \(pings) -W 2 10.74.0.1 | tail -2"), ("address", "cat /run/sluice/dhcp"), ("linger", "sleep 60"),
    ]), networks: [NetworkAttachment(socket: "\(dir)/group.sock", mac: "52:54:00:00:74:01")])
    let transcript = ConsoleTranscript()
    let vm = try QEMULauncher.start(try unprivileged(machine, groups: [group.gid]), console: .transcript(transcript))
    defer { _ = vm.stop() }
    let bound = transcript.waitForMarker(timeout: .seconds(240)) { if case .dhcpBound = $0 { true } else { false } }
    guard case .dhcpBound(let address)? = bound else {
        Issue.record("no lease: \(transcript.lines.suffix(20))\n\(bridge.log)"); return
    }
    #expect(address.hasPrefix("10.74.0.1") && address.hasSuffix("/24"), "\(address)")
    let ip = String(address.split(separator: "/")[0])
    let qemuUser = try sh("ps -o user= -p \(vm.pid)").trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(qemuUser == "nobody", "QEMU runs as \(qemuUser)")
    #expect(transcript.waitForLine(timeout: .seconds(60)) { $0.contains("SLUICE-RUN pings") } != nil)

    func renewals() -> Int { transcript.markers.filter { if case .dhcpRenewed = $0 { true } else { false } }.count }
    func waitForRenewal(after count: Int, seconds: Double = 40) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end { if renewals() > count { return true }; Thread.sleep(forTimeInterval: 0.2) }
        return false
    }
    /// Seconds the lease database gives `ip` from now.
    func remaining() throws -> Int? {
        let now = UInt64(Date().timeIntervalSince1970)
        let text = try String(contentsOfFile: "\(dir)/leases", encoding: .utf8)
        let line = text.split(separator: "\n").last { $0.hasPrefix("lease lan \(ip) bound ") }
        return line.flatMap { UInt64($0.split(separator: " ")[4]) }.map { Int($0) - Int(now) }
    }
    #expect(waitForRenewal(after: 0), "the guest did not renew its 10 s lease: \(transcript.lines.suffix(10))")

    // Applied: a wider pool, a reservation for another guest, a 20 s lease.
    try config(pool: "start: 10.74.0.100, end: 10.74.0.120", lease: "20s",
               reservations: "[{ mac: \"52:54:00:00:74:77\", ipv4: 10.74.0.77 }]").write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
    let applied = try sh("\(sluice) bridge \(bridge.configPath) --reload 2>&1; echo exit=$?")
    #expect(applied.hasPrefix("ok: ") && applied.contains("10.74.0.100-10.74.0.110 -> 10.74.0.100-10.74.0.120")
            && applied.contains("lease 10s -> 20s") && applied.contains("exit=0"), "\(applied)")
    let afterApply = renewals()
    #expect(waitForRenewal(after: afterApply), "no renewal after the reload: \(transcript.lines.suffix(10))\n\(bridge.log)")
    let left = try remaining()
    #expect(left.map { $0 > 12 } == true, "the renewal after the reload did not get the 20 s lease: \(String(describing: left)) s left")
    #expect(transcript.markers.allSatisfy { if case .dhcpRenewed(let a) = $0 { a == address } else { true } }, "the guest's address changed")

    // Refused: the router's address cannot move live; the old configuration keeps serving.
    try config(pool: "start: 10.74.0.100, end: 10.74.0.120", lease: "20s", router: "10.74.0.2/24").write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
    let refusal = try sh("\(sluice) bridge \(bridge.configPath) --reload 2>&1; echo exit=$?")
    #expect(refusal.hasPrefix("refused: \(bridge.configPath):3:9: error: router.ipv4") && refusal.contains("exit=1"), "\(refusal)")
    let afterRefusal = renewals()
    #expect(waitForRenewal(after: afterRefusal), "no renewal after the refused reload: \(transcript.lines.suffix(10))")

    // Every ping answered across both reloads, the lease kept, one connection all along.
    #expect(result(transcript, "pings") == 0, "\(transcript.lines.suffix(10))")
    let summary = transcript.lines.first { $0.contains("packets transmitted") } ?? ""
    #expect(summary.contains("\(pings) packets transmitted, \(pings) packets received"), "pings lost across the reloads: \(summary)")
    #expect(result(transcript, "address") == 0 && transcript.lines.contains(address), "\(transcript.lines.suffix(5))")
    let metrics = try sh("\(sluice) bridge \(bridge.configPath) --metrics")
    #expect(metrics.contains("sluice_vhost_user_connections_total 1\n") && metrics.contains("sluice_vhost_user_disconnections_total 0\n"),
            "the guest reconnected: \(metrics.split(separator: "\n").filter { $0.contains("vhost_user") })")
    #expect(metrics.contains("sluice_reloads_total{result=\"applied\"} 1") && metrics.contains("sluice_reloads_total{result=\"refused\"} 1"))
    // The renewals were appended to the lease database, not written whole each time.
    let appends = metrics.split(separator: "\n").first { $0.hasPrefix("sluice_lease_database_writes_total{kind=\"append\"}") }
    #expect(appends.flatMap { UInt64($0.split(separator: " ").last ?? "") }.map { $0 >= 3 } == true, "\(String(describing: appends))")
    let stats = try bridge.stats()
    #expect(stats.contains("dhcp lan: \(ip) bound"), "\(stats)")
    // The guest goes; its one connection ends with it.
    _ = vm.stop()
    #expect(bridge.waitForLog("guest disconnected"), "\(bridge.log)")
    #expect(bridge.stop() == 0, "\(bridge.log)")
    #expect(bridge.log.components(separatedBy: " guest connected ").count == 2, "\(bridge.log)")
}
