// Operating a running `sluice bridge` (docs/operating.md): JSON-lines logs, metrics over the
// control socket and HTTP (checked by Debian's promtool), `--stats --json`, live reload through
// the control socket and SIGHUP, a refused reload that leaves the bridge as it was, and the log's
// rate limit against a guest that connects over and over. Needs no root: one vhost-user socket in
// a temporary directory is all the bridge serves.
import Foundation
import Glibc
import Testing

/// A bridge with a router, a DHCP pool, a vhost-user socket, a control socket and a metrics listener.
private func operationsConfig(_ dir: String, lease: String = "1h", router: String = "10.55.0.1/24") -> String {
    """
    name: opsbr
    router:
      ipv4: \(router)
      dhcp: { start: 10.55.0.100, end: 10.55.0.150, lease: \(lease) }
    vhost-user: [{ socket: \(dir)/vm.sock }]
    control: \(dir)/ctl
    metrics: { listen: 127.0.0.1:0 }
    """
}

/// One HTTP exchange with 127.0.0.1:`port`: sends `request` as is, returns everything read.
private func httpExchange(port: UInt16, _ request: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CommandFailed(command: "socket", status: errno, output: "") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw CommandFailed(command: "connect 127.0.0.1:\(port)", status: errno, output: "") }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// Connects to the unix socket at `path` and closes again at once (a guest that gives up).
private func connectAndClose(_ path: String) {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        let bytes = Array(path.utf8)
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    close(fd)
}

private func promtool() -> String? {
    ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

@Test func aRunningBridgeLogsJSONServesMetricsAndReloads() throws {
    guard let sluice = sluiceBinary() else { print("SKIPPED aRunningBridge…: the sluice binary is not built (swift build)"); return }
    let dir = try temporaryDirectory("ops")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let bridge = try RunningBridge(config: operationsConfig(dir), directory: dir, arguments: ["--log-format", "json", "--log-level", "debug"])
    #expect(bridge.waitForLog("\"event\":\"metrics listening\""), "bridge did not start: \(bridge.log)")

    // Logs: every line one JSON object with time, level and event; the bridge named on each.
    func logObjects() -> [[String: Any]] {
        bridge.log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
    let lines = bridge.log.split(separator: "\n")
    #expect(!lines.isEmpty && logObjects().count == lines.count, "not all JSON: \(bridge.log)")
    for object in logObjects() {
        #expect(object["time"] is String && object["level"] is String && object["event"] is String && object["bridge"] as? String == "opsbr",
                "\(object)")
    }
    let listening = try #require(logObjects().first { $0["event"] as? String == "metrics listening" })
    let address = try #require(listening["address"] as? String)
    let port = try #require(UInt16(address.split(separator: ":").last ?? ""), "\(address)")
    #expect(port != 0)

    // Metrics over HTTP: GET /metrics only, in the text format promtool accepts.
    let scrape = try httpExchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    #expect(scrape.hasPrefix("HTTP/1.1 200 OK\r\n") && scrape.contains("Content-Type: text/plain; version=0.0.4"), "\(scrape.prefix(300))")
    let body = String(scrape[scrape.range(of: "\r\n\r\n")!.upperBound...])
    #expect(body.contains("sluice_bridge_info{bridge=\"opsbr\"} 1"))
    #expect(body.contains("sluice_vhost_user_connections{socket=\"\(dir)/vm.sock\",segment=\"lan\"} 0"), "\(body)")
    #expect(body.contains("sluice_dhcp_leases{segment=\"lan\",state=\"bound\"} 0"))
    #expect(try httpExchange(port: port, "POST /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405 "))
    #expect(try httpExchange(port: port, "GET /secrets HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
    #expect(try httpExchange(port: port, "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 5000)).hasPrefix("HTTP/1.1 431 "))
    if let promtool = promtool() {
        try body.write(toFile: "\(dir)/scrape.txt", atomically: true, encoding: .utf8)
        let said = try sh("\(promtool) check metrics < \(dir)/scrape.txt 2>&1", allowFailure: true)
        #expect(try sh("\(promtool) check metrics < \(dir)/scrape.txt >/dev/null 2>&1; echo $?").hasPrefix("0"), "promtool: \(said)")
        #expect(said.isEmpty, "promtool's findings: \(said)")
    } else {
        print("promtool check skipped: promtool is not installed (Debian package prometheus; ci/setup.sh installs it)")
    }

    // The same counters through the control socket, and as JSON for scripts.
    let metrics = try sh("\(sluice) bridge \(bridge.configPath) --metrics")
    #expect(metrics.hasPrefix("# HELP sluice_bridge_info"), "\(metrics.prefix(200))")
    let json = try sh("\(sluice) bridge \(bridge.configPath) --stats --json")
    let stats = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
    #expect(stats["bridge"] as? String == "opsbr" && stats["guests"] as? Int == 0)
    #expect((stats["metrics"] as? [[String: Any]])?.contains { $0["name"] as? String == "sluice_ports" } == true)

    // A live change: the lease time. Applied, the answer says what changed.
    try operationsConfig(dir, lease: "2h").write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
    let applied = try sh("\(sluice) bridge \(bridge.configPath) --reload")
    #expect(applied.hasPrefix("ok: dhcp on lan: lease 3600"), "\(applied)")
    // A change that cannot be applied live: refused (exit 1), located, and the bridge runs on.
    try operationsConfig(dir, lease: "2h", router: "10.55.0.2/24").write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
    let refused = try sh("\(sluice) bridge \(bridge.configPath) --reload; echo exit=$?")
    #expect(refused.hasPrefix("refused: \(bridge.configPath):3:9: error: router.ipv4"), "\(refused)")
    #expect(refused.contains("fix: ") && refused.contains("exit=1"), "\(refused)")
    #expect(bridge.process.isRunning)
    // SIGHUP reloads too: the lease time back to 1h (the router address restored).
    try operationsConfig(dir, lease: "1h").write(toFile: bridge.configPath, atomically: true, encoding: .utf8)
    kill(bridge.process.processIdentifier, SIGHUP)
    #expect(bridge.waitForLog("lease 7200s -> 3600s"), "\(bridge.log)")
    let after = try sh("\(sluice) bridge \(bridge.configPath) --metrics")
    #expect(after.contains("sluice_reloads_total{result=\"applied\"} 2") && after.contains("sluice_reloads_total{result=\"refused\"} 1"), "\(after)")

    // A guest connecting over and over: 20 "guest connected" lines, then held back and summed up
    // when the window ends (the daemon's timer), with no further connection to carry the count.
    for _ in 0..<60 { connectAndClose("\(dir)/vm.sock") }
    #expect(bridge.waitForLog("\"event\":\"guest disconnected\""))
    #expect(bridge.waitForLog("\"event\":\"suppressed\"", seconds: 5), "no summary when the window ended: \(bridge.log)")
    Thread.sleep(forTimeInterval: 1.5)  // both events' windows (connected, disconnected) have ended
    let connected = logObjects().filter { $0["event"] as? String == "guest connected" }.count
    #expect(connected <= 22, "the rate limit let \(connected) connect lines through")
    let suppressed = logObjects().filter { $0["event"] as? String == "suppressed" && $0["of"] as? String == "guest connected" }
    let heldBack = suppressed.compactMap { ($0["count"] as? String).flatMap(Int.init) }.reduce(0, +)
    #expect(heldBack > 0, "\(suppressed)")
    // Every connect either logged or counted, all before shutdown's flush.
    #expect(connected + heldBack == 60, "\(connected) logged + \(heldBack) held back for 60 connects")
    #expect(bridge.stop() == 0, "\(bridge.log)")
}

@Test func logOptionsAreChecked() throws {
    guard let sluice = sluiceBinary() else { print("SKIPPED logOptionsAreChecked: the sluice binary is not built"); return }
    let dir = try temporaryDirectory("ops-opts")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try operationsConfig(dir).write(toFile: "\(dir)/b.yml", atomically: true, encoding: .utf8)
    let level = try sh("\(sluice) bridge \(dir)/b.yml --log-level loud 2>&1; echo exit=$?")
    #expect(level.contains("--log-level is one of trace, debug, info, notice, warning, error, critical") && level.contains("exit=64"), "\(level)")
    let format = try sh("\(sluice) bridge \(dir)/b.yml --log-format xml 2>&1; echo exit=$?")
    #expect(format.contains("--log-format is text or json") && format.contains("exit=64"), "\(format)")
    let noControl = try sh("\(sluice) bridge \(dir)/b.yml --json 2>&1; echo exit=$?")
    #expect(noControl.contains("--json goes with --stats"), "\(noControl)")

    // --log-level notice: the info lines of a start are left out, the notice of a shutdown is not.
    let bridge = try RunningBridge(config: operationsConfig(dir), directory: dir, arguments: ["--log-level", "notice"])
    let ready = Date().addingTimeInterval(20)
    while Date() < ready, (try? sh("\(sluice) bridge \(bridge.configPath) --stats")) == nil { Thread.sleep(forTimeInterval: 0.05) }
    #expect(bridge.stop() == 0)
    #expect(bridge.log.contains(" notice shutting down reason=SIGTERM bridge=opsbr"), "\(bridge.log)")
    #expect(!bridge.log.contains(" info "), "\(bridge.log)")
}
