// Real QEMU guests (TCG, the project's test guest) on `sluice bridge` over vhost-user: two guests
// lease addresses from the bridge and ping each other and the router; a network namespace on the
// far subnet (TAP port) reaches a guest through the router; a guest's QEMU is restarted and its
// networking comes back without restarting the bridge; tshark reads the capture.
import Foundation
import QEMU
import Testing

func guestSkipReason() -> String? {
    if let why = realNetworkSkipReason(needing: ["ip", "tshark", "qemu-system-x86_64"]) { return why }
    if case .failure(let e) = TestGuest.locate(repositoryRoot: repositoryRoot) {
        return "no test guest (\(e)); build it with: bash ci/build-test-guest.sh"
    }
    return nil
}

/// Boots the test guest on `socket` with `mac`, running `runs` in order; the transcript collects its console.
func bootGuest(_ guest: TestGuest, socket: String, mac: String, runs: [(String, String)]) throws -> (QEMUProcess, ConsoleTranscript) {
    let machine = guest.machine(cmdline: try TestGuest.cmdline(runs: runs), networks: [NetworkAttachment(socket: socket, mac: mac)])
    let transcript = ConsoleTranscript()
    return (try QEMULauncher.start(QEMUCommandLine(machine: machine), console: .transcript(transcript)), transcript)
}

func result(_ t: ConsoleTranscript, _ name: String) -> Int? {
    guard case .result(_, let code)? = t.waitForMarker(timeout: .seconds(240), where: {
        if case .result(let n, _) = $0 { return n == name } else { return false }
    }) else { return nil }
    return code
}

@Test func qemuGuestsLeasePingAndReconnectThroughTheBridge() throws {
    if let why = guestSkipReason() { print("SKIPPED qemuGuests: \(why)"); return }
    let guest = try TestGuest.locate(repositoryRoot: repositoryRoot).get()
    let dir = try temporaryDirectory("qemu-br")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["far"])
    let tap = "slq\(getpid() % 100000)"
    let socket = dir + "/br0.sock"
    let bridge = try RunningBridge(config: """
    name: qbr
    router:
      ipv4: 10.70.0.1/24
      dhcp:
        start: 10.70.0.100
        end: 10.70.0.120
        reservations:
          - { mac: "52:54:00:00:70:01", ipv4: 10.70.0.11 }
          - { mac: "52:54:00:00:70:02", ipv4: 10.70.0.12 }
      interfaces: [ { name: far, ipv4: 10.71.0.1/24 } ]
    vhost-user:
      - { socket: \(socket) }
    taps:
      - { name: \(tap), namespace: \(ns[0]), segment: far }
    control: \(dir)/ctl
    captures:
      - { file: lan.pcap }
    """, directory: dir)
    #expect(bridge.waitForLog("TAP port opened port=tap:\(tap) "), "bridge did not start: \(bridge.log)")
    try sh("ip -n \(ns[0]) link set \(tap) up && ip -n \(ns[0]) addr add 10.71.0.5/24 dev \(tap) && ip -n \(ns[0]) route add default via 10.71.0.1")

    // Each guest waits for the other to answer, then pings it, the router and the far host; it
    // lingers so the far host can reach it.
    let waitFor = { (ip: String) in "for i in $(seq 120); do ping -c 1 -W 1 \(ip) >/dev/null && break; done; ping -c 3 \(ip)" }
    let (vm1, t1) = try bootGuest(guest, socket: socket, mac: "52:54:00:00:70:01",
                                  runs: [("peer", waitFor("10.70.0.12")), ("router", "ping -c 3 10.70.0.1"),
                                         ("far", "ping -c 3 10.71.0.5"), ("linger", "sleep 20")])
    let (vm2, t2) = try bootGuest(guest, socket: socket, mac: "52:54:00:00:70:02",
                                  runs: [("peer", waitFor("10.70.0.11")), ("linger", "sleep 20")])
    defer { _ = vm1.stop(); _ = vm2.stop() }

    #expect(t1.waitForMarker(timeout: .seconds(240)) { $0 == .dhcpBound("10.70.0.11/24") } != nil, "vm1: \(t1.lines.suffix(20))")
    #expect(t2.waitForMarker(timeout: .seconds(240)) { $0 == .dhcpBound("10.70.0.12/24") } != nil, "vm2: \(t2.lines.suffix(20))")
    #expect(result(t1, "peer") == 0, "vm1 → vm2: \(t1.lines.suffix(15))")
    #expect(result(t2, "peer") == 0, "vm2 → vm1: \(t2.lines.suffix(15))")
    #expect(result(t1, "router") == 0, "vm1 → router: \(t1.lines.suffix(15))")
    #expect(result(t1, "far") == 0, "vm1 → far namespace host: \(t1.lines.suffix(15))")
    let rtts = t1.lines.filter { $0.contains("round-trip") }
    print("QEMU guest ping RTTs (vm1: peer, router, far): \(rtts.joined(separator: " | "))")

    // The far namespace host reaches the guest across the router.
    let fromFar = try sh("ip netns exec \(ns[0]) ping -c 3 -W 3 10.70.0.11", allowFailure: true)
    #expect(fromFar.contains("3 received"), "far host → vm1: \(fromFar)")
    let stats = try bridge.stats()
    #expect(stats.contains("2 guest(s) connected"), "\(stats)")

    // vm1 powers off; a new QEMU on the same socket gets its networking back, bridge untouched.
    #expect(vm1.wait(timeout: .seconds(120)) != nil, "vm1 did not power off")
    let (again, t3) = try bootGuest(guest, socket: socket, mac: "52:54:00:00:70:01", runs: [("router", "ping -c 3 10.70.0.1")])
    defer { _ = again.stop() }
    #expect(t3.waitForMarker(timeout: .seconds(240)) { $0 == .dhcpBound("10.70.0.11/24") } != nil, "restarted vm1: \(t3.lines.suffix(20))")
    #expect(result(t3, "router") == 0, "restarted vm1 → router: \(t3.lines.suffix(15))")
    #expect(bridge.process.isRunning, "the bridge kept running")
    #expect(bridge.log.contains("disconnected"), "the first vm1's disconnect was seen")

    // An independent read of the capture.
    #expect(bridge.stop() == 0)
    let decoded = try sh("tshark -r \(dir)/lan.pcap -T fields -e frame.protocols 2>/dev/null")
    #expect(decoded.contains("dhcp") && decoded.contains("icmp"), "capture lacks DHCP/ICMP")
    let malformed = try sh("tshark -r \(dir)/lan.pcap -Y '_ws.malformed' 2>/dev/null")
    #expect(malformed.isEmpty, "\(malformed)")
}
