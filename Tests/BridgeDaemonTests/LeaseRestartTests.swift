// Leases across restarts with real clients: busybox udhcpc in network namespaces, joined to the
// bridge's TAP port through a Linux bridge (so the clients' interfaces survive the TAP being
// recreated by each restart). A host already using the pool's first address makes the probe
// skip it; the bridge is killed with SIGKILL and restarted, the first client renews its own
// address from the restarted bridge (unicast RENEWING at T1), a second client gets another one;
// then a clean restart (SIGTERM) keeps both.
import Foundation
import Testing

@Test func realClientsKeepTheirLeasesAcrossRestartsAndAProbedAddressInUseIsSkipped() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "busybox"]) { print("SKIPPED lease restarts: \(why)"); return }
    let dir = try temporaryDirectory("lease-restart")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["c1", "c2", "h"])
    let tag = getpid() % 100000
    let lb = "slb\(tag)", tap = "slrt\(tag)"
    try sh("ip link add \(lb) type bridge && ip link set \(lb) up")
    defer { _ = try? sh("ip link del \(lb)", allowFailure: true) }
    let client = (0..<3).map { "slv\(tag)\($0)" }
    for i in 0..<3 {
        try sh("ip link add \(client[i])a type veth peer name \(client[i])b netns \(ns[i])")
        try sh("ip link set \(client[i])a master \(lb) up && ip -n \(ns[i]) link set \(client[i])b up")
    }
    // The host that already uses the pool's first address (nobody leased it to it).
    try sh("ip -n \(ns[2]) addr add 10.63.0.100/24 dev \(client[2])b")

    let config = """
    name: restartbr
    router:
      ipv4: 10.63.0.1/24
      dhcp: { start: 10.63.0.100, end: 10.63.0.110, lease: 10s }
    taps: [ { name: \(tap) } ]
    control: \(dir)/ctl
    """
    func start(_ name: String) throws -> RunningBridge {
        let b = try RunningBridge(config: config, directory: dir, name: name)
        #expect(b.waitForLog("port=tap:\(tap)"), "\(name) did not start: \(b.log)")
        try sh("ip link set \(tap) master \(lb) up")
        return b
    }

    // udhcpc's events, one line each: "<event> <ip>".
    let script = dir + "/events.sh"
    try """
    #!/bin/sh
    echo "$1 $ip" >> \(dir)/events-$interface
    case "$1" in bound|renew) ip addr flush dev $interface; ip addr add $ip/$mask dev $interface ;; deconfig) ip addr flush dev $interface ;; esac
    """.write(toFile: script, atomically: true, encoding: .utf8)
    try sh("chmod +x \(script)")
    func events(_ i: Int) -> [String] {
        ((try? String(contentsOfFile: "\(dir)/events-\(client[i])b", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
    func waitFor(_ i: Int, _ what: String, after count: Int, seconds: Double = 20) -> String? {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let line = events(i).dropFirst(count).first(where: { $0.hasPrefix(what + " ") }) { return line }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return nil
    }

    let bridgeA = try start("a")
    // Client 1 runs in the foreground of its own process for the whole test, renewing at T1 (5 s).
    let udhcpc = Process()
    udhcpc.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    udhcpc.arguments = ["netns", "exec", ns[0], "busybox", "udhcpc", "-f", "-i", "\(client[0])b", "-s", script, "-t", "10", "-T", "1"]
    udhcpc.standardOutput = FileHandle.nullDevice; udhcpc.standardError = FileHandle.nullDevice
    try udhcpc.run()
    // SIGKILL: a child started by Foundation's Process inherits a mask that blocks SIGTERM.
    defer { if udhcpc.isRunning { kill(udhcpc.processIdentifier, SIGKILL); udhcpc.waitUntilExit() } }
    let bound = try #require(waitFor(0, "bound", after: 0), "client 1 got no lease: \(events(0)) \(bridgeA.log)")
    let first = String(bound.split(separator: " ")[1])
    #expect(first == "10.63.0.101", "the probe should have found 10.63.0.100 in use: \(bound)")
    let statsA = try bridgeA.stats()
    #expect(statsA.contains("address conflicts 1"), "\(statsA)")

    // SIGKILL: no shutdown, the lease database is whatever was last written.
    bridgeA.kill9()
    let seen = events(0).count
    let bridgeB = try start("b")
    #expect(bridgeB.log.contains("lease database: restored") && bridgeB.log.contains("records=1"), "\(bridgeB.log)")
    // The first client renews its own address from the restarted bridge.
    let renewed = waitFor(0, "renew", after: seen, seconds: 15)
    #expect(renewed == "renew \(first)", "\(events(0)) \(bridgeB.log)")
    #expect(!events(0).dropFirst(seen).contains { $0.hasPrefix("deconfig") || $0.hasPrefix("nak") }, "\(events(0))")

    // A second client never gets the first's address (nor the one in use).
    let out = try sh("ip netns exec \(ns[1]) busybox udhcpc -i \(client[1])b -s \(script) -n -q -t 5 -T 2")
    let second = try #require(waitFor(1, "bound", after: 0, seconds: 1), "client 2 got no lease: \(out) \(bridgeB.log)")
    #expect(second != "bound \(first)" && second != "bound 10.63.0.100", "\(second)")

    // A clean restart keeps both records (the second client, run once with -q, does not renew:
    // its lease may have run out by then, and is kept as expired for its return).
    #expect(bridgeB.stop() == 0)
    let seenC = events(0).count
    let bridgeC = try start("c")
    #expect(bridgeC.log.contains("lease database: restored") && bridgeC.log.contains("records=2"), "\(bridgeC.log)")
    #expect(waitFor(0, "renew", after: seenC, seconds: 15) == "renew \(first)", "\(events(0))")
    let stats = try bridgeC.stats()
    #expect(stats.contains("dhcp lan: \(first) bound") && stats.contains("dhcp lan: \(second.split(separator: " ")[1]) "), "\(stats)")
}

/// ISC dhclient keeps its lease in a file and, started again, asks for it back with INIT-REBOOT
/// (a DHCPREQUEST with the address and no server identifier, no DHCPDISCOVER): the bridge,
/// killed with SIGKILL and restarted in between, acknowledges it from its lease database.
@Test func dhclientInitRebootIsAcknowledgedByTheRestartedBridge() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "dhclient"]) { print("SKIPPED INIT-REBOOT: \(why)"); return }
    let dir = try temporaryDirectory("init-reboot")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ns = try Namespaces(["ir"])
    let tag = getpid() % 100000
    let lb = "slib\(tag)", tap = "slit\(tag)", veth = "sliv\(tag)"
    try sh("ip link add \(lb) type bridge && ip link set \(lb) up")
    defer { _ = try? sh("ip link del \(lb)", allowFailure: true) }
    try sh("ip link add \(veth)a type veth peer name \(veth)b netns \(ns[0])")
    try sh("ip link set \(veth)a master \(lb) up && ip -n \(ns[0]) link set \(veth)b up")
    let config = """
    name: rebootbr
    router:
      ipv4: 10.64.0.1/24
      dhcp: { start: 10.64.0.100, end: 10.64.0.110, lease: 1h }
    taps: [ { name: \(tap) } ]
    """
    func start(_ name: String) throws -> RunningBridge {
        let b = try RunningBridge(config: config, directory: dir, name: name)
        #expect(b.waitForLog("port=tap:\(tap)"), "\(name) did not start: \(b.log)")
        try sh("ip link set \(tap) master \(lb) up")
        return b
    }
    // -1: one try; it goes to the background once bound (stopped through its pid file).
    // In the foreground (-d) for 8 s, then SIGKILL (it never exits by itself once bound, and a
    // daemon would keep the test's pipe open); its log goes to a file.
    func dhclient(_ label: String) throws -> String {
        let err = "\(dir)/dhclient-\(label).err"
        _ = try sh("timeout -s KILL 8 ip netns exec \(ns[0]) dhclient -d -1 -v -lf \(dir)/dhclient.leases -pf \(dir)/dhclient.pid -sf /bin/true \(veth)b </dev/null >\(err) 2>&1",
                   allowFailure: true)
        return (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
    }

    let bridgeA = try start("a")
    let first = try dhclient("first")
    let bound = try #require(first.split(separator: "\n").first { $0.hasPrefix("DHCPACK of ") }, "\(first) \(bridgeA.log)")
    let address = String(bound.split(separator: " ")[2])
    bridgeA.kill9()

    let bridgeB = try start("b")
    #expect(bridgeB.log.contains("lease database: restored") && bridgeB.log.contains("records=1"), "\(bridgeB.log)")
    let again = try dhclient("again")
    #expect(again.contains("DHCPREQUEST for \(address) on \(veth)b"), "\(again)")
    #expect(again.contains("DHCPACK of \(address) from 10.64.0.1"), "\(again)")
    #expect(!again.contains("DHCPDISCOVER") && !again.contains("DHCPNAK"), "not INIT-REBOOT, or refused: \(again)")
}
