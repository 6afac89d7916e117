// Live reload of a real bridge under traffic (docs/operating.md): a namespace pings across
// the bridge's TAP ports the whole time while the DHCP pool, lease time, DNS, static routes,
// switch aging and captures change through `sluice bridge --reload`, and while a change that
// cannot be applied live (the router's address) is refused. Not one ping is lost, the lease given
// before the reload is still held, and a client that asks after it gets an address from the new
// pool with the new lease time.
import Foundation
import Testing

@Test func reloadUnderPingKeepsTrafficAndLeasesAndRefusesARouterMove() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "busybox", "tshark", "ping"]) {
        print("SKIPPED reloadUnderPing: \(why)"); return
    }
    let dir = try temporaryDirectory("reload")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["ra", "rb", "rc"])  // names unlike the other tests' (they run at once)
    let tap = (0..<3).map { "slr\(getpid() % 100000)\($0)" }
    func config(pool: (Int, Int), lease: String, router: String = "10.79.0.1/24", extra: String = "") -> String {
        """
        name: reloadbr
        router:
          ipv4: \(router)
          dhcp: { start: 10.79.0.\(pool.0), end: 10.79.0.\(pool.1), lease: \(lease), dns: [10.79.0.53] }
        \(extra)
        taps:
          - { name: \(tap[0]), namespace: \(ns[0]) }
          - { name: \(tap[1]), namespace: \(ns[1]) }
          - { name: \(tap[2]), namespace: \(ns[2]) }
        control: \(dir)/ctl
        """
    }
    let bridge = try RunningBridge(config: config(pool: (100, 110), lease: "10m"), directory: dir)
    #expect(bridge.waitForLog("TAP port opened port=tap:\(tap[2]) "), "bridge did not start: \(bridge.log)")
    let sluice = sluiceBinary()!

    let script = dir + "/udhcpc.sh"
    try """
    #!/bin/sh
    [ "$1" = bound ] || exit 0
    ip addr add $ip/$mask dev $interface && ip route replace default via $router
    echo "LEASE $ip router $router lease $lease dns $dns"
    """.write(toFile: script, atomically: true, encoding: .utf8)
    try sh("chmod +x \(script)")
    func lease(_ i: Int) throws -> [String] {
        try sh("ip -n \(ns[i]) link set \(tap[i]) up")
        let out = try sh("ip netns exec \(ns[i]) busybox udhcpc -i \(tap[i]) -s \(script) -n -q -t 5 -T 2")
        let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("LEASE ") }, "no lease: \(out)")
        return line.split(separator: " ").map(String.init)
    }
    let first = try lease(0)
    #expect(first[5] == "600", "\(first)")
    try sh("ip -n \(ns[1]) link set \(tap[1]) up && ip -n \(ns[1]) addr add 10.79.0.5/24 dev \(tap[1])")

    // 40 pings, 0.1 s apart, across the bridge while it reloads.
    let ping = Process()
    ping.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    ping.arguments = ["netns", "exec", ns[0], "ping", "-c", "40", "-i", "0.1", "-W", "2", "10.79.0.5"]
    let pingOutput = Pipe()
    ping.standardOutput = pingOutput; ping.standardError = pingOutput
    try ping.run()
    Thread.sleep(forTimeInterval: 1)

    let changed = config(pool: (120, 130), lease: "20m", extra: """
      routes: [{ to: 10.90.0.0/16, via: 10.79.0.5 }]
    switch: { aging: 120s }
    captures: [{ file: after.pcap }]
    """)
    try changed.write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
    let applied = try sh("\(sluice) bridge \(bridge.configPath) --reload")
    #expect(applied.hasPrefix("ok: ") && applied.contains("pool 10.79.0.100-10.79.0.110 -> 10.79.0.120-10.79.0.130")
            && applied.contains("static routes: 0 -> 1") && applied.contains("capture after.pcap on lan started"), "\(applied)")
    Thread.sleep(forTimeInterval: 0.5)

    try config(pool: (120, 130), lease: "20m", router: "10.79.0.2/24").write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
    let refused = try sh("\(sluice) bridge \(bridge.configPath) --reload; echo exit=$?")
    #expect(refused.hasPrefix("refused: \(bridge.configPath):3:9: error: router.ipv4") && refused.contains("exit=1"), "\(refused)")
    try changed.write(toFile: bridge.configPath, atomically: true, encoding: .utf8)

    // A client asking now gets the new pool and lease time; the first lease is still held.
    let second = try lease(2)
    let address = try #require(second.count > 1 ? second[1] : nil)
    let last = Int(address.split(separator: ".").last ?? "") ?? 0
    #expect((120...130).contains(last) && second[5] == "1200", "\(second)")

    ping.waitUntilExit()
    let pinged = String(decoding: pingOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(pinged.contains("40 packets transmitted, 40 received"), "pings lost across the reload: \(pinged)\n\(bridge.log)")

    let stats = try sh("\(sluice) bridge \(bridge.configPath) --stats")
    #expect(stats.contains("dhcp lan: \(first[1]) bound"), "the first lease is kept: \(stats)")
    #expect(stats.contains("dhcp lan: \(address) bound"), "\(stats)")
    #expect(stats.contains("port tap:\(tap[0])"), "no port was dropped: \(stats)")
    #expect(bridge.stop() == 0, "\(bridge.log)")
    let captured = try sh("tshark -r \(dir)/after.pcap -Y icmp 2>/dev/null | wc -l")
    #expect((Int(captured.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "the capture started by the reload recorded the pings")
    #expect(bridge.log.contains("reload applied") && bridge.log.contains("reload refused"), "\(bridge.log)")
}
