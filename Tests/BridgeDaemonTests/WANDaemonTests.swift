// `sluice bridge` with a WireGuard WAN on a real UDP socket: two bridges in two network namespaces
// joined by a veth "internet", each serving a namespace on a TAP port. The veth is captured: no
// cleartext crosses it, only WireGuard messages. (wireguard-go as the peer: WANWireGuardGoTests.)
import Foundation
import Testing

/// A packet capture (tshark) on an interface of a namespace for `seconds` from when it starts.
final class VethCapture {
    let process = Process()
    let file: String
    let log: String
    init(namespace: String, interface: String, file: String, seconds: Int) throws {
        self.file = file
        log = file + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "tshark", "-q", "-i", interface, "-a", "duration:\(seconds)", "-w", file]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
    }
    /// Waits until tshark says it is capturing; false on timeout.
    func waitUntilCapturing(seconds: Double = 20) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("Capturing on") { return true }
            if !process.isRunning { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
    /// Waits for the capture to end and its file to be complete. (Signals do not stop it early
    /// here: they reach `ip netns exec`, not tshark.)
    func wait() { process.waitUntilExit() }
    deinit { if process.isRunning { process.terminate() } }
}

/// A key pair from `wg genkey` / `wg pubkey`.
func wgKeyPair() throws -> (privateKey: String, publicKey: String) {
    let key = try sh("wg genkey").trimmingCharacters(in: .whitespacesAndNewlines)
    let pub = try sh("echo '\(key)' | wg pubkey").trimmingCharacters(in: .whitespacesAndNewlines)
    return (key, pub)
}

/// Underlay namespaces joined by a veth: side 0 is 192.0.2.1/24, side 1 192.0.2.2/24.
func joinByVeth(_ ns: Namespaces, _ a: Int, _ b: Int, names: (String, String)) throws {
    try sh("ip link add \(names.0) netns \(ns[a]) type veth peer name \(names.1) netns \(ns[b])")
    try sh("ip -n \(ns[a]) addr add 192.0.2.1/24 dev \(names.0) && ip -n \(ns[a]) link set \(names.0) up")
    try sh("ip -n \(ns[b]) addr add 192.0.2.2/24 dev \(names.1) && ip -n \(ns[b]) link set \(names.1) up")
}

@Test func twoBridgesInNamespacesTalkThroughAWireGuardWAN() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "tshark", "ping", "wg"]) { print("SKIPPED twoBridgesWireGuardWAN: \(why)"); return }
    let dir = try temporaryDirectory("wan-wg")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // uA, uB: the bridges' own namespaces (the underlay); gA, gB: a host behind each bridge.
    let ns = try Namespaces(["wua", "wub", "wga", "wgb"])
    let tag = getpid() % 100000
    try joinByVeth(ns, 0, 1, names: ("swv\(tag)a", "swv\(tag)b"))
    let a = try wgKeyPair(), b = try wgKeyPair()
    let tapA = "swt\(tag)a", tapB = "swt\(tag)b"
    // A masquerades its guests behind 10.200.9.1; B routes (its guest keeps its address).
    let bridgeA = try RunningBridge(namespace: ns[0], config: """
    name: wanA
    router: { ipv4: 10.91.0.1/24, nat: true }
    wan: { type: wireguard, key: "\(a.privateKey)", peer: "\(b.publicKey)", endpoint: 192.0.2.2:51820, listen-port: 51820, ipv4: 10.200.9.1/24 }
    taps: [ { name: \(tapA), namespace: \(ns[2]) } ]
    control: \(dir)/a.ctl
    """, directory: dir, name: "a")
    let bridgeB = try RunningBridge(namespace: ns[1], config: """
    name: wanB
    router: { ipv4: 10.92.0.1/24, nat: false }
    wan: { type: wireguard, key: "\(b.privateKey)", peer: "\(a.publicKey)", endpoint: 192.0.2.1:51820, listen-port: 51820, ipv4: 10.200.9.2/24 }
    taps: [ { name: \(tapB), namespace: \(ns[3]) } ]
    control: \(dir)/b.ctl
    """, directory: dir, name: "b")
    #expect(bridgeA.waitForLog("uplink=\"UDP 0.0.0.0:51820"), "bridge A: \(bridgeA.log)")
    #expect(bridgeB.waitForLog("uplink=\"UDP 0.0.0.0:51820"), "bridge B: \(bridgeB.log)")
    try sh("ip -n \(ns[2]) link set \(tapA) up && ip -n \(ns[2]) addr add 10.91.0.5/24 dev \(tapA) && ip -n \(ns[2]) route add default via 10.91.0.1")
    try sh("ip -n \(ns[3]) link set \(tapB) up && ip -n \(ns[3]) addr add 10.92.0.5/24 dev \(tapB) && ip -n \(ns[3]) route add default via 10.92.0.1")

    let capture = try VethCapture(namespace: ns[0], interface: "swv\(tag)a", file: dir + "/underlay.pcap", seconds: 15)
    #expect(capture.waitUntilCapturing(), "tshark did not start capturing")
    Thread.sleep(forTimeInterval: 1)   // dumpcap may start a moment after tshark says so
    // Through both routers and the tunnel: to B's guest (routed there), and to B's tunnel address.
    let p1 = try sh("ip netns exec \(ns[2]) ping -c 5 -i 0.2 -W 2 10.92.0.5", allowFailure: true)
    let p2 = try sh("ip netns exec \(ns[2]) ping -c 3 -i 0.2 -W 2 10.200.9.2", allowFailure: true)
    #expect(p1.contains("5 packets transmitted, 5 received"), "\(p1)\nA: \(bridgeA.log)\nB: \(bridgeB.log)")
    #expect(p1.contains("ttl=62"), "two routers on the way: \(p1)")
    #expect(p2.contains("3 packets transmitted, 3 received"), "\(p2)")
    // TCP and UDP through the NAT and the tunnel (iperf3: a TCP control connection, a UDP test);
    // B's guest sees A's tunnel address as the client (masquerade). Datagrams of 1200 bytes: iperf3
    // sets DF, and the WAN's MTU (1420) is below the TAP's.
    if (try? sh("command -v iperf3")) != nil {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        server.arguments = ["netns", "exec", ns[3], "iperf3", "-s", "-1", "-p", "5301"]
        let out = Pipe(); server.standardOutput = out; server.standardError = out
        try server.run()
        Thread.sleep(forTimeInterval: 0.5)
        let client = try sh("ip netns exec \(ns[2]) iperf3 -c 10.92.0.5 -p 5301 -u -b 2M -l 1200 -t 1", allowFailure: true)
        server.waitUntilExit()
        let served = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(served.contains("Accepted connection from 10.200.9.1"), "\(served)\n\(client)")
        #expect(client.contains("iperf Done"), "\(client)")
    } else {
        print("twoBridgesWireGuardWAN: iperf3 missing, TCP/UDP part skipped")
    }

    let statsA = try sh("\(sluiceBinary()!) bridge \(dir)/a.yml --stats")
    #expect(statsA.contains("wan wireguard: tx ") && statsA.contains("session true") && statsA.contains("nat: "), "\(statsA)")
    print("bridge A stats:\n" + statsA)
    capture.wait()

    // On the underlay: WireGuard only. ICMP between the guests never appears in cleartext.
    let icmp = try sh("tshark -r \(dir)/underlay.pcap -Y icmp 2>/dev/null")
    #expect(icmp.isEmpty, "cleartext ICMP on the underlay:\n\(icmp)")
    let transport = try sh("tshark -r \(dir)/underlay.pcap -Y 'udp.port == 51820 && udp.payload[0] == 4' 2>/dev/null")
        .split(separator: "\n").count
    #expect(transport >= 16, "WireGuard transport messages on the underlay: \(transport)")
    // Every UDP payload is a WireGuard message: type 1, 2 or 4 and three reserved zero bytes.
    // (The handshake itself may precede the capture's start on a loaded machine.)
    let payloads = try sh("tshark -r \(dir)/underlay.pcap -Y udp -T fields -e udp.payload 2>/dev/null").split(separator: "\n")
    #expect(payloads.count >= 16)
    let notWireGuard = payloads.filter { !["01000000", "02000000", "04000000"].contains(String($0.prefix(8)).replacingOccurrences(of: ":", with: "")) }
    #expect(notWireGuard.isEmpty, "UDP payloads that are not WireGuard messages: \(notWireGuard.prefix(3))")
    let udpOther = try sh("tshark -r \(dir)/underlay.pcap -Y 'udp && !(udp.port == 51820)' 2>/dev/null")
    #expect(udpOther.isEmpty, "\(udpOther)")

    #expect(bridgeA.stop() == 0 && bridgeB.stop() == 0, "A: \(bridgeA.log)\nB: \(bridgeB.log)")
}

@Test func tapWANUplinkTalksEthernetToAKernelGateway() throws {
    if let why = realNetworkSkipReason(needing: ["ip", "ping", "tshark"]) { print("SKIPPED tapWANUplink: \(why)"); return }
    let dir = try temporaryDirectory("wan-tap")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // up: the uplink's namespace, where the kernel is the gateway 192.0.2.1; g: a host behind the bridge.
    let ns = try Namespaces(["tup", "tg"])
    let tag = getpid() % 100000
    let wanTap = "stw\(tag)", guestTap = "stg\(tag)"
    let bridge = try RunningBridge(namespace: ns[0], config: """
    name: tapwan
    router: { ipv4: 10.94.0.1/24 }
    wan: { type: tap, device: \(wanTap), ipv4: 192.0.2.2/24, gateway: 192.0.2.1, mac: "02:00:00:00:94:02" }
    taps: [ { name: \(guestTap), namespace: \(ns[1]) } ]
    """, directory: dir, name: "t")
    #expect(bridge.waitForLog("uplink=\"TAP \(wanTap)"), "\(bridge.log)")
    try sh("ip -n \(ns[0]) addr add 192.0.2.1/24 dev \(wanTap) && ip -n \(ns[0]) link set \(wanTap) up")
    try sh("ip -n \(ns[1]) link set \(guestTap) up && ip -n \(ns[1]) addr add 10.94.0.5/24 dev \(guestTap) && ip -n \(ns[1]) route add default via 10.94.0.1")

    let capture = try VethCapture(namespace: ns[0], interface: wanTap, file: dir + "/uplink.pcap", seconds: 5)
    #expect(capture.waitUntilCapturing(), "tshark did not start capturing")
    Thread.sleep(forTimeInterval: 1)   // dumpcap may start a moment after tshark says so
    let p = try sh("ip netns exec \(ns[1]) ping -c 3 -i 0.2 -W 2 192.0.2.1", allowFailure: true)
    #expect(p.contains("3 packets transmitted, 3 received"), "\(p)\n\(bridge.log)")
    // The kernel learned the bridge's WAN MAC by ARP: a real L2 neighbour.
    let neighbours = try sh("ip -n \(ns[0]) neigh show dev \(wanTap)")
    #expect(neighbours.contains("192.0.2.2 lladdr 02:00:00:00:94:02"), "\(neighbours)")
    capture.wait()
    // Echo requests on the uplink come from the WAN address (masqueraded), in Ethernet frames from the WAN MAC.
    let requests = try sh("tshark -r \(dir)/uplink.pcap -Y 'icmp.type == 8' -T fields -e eth.src -e ip.src 2>/dev/null")
        .split(separator: "\n")
    #expect(requests.count >= 2 && requests.allSatisfy { $0 == "02:00:00:00:94:02\t192.0.2.2" }, "\(requests)")
    let malformed = try sh("tshark -r \(dir)/uplink.pcap -Y '_ws.malformed' 2>/dev/null")
    #expect(malformed.isEmpty, "\(malformed)")
    #expect(bridge.stop() == 0, "\(bridge.log)")
}
