// Impairments on a real bridge port (docs/config.md `impair:`, docs/operating.md `impair`): two
// network namespaces on TAP ports of `sluice bridge`, the first port's cable impaired — from the
// file, then changed live through the control socket — measured with the real tools: ping (delay,
// loss), iperf3 (rate), and tshark captures inside the namespaces (the far side of the cable).
//
// Tolerances (stated here, checked below):
//   delay 20ms both ways  → every ping RTT ≥ 40ms, mean RTT ≤ 40ms + 25ms (a debug build, 2 busy cores)
//   egress loss 25%       → 400 echo requests: loss within 25% ± 10%; the capture inside the impaired
//                           namespace sees exactly the requests the cable delivered (its counter)
//   egress rate 20mbit    → iperf3 TCP for 3 s: 13…21 Mbit/s received
import Foundation
import Testing

@Test func anImpairedTapPortDelaysLosesAndShapesWhatCrossesIt() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "tshark", "iperf3", "ping"]) { print("SKIPPED anImpairedTapPort: \(why)"); return }
    let dir = try temporaryDirectory("impair-tap")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["ia", "ib"])
    let tap = (0..<2).map { "sli\(getpid() % 100000)\($0)" }
    let bridge = try RunningBridge(config: """
    name: impairbr
    taps:
      - { name: \(tap[0]), namespace: \(ns[0]), impair: { delay: 20ms } }
      - { name: \(tap[1]), namespace: \(ns[1]) }
    control: \(dir)/ctl
    """, directory: dir)
    #expect(bridge.waitForLog("TAP port opened port=tap:\(tap[1]) "), "bridge did not start: \(bridge.log)")
    let impairedLine = bridge.log.split(separator: "\n").first { $0.contains(" info port impaired port=tap:\(tap[0]) ") }
    #expect(impairedLine?.contains("impair=\"both: delay 20ms\"") == true, "\(bridge.log)")
    for i in 0..<2 {
        try sh("ip -n \(ns[i]) link set \(tap[i]) up && ip -n \(ns[i]) addr add 10.79.0.\(i + 1)/24 dev \(tap[i])")
    }
    let sluice = sluiceBinary()!
    func impair(_ words: String) throws -> String { try sh("\(sluice) bridge \(bridge.configPath) impair \(words)") }

    // 1. Delay from the file: 20ms each way on a's cable. A capture in b (the far side) has the
    //    replies' response times.
    let farCapture = "\(dir)/b-delay.pcap"
    let capture = try startCapture(namespace: ns[1], interface: tap[1], file: farCapture, seconds: 4)
    let ping = try sh("ip netns exec \(ns[1]) ping -c 20 -i 0.05 -W 2 10.79.0.1")
    stopCapture(capture)
    let rtts = ping.split(separator: "\n").compactMap { line -> Double? in
        guard let r = line.range(of: "time=") else { return nil }
        return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." })
    }
    #expect(rtts.count >= 19, "\(ping)")  // the first may wait for ARP
    let mean = rtts.reduce(0, +) / Double(max(rtts.count, 1))
    #expect(rtts.allSatisfy { $0 >= 40 }, "an RTT under 2 × 20ms: \(rtts)")
    #expect(mean <= 65, "mean RTT \(mean) ms")
    let captured = try sh("tshark -r \(farCapture) -Y 'icmp.type == 0' -T fields -e icmp.resptime 2>/dev/null")
        .split(separator: "\n").compactMap { Double($0) }
    #expect(captured.count >= 19 && captured.allSatisfy { $0 >= 40 }, "response times in b's capture: \(captured)")
    print("impaired TAP port, delay 20ms each way: ping mean RTT \(String(format: "%.1f", mean)) ms (min \(rtts.min() ?? 0)), capture \(captured.count) replies ≥ 40ms")

    // 2. Live: no delay, 25% loss on frames to a. A capture in a sees what the cable delivered.
    let answer = try impair("tap:\(tap[0]) delay=0s egress.loss=25%")
    #expect(answer.hasPrefix("ok: tap:\(tap[0]): ingress: none; egress: loss 25%"), "\(answer)")
    let nearCapture = "\(dir)/a-loss.pcap"
    let before = try deliveredToA(bridge)
    let lossCapture = try startCapture(namespace: ns[0], interface: tap[0], file: nearCapture, seconds: 7)
    let lossy = try sh("ip netns exec \(ns[1]) ping -c 400 -i 0.005 -W 1 10.79.0.1", allowFailure: true)
    stopCapture(lossCapture)
    let stats = try #require(lossy.split(separator: "\n").first { $0.contains("packets transmitted") }, "\(lossy)")
    let received = Int(stats.split(separator: ",")[1].split(separator: " ")[0]) ?? -1
    let loss = 1 - Double(received) / 400
    #expect(abs(loss - 0.25) <= 0.10, "ping loss \(loss): \(stats)")
    let requests = try sh("tshark -r \(nearCapture) -Y 'icmp.type == 8' 2>/dev/null").split(separator: "\n").count
    let delivered = try deliveredToA(bridge) - before
    #expect(requests == received, "a's capture has \(requests) echo requests; \(received) were answered")
    #expect(delivered >= requests, "the cable delivered \(delivered) frames to a, the capture saw \(requests) requests")
    print("impaired TAP port, egress loss 25%: ping loss \(String(format: "%.1f", loss * 100))% of 400; a's capture \(requests) requests")

    // 3. Live: clear, then 20 Mbit/s towards a; iperf3 from b to a.
    #expect(try impair("tap:\(tap[0]) clear").hasPrefix("ok: tap:\(tap[0]): none"))
    #expect(try impair("tap:\(tap[0]) egress.rate=20mbit").contains("egress: rate 20mbit"))
    let server = Process()
    server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    server.arguments = ["netns", "exec", ns[0], "iperf3", "-s", "-1", "-B", "10.79.0.1"]
    server.standardOutput = FileHandle.nullDevice; server.standardError = FileHandle.nullDevice
    try server.run()
    defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }  // -1: it ends after one test
    Thread.sleep(forTimeInterval: 0.5)
    let json = try sh("ip netns exec \(ns[1]) iperf3 -c 10.79.0.1 -t 3 -J")
    let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    let end = report?["end"] as? [String: Any]
    let bits = ((end?["sum_received"] as? [String: Any])?["bits_per_second"] as? Double) ?? 0
    #expect((13e6...21e6).contains(bits), "iperf3 through a 20mbit egress: \(bits / 1e6) Mbit/s")
    print("impaired TAP port, egress rate 20mbit: iperf3 TCP \(String(format: "%.1f", bits / 1e6)) Mbit/s")

    // The stats show the impaired port and its cable's counters; errors are answered, not fatal.
    let lines = try bridge.stats()
    #expect(lines.contains("impair tap:\(tap[0]): ingress: none; egress: rate 20mbit"), "\(lines)")
    let bad = try sh("\(sluice) bridge \(bridge.configPath) impair tap:\(tap[0]) loss=150% 2>&1", allowFailure: true)
    #expect(bad.contains("error:") && bad.contains("probability"), "\(bad)")
    let unknown = try sh("\(sluice) bridge \(bridge.configPath) impair nosuchport delay=1ms 2>&1", allowFailure: true)
    #expect(unknown.contains("error: no port or vhost-user socket 'nosuchport'"), "\(unknown)")
    #expect(bridge.stop() == 0, "\(bridge.log)")
}

/// Frames a's cable delivered towards a so far (the `egress` counters of `--stats`).
private func deliveredToA(_ bridge: RunningBridge) throws -> Int {
    let stats = try bridge.stats()
    guard let line = stats.split(separator: "\n").first(where: { $0.hasPrefix("impair ") }),
          let egress = line.range(of: "egress sent ") else { return 0 }
    let rest = line[egress.upperBound...]
    guard let d = rest.range(of: "delivered ") else { return 0 }
    return Int(rest[d.upperBound...].prefix { $0.isNumber }) ?? 0
}

/// tshark writing `interface` of `namespace` to `file` for `seconds`, started once it is capturing
/// (it says "Capturing on '<interface>'" on stderr; at most 15 s are waited for that). It stops by
/// itself: the test process blocks SIGINT and SIGTERM, and its children inherit that.
private func startCapture(namespace: String, interface: String, file: String, seconds: Int) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    p.arguments = ["netns", "exec", namespace, "tshark", "-i", interface, "-w", file, "-a", "duration:\(seconds)"]
    let errPath = file + ".stderr"
    FileManager.default.createFile(atPath: errPath, contents: nil)
    p.standardOutput = FileHandle.nullDevice
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    try p.run()
    let deadline = Date().addingTimeInterval(15)
    while Date() < deadline, p.isRunning, !((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "").contains("Capturing on") {
        Thread.sleep(forTimeInterval: 0.05)
    }
    Thread.sleep(forTimeInterval: 0.2)
    return p
}

/// Waits for the capture to end by itself (at most 30 s, then SIGKILL).
private func stopCapture(_ p: Process) {
    let deadline = Date().addingTimeInterval(30)
    while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
}
