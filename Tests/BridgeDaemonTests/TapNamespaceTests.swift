// `sluice bridge` with TAP ports moved into network namespaces: real kernel stacks, real busybox
// udhcpc, real ping, through the engine's switch, router and DHCP server; counters readable
// while it runs; clean shutdown on SIGTERM; tshark reads the capture.
import Foundation
import Testing

@Test func namespacesOnTapPortsLeaseAndPingThroughTheBridge() throws {
    if let why = realNetworkSkipReason() { print("SKIPPED namespacesOnTapPorts: \(why)"); return }
    let dir = try temporaryDirectory("tap-ns")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["a", "b", "c"])
    let tap = (0..<3).map { "slt\(getpid() % 100000)\($0)" }
    let bridge = try RunningBridge(config: """
    name: tapbr
    router:
      ipv4: 10.77.0.1/24
      dhcp: { start: 10.77.0.100, end: 10.77.0.110, lease: 10m }
      interfaces: [ { name: far, ipv4: 10.78.0.1/24 } ]
    taps:
      - { name: \(tap[0]), namespace: \(ns[0]) }
      - { name: \(tap[1]), namespace: \(ns[1]) }
      - { name: \(tap[2]), namespace: \(ns[2]), segment: far }
    control: \(dir)/ctl
    captures:
      - { file: lan.pcap }
    """, directory: dir)
    #expect(bridge.waitForLog("TAP port opened port=tap:\(tap[2]) "), "bridge did not start: \(bridge.log)")

    // Two DHCP clients on lan, a static host on the far subnet.
    let script = dir + "/udhcpc.sh"
    try """
    #!/bin/sh
    [ "$1" = bound ] || exit 0
    ip addr add $ip/$mask dev $interface && ip route replace default via $router
    echo "LEASE $ip router $router lease $lease"
    """.write(toFile: script, atomically: true, encoding: .utf8)
    try sh("chmod +x \(script)")
    var leases: [String] = []
    for i in 0..<2 {
        try sh("ip -n \(ns[i]) link set \(tap[i]) up")
        let out = try sh("ip netns exec \(ns[i]) busybox udhcpc -i \(tap[i]) -s \(script) -n -q -t 5 -T 2")
        let lease = try #require(out.split(separator: "\n").first { $0.hasPrefix("LEASE ") }, "no lease: \(out)")
        leases.append(String(lease.split(separator: " ")[1]))
        #expect(lease.contains("router 10.77.0.1 lease 600"), "\(lease)")
    }
    #expect(Set(leases).count == 2)
    try sh("ip -n \(ns[2]) link set \(tap[2]) up && ip -n \(ns[2]) addr add 10.78.0.5/24 dev \(tap[2]) && ip -n \(ns[2]) route add default via 10.78.0.1")

    // Each other, the router, and across the router.
    let p1 = try sh("ip netns exec \(ns[0]) ping -c 3 -i 0.2 -W 2 \(leases[1])")
    let p2 = try sh("ip netns exec \(ns[1]) ping -c 3 -i 0.2 -W 2 10.77.0.1")
    let p3 = try sh("ip netns exec \(ns[0]) ping -c 3 -i 0.2 -W 2 10.78.0.5")
    for p in [p1, p2, p3] { #expect(p.contains("3 packets transmitted, 3 received"), "\(p)") }
    #expect(p3.contains("ttl=63"), "the router decrements TTL: \(p3)")
    print("ping RTTs through sluice bridge (TAP): " + [p1, p3].compactMap { $0.split(separator: "\n").last.map(String.init) }.joined(separator: " | "))

    // Counters while running.
    let stats = try bridge.stats()
    #expect(stats.contains("dhcp lan: ") && stats.contains("bound"), "\(stats)")
    #expect(stats.contains("port tap:\(tap[0])"), "\(stats)")

    // Clean shutdown, then an independent read of the capture.
    #expect(bridge.stop() == 0, "exit status after SIGTERM; log: \(bridge.log)")
    #expect(bridge.log.contains("shutting down reason=SIGTERM"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/ctl"), "control socket left behind")
    let dhcp = try sh("tshark -r \(dir)/lan.pcap -Y dhcp -T fields -e dhcp.option.dhcp 2>/dev/null")
    #expect(dhcp.split(separator: "\n").filter { $0 == "5" }.count >= 2, "DHCP ACKs in the capture: \(dhcp)")
    let malformed = try sh("tshark -r \(dir)/lan.pcap -Y '_ws.malformed' 2>/dev/null")
    #expect(malformed.isEmpty, "\(malformed)")
}
