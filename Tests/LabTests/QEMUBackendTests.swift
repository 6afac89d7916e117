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

@Test func flowsBecomeSluiceFlowAndIPerf3Servers() throws {
    let scenario = try Scenario.load(path: repositoryRoot + "/scenarios/tcp-udp-flows.yml")
    let plan = try QEMUGuestPlan(scenario, socketDirectory: "/run/x")
    // The DHCP guest that receives the flows is reserved an address, so the client knows it at boot.
    let server = try #require(plan.guests.first { $0.host == "server" })
    let reservations = plan.bridgeConfig.router?.interfaces[0].dhcp?.reservations ?? []
    #expect(reservations == [DHCPConfig.Reservation(mac: server.spec.mac, ipv4: IPv4Address(10, 0, 0, 100))])
    // One iperf3 server per port the guest receives on, before it lingers.
    #expect(server.commands.map(\.text) == [5201, 5202, 5001, 5204].map { "iperf3 --server --port \($0) --json --interval 0.1 --daemon" }
            + ["sleep 3600"])
    let client = try #require(plan.guests.first { $0.host == "client" })
    #expect(client.commands.map(\.name) == ["address", "t0", "t1", "t2", "t3", "linger"])
    // The same iperf3 arguments as netns, through sluice-flow (which retries while the server boots).
    // Same segment: first the ping's ARP wait for the server's guest.
    #expect(client.commands[1].text.hasPrefix("n=0; until arping -q -f -c 1 -w 1 -I eth0 10.0.0.100; do"))
    #expect(client.commands[1].text.hasSuffix("done; sluice-flow --client 10.0.0.100 --port 5201 --parallel 1 --congestion cubic --json --interval 0.1 --bytes 8000000"))
    #expect(client.commands[2].text.hasSuffix("--bytes 4000000 --reverse"))
    #expect(client.commands[3].text.contains("; sluice-flow --client 10.0.0.100 --port 5001 --udp --bitrate 4000000 --length 1000 --blockcount 1000"))
    #expect(client.commands[4].text.contains("--parallel 2 --congestion reno") && client.commands[4].text.hasSuffix("--bytes 8000000"))
    #expect(client.commands.dropFirst().dropLast().allSatisfy { $0.target == IPv4Address(10, 0, 0, 100) })
    #expect(plan.notRun.isEmpty)
    #expect(client.cmdline.utf8.count < 2048 && client.waitsFor.isEmpty)
}

@Test func aFlowToSomethingNotAGuestIsNotRun() throws {
    let text = """
    backends: [sim, qemu]
    nodes:
      br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24 } } }
      a: { kind: host, attach: br0, address: 10.0.0.10/24 }
      b: { kind: host, attach: br0, address: 10.0.0.11/24 }
    timeline:
      - { at: 1s, do: udp, node: a, to: 10.0.0.77, duration: 1s }
      - { at: 2s, do: tcp, node: a, to: b, bytes: 1MB }
    """
    let plan = try QEMUGuestPlan(try Scenario.parse(text, file: "f.yml"), socketDirectory: "/run/x")
    #expect(plan.notRun[0]?.contains("iperf3 needs a server") == true, "\(plan.notRun)")
    #expect(plan.notRun[1] == nil)
    #expect(plan.guests[0].commands.map(\.name) == ["address", "t1", "linger"])
    // A static receiver listens before its address is up (before it answers the sender's ARP).
    #expect(plan.guests[1].commands.map(\.name) == ["iperf3-5202", "address", "linger"])
}

@Test func aTestGuestBuiltWithoutIPerf3IsRefusedForFlows() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-guestenv-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let guest = TestGuest(kernel: dir + "/vmlinuz", initramfs: dir + "/initramfs.cpio.gz")
    #expect(QEMUScenarioRun.lacksIPerf3(guest) == nil)  // no guest.env: nothing to tell
    try "KERNEL_VERSION=6.1\nBUSYBOX=\"BusyBox v1.35.0\"\n".write(toFile: dir + "/guest.env", atomically: true, encoding: .utf8)
    #expect(QEMUScenarioRun.lacksIPerf3(guest)?.contains("rebuild it: bash ci/build-test-guest.sh") == true)
    try "KERNEL_VERSION=6.1\nIPERF3=\"iperf 3.12\"\n".write(toFile: dir + "/guest.env", atomically: true, encoding: .utf8)
    #expect(QEMUScenarioRun.lacksIPerf3(guest) == nil)
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
        // link-down-recovery: the guest's link cut and restored on its port in the bridge (GuestCables);
        // tcp-udp-flows: the guests' iperf3.
        let summary = runScenarios(["dhcp-ping-neighbours.yml", "routed-ping-subnets.yml", "tcp-udp-flows.yml", "link-down-recovery.yml"],
                                   backend: "qemu", tag: "all")
        #expect(summary.passed == 4)
        for run in summary.runs {
            print("qemu \(run.scenarioName): \(Format.duration(run.simulatedDuration)) from boot to the last guest's power-off")
        }
        // The flows between the guests are iperf3's real numbers, not placeholders.
        let flows = summary.runs.first { $0.scenarioName == "tcp-udp-flows" }?.actions ?? []
        var tcp = 0
        for a in flows {
            switch a.result {
            case .tcp(let r)?:
                tcp += 1
                print("qemu tcp-udp-flows \(a.name): \(r.bytesReceived) bytes, \(Format.bitRate(r.throughputBitsPerSecond ?? 0)), "
                      + "\(r.retransmissions) retransmissions, \(r.throughput.count) samples")
                #expect(r.bytesReceived > 0 && (r.throughputBitsPerSecond ?? 0) > 0 && !r.throughput.isEmpty, "\(a.name)")
                #expect(r.streams.count == (a.name == "parallel" ? 2 : 1), "\(a.name)")
            case .udp(let r)?:
                print("qemu tcp-udp-flows \(a.name): \(r.sender.sent) sent, \(r.received) received")
                #expect(r.sender.sent > 0 && r.received > 0 && !r.throughput.isEmpty)
            default:
                Issue.record("\(a.name): no flow result (\(a.description))")
            }
        }
        #expect(tcp == 3)
    }
}
}
