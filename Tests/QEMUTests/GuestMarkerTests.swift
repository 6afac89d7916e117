import Foundation
import Testing
@testable import QEMU

@Test func markersRoundTrip() {
    let all: [GuestMarker] = [
        .initStarted(kernel: "6.1.0-56-amd64"), .modulesLoaded(["virtio", "virtio_net"]), .modulesLoaded([]),
        .moduleFailed("virtio_net"), .networkUp(interface: "eth0", mac: "52:54:00:12:34:56"), .noNetwork,
        .dhcpBound("10.0.0.101/24"), .dhcpRenewed("10.0.0.101/24"), .dhcpFailed(interface: "eth0"),
        .dhcpLease(address: "10.0.0.101/24", fields: ["server": "10.0.0.1", "router": "10.0.0.1", "dns": "10.0.0.1,9.9.9.9", "lease": "3600"]),
        .runStarted("ping"), .result(name: "ping", exitCode: 0), .result(name: "x", exitCode: 127), .done,
    ]
    for m in all { #expect(GuestMarker(line: m.line) == m, "\(m.line)") }
}

@Test func markersAfterOtherOutputAndNonMarkers() {
    #expect(GuestMarker(line: "Booting from ROM..SLUICE-INIT-START 6.1.0") == .initStarted(kernel: "6.1.0"))
    #expect(GuestMarker(line: "SLUICE-RESULT ping") == nil)
    #expect(GuestMarker(line: "SLUICE-RESULT ping x") == nil)
    #expect(GuestMarker(line: "SLUICE-BOGUS") == nil)
    // The lease line as ci/guest/udhcpc.script prints it; a field without '=' is not a lease line.
    #expect(GuestMarker(line: "SLUICE-DHCP-LEASE 10.0.0.100/24 server=10.0.0.1 router=- dns=- lease=600")
            == .dhcpLease(address: "10.0.0.100/24", fields: ["server": "10.0.0.1", "router": "-", "dns": "-", "lease": "600"]))
    #expect(GuestMarker(line: "SLUICE-DHCP-LEASE 10.0.0.100/24 router") == nil)
    #expect(GuestMarker(line: "SLUICE-DHCP-LEASE") == nil)
    #expect(GuestMarker(line: "[    4.5] reboot: Power down") == nil)
}

@Test func transcriptSplitsLinesAndDropsTerminalEscapes() {
    let t = ConsoleTranscript()
    t.append(Array("SeaBIOS\r\nBooting from ROM..\u{1b}c\u{1b}[?7l\u{1b}[2J".utf8))
    t.append(Array("\nSLUICE-DHCP-OK 10.0.2.15/24\r\nSLUICE-RES".utf8))
    #expect(t.lines == ["SeaBIOS", "Booting from ROM..", "SLUICE-DHCP-OK 10.0.2.15/24"])
    t.append(Array("ULT a 3".utf8))
    t.finish()
    #expect(t.markers == [.dhcpBound("10.0.2.15/24"), .result(name: "a", exitCode: 3)])
    #expect(t.isFinished)
}

@Test func waitingSeesLinesFromAnotherThread() {
    let t = ConsoleTranscript()
    let writer = Thread {
        for i in 0..<5 { t.append(Array("line \(i)\n".utf8)); Thread.sleep(forTimeInterval: 0.01) }
        t.append(Array("SLUICE-RESULT probe 0\n".utf8))
    }
    writer.start()
    #expect(t.waitForMarker(timeout: .seconds(60)) { if case .result = $0 { true } else { false } } == .result(name: "probe", exitCode: 0))
    #expect(t.waitForLine(timeout: .milliseconds(50)) { $0 == "never" } == nil, "times out")
    t.finish()
    #expect(t.waitForLine(timeout: .seconds(60)) { $0 == "never" } == nil, "ends with the output")
}

@Test func guestCommandLineEscapesForTheGuestShell() throws {
    let line = try TestGuest.cmdline(runs: [("probe", "echo $HOME `id` a\\b"), ("two", "true")], dhcp: false)
    #expect(line == #"console=ttyS0 quiet panic=-1 no_timer_check sluice.dhcp=0 sluice.run.probe="echo \$HOME \`id\` a\\b" sluice.run.two="true""#)
    #expect(throws: TestGuestError.self) { try TestGuest.cmdline(runs: [("q", "echo \"hi\"")]) }
    #expect(throws: TestGuestError.self) { try TestGuest.cmdline(runs: [("bad name", "true")]) }
    #expect(throws: TestGuestError.self) { try TestGuest.cmdline(runs: [("long", String(repeating: "x", count: 2100))]) }
}
