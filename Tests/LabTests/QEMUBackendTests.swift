// The qemu backend: how a scenario becomes guests' kernel command lines (no QEMU needed), and the
// scenarios for every backend run with real QEMU guests on a BridgeDaemon (skipped, with the
// reason printed, where QEMU or the test guest is missing).
import Basics
import Engine
import Foundation
import QEMU
import Testing
import Wire
@testable import Lab

@Test func aScenarioBecomesGuestCommandLines() throws {
    let scenario = try Scenario.load(path: repositoryRoot + "/scenarios/dhcp-ping-neighbours.yml")
    let plan = try QEMUGuestPlan(scenario, socketDirectory: "/run/x")
    #expect(plan.guests.map(\.host) == ["vm1", "vm2"])
    // A socket per guest (its port carries the guest's link); neither link here is impaired.
    #expect(plan.bridgeConfig.vhostUser == [VhostUserSocketConfig(path: "/run/x/vm1.sock", segment: "lan"),
                                            VhostUserSocketConfig(path: "/run/x/vm2.sock", segment: "lan")])
    // vm1 pings vm2, which takes its lease by DHCP: vm2 gets a reservation so vm1 knows where to ping.
    let vm2 = try #require(scenario.node(named: "vm2")?.host)
    let reservations = plan.bridgeConfig.router?.interfaces[0].dhcp?.reservations ?? []
    #expect(reservations == [DHCPConfig.Reservation(mac: vm2.mac, ipv4: IPv4Address(10, 0, 0, 100))])
    let vm1 = plan.guests[0]
    #expect(vm1.dhcp && vm1.dhcpEntry == 0)
    // In the order the timeline starts them: the router (gw1), then vm2 (peer) after waiting for it.
    #expect(vm1.commands.map(\.name) == ["t2", "t4", "linger"])
    #expect(vm1.waitsFor.isEmpty && vm1.lingers)  // same segment: the ARP wait is enough
    #expect(vm1.commands[0].text == "echo SLUICE-PING-START; ping -c 5 -i 0.200000 -W 1 -s 56 10.0.0.1")
    #expect(vm1.commands[1].text.hasPrefix("n=0; until arping -q -f -c 1 -w 1 -I eth0 10.0.0.100; do"))
    #expect(vm1.commands[1].target == IPv4Address(10, 0, 0, 100))
    #expect(vm1.cmdline.contains("sluice.run.t4=\"n=0; until arping") && vm1.cmdline.contains("\\$((n+1))"))
    #expect(!vm1.cmdline.contains("sluice.dhcp=0"))
    #expect(plan.notRun.isEmpty)
}

@Test func staticGuestsConfigureThemselvesFirst() throws {
    let scenario = try Scenario.load(path: repositoryRoot + "/scenarios/routed-ping-subnets.yml")
    let plan = try QEMUGuestPlan(scenario, socketDirectory: "/run/x")
    let server = try #require(plan.guests.first { $0.host == "server" })
    #expect(!server.dhcp && server.cmdline.contains("sluice.dhcp=0"))
    #expect(server.commands.map(\.name) == ["address", "t1", "linger"])
    #expect(server.commands[0].text == "ip addr add 10.0.1.10/24 dev eth0 && ip route add default via 10.0.1.1")
    #expect(server.socket == "/run/x/server.sock")
    let client = try #require(plan.guests.first { $0.host == "client" })
    // A static target needs no reservation and no wait; TTL 1 reaches busybox's -t.
    #expect(client.commands.count == 3 && client.commands[1].text.hasSuffix("-s 56 -t 1 10.0.1.10"))
    #expect(!client.commands[0].text.contains("arping"))
    // The server is on another segment: the client boots once the server is ready.
    #expect(client.waitsFor == ["server"] && server.waitsFor.isEmpty)
    #expect(plan.bridgeConfig.router?.interfaces.allSatisfy { $0.dhcp?.reservations.isEmpty ?? true } == true)
    #expect(Set(plan.bridgeConfig.vhostUser.map(\.segment)) == ["lan", "servers"])
}

@Test func aGuestsLinkBecomesItsPortsImpairments() throws {
    let scenario = try Scenario.load(path: repositoryRoot + "/scenarios/ping-loss-delay-jitter.yml")
    let plan = try QEMUGuestPlan(scenario, socketDirectory: "/run/x")
    // links: [{ between: [vm1, br0], delay: 20ms, jitter: 5ms, loss: 10% }]: vm1's port, both ways.
    let vm1 = try #require(plan.bridgeConfig.vhostUser.first { $0.path == "/run/x/vm1.sock" })
    let impairment = try #require(vm1.impair)
    #expect(impairment.summary == "both: delay 20ms jitter 5ms loss 10%")
    #expect(plan.bridgeConfig.vhostUser.first { $0.path == "/run/x/vm2.sock" }?.impair == nil)
    #expect(plan.guests.first { $0.host == "vm1" }?.link?.index == 0)
    // A link written bridge-first: its forward direction is what the guest receives (egress).
    var forward = LinkImpairments(); forward.delay = .milliseconds(7)
    let swapped = QEMUGuestPlan.portImpairment(forward: forward, reverse: .none, hostIsA: false, up: false)
    #expect(swapped.egress.delay == .milliseconds(7) && swapped.ingress.delay == .zero && !swapped.up)
}

extension RealBackendRuns { @Suite struct QEMUBackendRuns {
    @Test func scenariosForEveryBackendPassOnQEMU() {
        if let why = QEMUBackend.unavailableReason() { print("SKIPPED qemu runs: \(why)"); return }
        // link-down-recovery: the guest's link cut and restored on its port in the bridge (GuestCables).
        let summary = runScenarios(["dhcp-ping-neighbours.yml", "routed-ping-subnets.yml", "link-down-recovery.yml"], backend: "qemu", tag: "all")
        #expect(summary.passed == 3)
        for run in summary.runs {
            print("qemu \(run.scenarioName): \(Format.duration(run.simulatedDuration)) from boot to the last guest's power-off")
        }
    }
}
}
