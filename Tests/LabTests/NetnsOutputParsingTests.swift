// What the real backends read from real tools — ping(8) in both dialects, the udhcpc script's
// lines, iperf3's JSON — becomes the same result types the simulator produces. No root needed.
import Basics
import Foundation
import HostStack
import Testing
import Wire
import YAMLSchema
@testable import Lab

private func pingAction(count: Int, interval: Duration = .milliseconds(200), timeout: Duration = .seconds(1)) -> PingAction {
    var p = PingAction(node: "vm1", to: .address(IPv4Address(10, 0, 1, 10)))
    p.count = count
    p.interval = interval
    p.timeout = timeout
    return p
}

@Test func iputilsPingOutputBecomesAPingResult() {
    let started = Instant(nanoseconds: 1_795_316_756_000_000_000)
    let lines = """
    PING 10.0.1.10 (10.0.1.10) 56(84) bytes of data.
    [1795316756.964149] 64 bytes from 10.0.1.10: icmp_seq=1 ttl=63 time=0.466 ms
    [1795316757.164647] 64 bytes from 10.0.1.10: icmp_seq=2 ttl=63 time=1.5 ms
    [1795316757.164990] 64 bytes from 10.0.1.10: icmp_seq=2 ttl=63 time=1.84 ms (DUP!)
    [1795316758.700000] 64 bytes from 10.0.1.10: icmp_seq=3 ttl=63 time=1336 ms
    [1795316757.568679] From 10.0.0.1 icmp_seq=4 Time to live exceeded

    --- 10.0.1.10 ping statistics ---
    5 packets transmitted, 3 received, +1 duplicates, +1 errors, 40% packet loss, time 805ms
    """.split(separator: "\n", omittingEmptySubsequences: false).map { (time: Instant?.none, text: String($0)) }
    let parser = PingOutput(dialect: .iputils, target: IPv4Address(10, 0, 1, 10), action: pingAction(count: 5), startedAt: started)
    let r = parser.result(lines, finished: true)
    #expect(r.sent == 5 && r.count == 5)
    #expect(r.probes.map(\.sequence) == [1, 2, 3, 4, 5])
    // Probe 3's reply came after its 1 s timeout: late, not received (as on sim).
    #expect(r.received == 2 && r.lateReplies == 1)
    #expect(r.roundTripTimes == [.microseconds(466), .microseconds(1500)])
    #expect(r.duplicates == 1 && r.probes[1].duplicates == 1)
    #expect(r.errors.count == 1)
    #expect(r.errors.first?.type == ICMPv4Type(rawValue: 11) && r.errors.first?.code == 0)
    #expect(r.errors.first?.from == IPv4Address(10, 0, 0, 1) && r.errors.first?.echo?.sequence == 4)
    #expect(r.errors.first?.name == "Time to live exceeded")
    guard case .error = r.probes[3].outcome, case .timedOut = r.probes[4].outcome else {
        Issue.record("probes 4 and 5: \(r.probes[3].outcome), \(r.probes[4].outcome)"); return
    }
    // Send times: a reply's arrival minus its round trip.
    #expect(r.probes[0].sentAt == Instant(nanoseconds: 1_795_316_756_964_149_000) - .microseconds(466))
    #expect(r.isFinished)
}

@Test func pingErrorNamesMapBackToTypeAndCode() {
    #expect(PingOutput.icmpTypeAndCode(named: "Destination Host Unreachable") == (3, 1))
    #expect(PingOutput.icmpTypeAndCode(named: "Destination Net Unreachable") == (3, 0))
    #expect(PingOutput.icmpTypeAndCode(named: "Destination Port Unreachable") == (3, 3))
    #expect(PingOutput.icmpTypeAndCode(named: "Time to live exceeded") == (11, 0))
    #expect(PingOutput.icmpTypeAndCode(named: "Frag needed and DF set (mtu = 1400)") == (3, 4))
}

@Test func busyboxPingOutputCountsFromZeroAndReadsWarnings() {
    let lines = """
    PING 10.0.0.1 (10.0.0.1): 56 data bytes
    64 bytes from 10.0.0.1: seq=0 ttl=64 time=0.512 ms
    64 bytes from 10.0.0.1: seq=2 ttl=64 time=12.034 ms
    ping: warning: got ICMP 11 (Time Exceeded)

    --- 10.0.0.1 ping statistics ---
    3 packets transmitted, 2 packets received, 33% packet loss
    round-trip min/avg/max = 0.512/6.273/12.034 ms
    """.split(separator: "\n").map { (time: Instant?.none, text: String($0)) }
    let start = Instant(nanoseconds: 5_000_000_000)
    let r = PingOutput(dialect: .busybox, target: IPv4Address(10, 0, 0, 1), action: pingAction(count: 3), startedAt: start)
        .result(lines, finished: true)
    #expect(r.probes.map(\.sequence) == [0, 1, 2])
    #expect(r.received == 2 && r.sent == 3)
    #expect(r.maximum == .microseconds(12034))
    #expect(r.errors.map(\.type.rawValue) == [11])
    // Without timestamps the probes sit on the interval grid from the start.
    #expect(r.probes[1].sentAt == start + .milliseconds(200))
}

@Test func anInterruptedPingKeepsWhatItSaw() {
    let lines = ["[1795316756.964149] 64 bytes from 10.0.1.10: icmp_seq=1 ttl=63 time=0.466 ms"].map { (time: Instant?.none, text: $0) }
    let r = PingOutput(dialect: .iputils, target: IPv4Address(10, 0, 1, 10), action: pingAction(count: 4), startedAt: .zero)
        .result(lines, finished: false)
    #expect(!r.isFinished && r.received == 1 && r.sent == 1)
    guard case .pending = r.probes[3].outcome else { Issue.record("\(r.probes[3].outcome)"); return }
}

@Test func udhcpcScriptLinesBecomeLeases() {
    let at = Instant(nanoseconds: 42)
    let bound = UDHCPClient.event("SLUICE-DHCP bound ip=10.0.0.100 mask=24 router=10.0.0.1,10.0.0.2 dns=192.0.2.53 lease=3600 serverid=10.0.0.1 domain=lab.test",
                                  obtainedAt: at)
    guard case .bound(let lease, let renewed)? = bound else { Issue.record("\(String(describing: bound))"); return }
    #expect(!renewed)
    #expect(lease.address == IPv4Network("10.0.0.100/24"))
    #expect(lease.routers == [IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)])
    #expect(lease.dnsServers == [IPv4Address(192, 0, 2, 53)] && lease.domainName == "lab.test")
    #expect(lease.leaseTime == .seconds(3600) && lease.renewalTime == .seconds(1800) && lease.rebindingTime == .seconds(3150))
    #expect(lease.serverIdentifier == IPv4Address(10, 0, 0, 1) && lease.obtainedAt == at)
    // No DNS, no domain, a renewal.
    guard case .bound(let l2, true)? = UDHCPClient.event("SLUICE-DHCP renew ip=10.0.0.7 mask=16 router= dns= lease=60 serverid=10.0.0.1 domain=", obtainedAt: at) else {
        Issue.record("renew line not read"); return
    }
    #expect(l2.address == IPv4Network("10.0.0.7/16") && l2.dnsServers.isEmpty && l2.routers.isEmpty && l2.domainName == nil)
    #expect(UDHCPClient.event("SLUICE-DHCP deconfig", obtainedAt: at) == .deconfigured)
    #expect(UDHCPClient.event("SLUICE-DHCP leasefail", obtainedAt: at) == .failed("leasefail"))
    #expect(UDHCPClient.event("udhcpc: broadcasting discover", obtainedAt: at) == nil)
    #expect(UDHCPClient.event("SLUICE-DHCP bound ip=nonsense", obtainedAt: at) == nil)
}

/// iperf3 3.12's client JSON for 100 datagrams of 1000 bytes, 3 lost and 2 out of order (trimmed;
/// the client's own stream says 0 out of order, the server's 2).
private let iperfJSON = """
{"start":{"connected":[{"socket":5,"local_host":"10.0.0.10","local_port":51352,"remote_host":"10.0.0.11","remote_port":9000}],
 "test_start":{"protocol":"UDP","num_streams":1,"blksize":1000,"blocks":100,"target_bitrate":2000000}},
 "intervals":[],
 "end":{"streams":[{"udp":{"socket":5,"start":0,"end":0.4,"seconds":0.4,"bytes":100000,"packets":100,"lost_packets":3,"out_of_order":0,"sender":true}}],
  "sum_sent":{"start":0,"end":0.396115,"seconds":0.396115,"bytes":100000,"bits_per_second":2019615.5,"packets":100,"sender":true},
  "sum_received":{"start":0,"end":0.4,"seconds":0.4,"bytes":97000,"bits_per_second":1940000,"jitter_ms":0.03,"lost_packets":3,"packets":100,"sender":false}},
 "server_output_json":{"intervals":[{"sum":{"start":0,"end":0.1,"bytes":25000,"bits_per_second":2000000.0}},
                                    {"sum":{"start":0.1,"end":0.2,"bytes":24000,"bits_per_second":1920000.0}}],
                       "end":{"streams":[{"udp":{"socket":5,"packets":100,"lost_packets":3,"out_of_order":2,"sender":false}}]}}}
"""

@Test func iperf3JSONBecomesAFlowResult() throws {
    var flow = UDPFlowAction(node: "tx", to: .node("rx", segment: nil))
    flow.port = 9000
    flow.size = 1000
    flow.rate = .bitsPerSecond(2_000_000)
    flow.duration = .milliseconds(400)
    #expect(IPerf3.blocks(flow) == 100)
    #expect(IPerf3.client(flow, target: IPv4Address(10, 0, 0, 11)).contains("--blockcount"))
    let start = Instant(nanoseconds: 1_000_000_000)
    let report = try IPerf3Report(json: "noise before\n" + iperfJSON, flow: flow, target: IPv4Address(10, 0, 0, 11), startedAt: start)
    let r = report.result
    #expect(r.sender.sent == 100 && r.sender.bytes == 100_000 && r.sender.scheduled == 100 && r.sender.sourcePort == 51352)
    #expect(r.received == 97 && r.lost == 3 && abs(r.loss - 0.03) < 1e-9)
    #expect(r.receiver?.outOfOrder == 2 && r.receiver?.expected == 100)
    #expect(r.receiver?.throughputBitsPerSecond.map { abs($0 - 1_940_000) < 1 } == true)
    #expect(r.receiver?.minimumLatency == nil && r.receiver?.maximumLatency == nil)
    #expect(r.throughput == [ThroughputSample(time: start + .milliseconds(100), bitsPerSecond: 2_000_000),
                             ThroughputSample(time: start + .milliseconds(200), bitsPerSecond: 1_920_000)])
    #expect(throws: RealBackendError.self) { try IPerf3Report(json: "iperf3: error - unable to connect", flow: flow, target: IPv4Address(10, 0, 0, 11), startedAt: start) }
}

@Test func packetRatesBecomeIPerf3BitRates() {
    var flow = UDPFlowAction(node: "tx", to: .node("rx", segment: nil))
    flow.size = 200
    flow.rate = .packetsPerSecond(2000)
    flow.duration = .seconds(5)
    #expect(IPerf3.bitsPerSecond(flow) == 3_200_000)
    #expect(IPerf3.blocks(flow) == 10_000)
}

@Test func theNetnsBackendHonoursEveryFieldAndQEMUSaysWhereItCannot() throws {
    let text = """
    backends: [sim, netns]
    nodes:
      br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.110 } } } }
      br1: { kind: bridge }
      vm1: { kind: host, attach: br0, mtu: 1400 }
      vm2: { kind: host, attach: br0, address: 10.0.0.5/24 }
    links:
      - { between: [vm1, br0], delay: 5ms, jitter: 1ms, loss: { p: 1%, r: 30% }, duplicate: 1%, reorder: 1%, corrupt: 1%, rate: 10mbit, queue: 10, mtu: 1400, reverse: { delay: 1ms }, up: false }
      - { between: [br0, br1] }
    timeline:
      - { at: 1s, do: dhcp, node: vm1, as: d }
      - { at: 2s, do: release, node: vm1 }
      - { at: 3s, do: ping, node: vm2, to: br0, ttl: 3 }
      - { at: 3s, do: udp, node: vm2, to: vm1 }
      - { at: 4s, do: link-down, link: 0 }
      - { at: 5s, do: impair, link: 0, loss: 5% }
      - { at: 6s, do: replay, pcap: x.pcap, into: vm1, topspeed: true }
    """
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-caps-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // An empty but valid pcap to replay.
    let header: [UInt8] = [0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]
    FileManager.default.createFile(atPath: dir + "/x.pcap", contents: Data(header))
    let s = try Scenario.parse(text, file: dir + "/all.yml")
    #expect(s.unsupportedFeatures(on: .netns).isEmpty)
    // One thing iperf3 cannot measure: a flow's one-way latency, refused where it is asked for.
    let latency = text.replacingOccurrences(of: "do: udp, node: vm2, to: vm1 }", with: "do: udp, node: vm2, to: vm1, as: f }")
        + "\nexpect:\n  - { action: f, latency.avg: { le: 5ms } }\n"
    do {
        _ = try Scenario.parse(latency, file: dir + "/all.yml")
        Issue.record("latency.avg of a flow was accepted on netns")
    } catch {
        #expect(error.description.contains("all.yml:19:31: error: expect[0].latency.avg: the netns backend cannot honour a udp flow's one-way latency"), "\(error)")
    }
    let onQEMU = s.unsupportedFeatures(on: .qemu).map(\.feature)
    for f: ScenarioFeature in [.multipleBridges, .bridgeToBridgeLink, .hostMTU, .release, .dhcpAfterStart, .replayIntoHost] {
        #expect(onQEMU.contains(f), "qemu should refuse \(f.rawValue)")
    }
    // A guest's link is its port's impairments in the bridge.
    for f: ScenarioFeature in [.linkDelay, .asymmetricLink, .linkInitiallyDown, .linkUpDown, .impairChange] {
        #expect(!onQEMU.contains(f), "qemu should honour \(f.rawValue)")
    }
    #expect(!onQEMU.contains(.pingTTL) && !onQEMU.contains(.replayTopSpeed) && !onQEMU.contains(.staticAddress))
    #expect(!onQEMU.contains(.udpFlow) && !onQEMU.contains(.tcpFlow))  // the test guest's iperf3
    // Listing qemu makes the loader say where, with the reason.
    let qemu = """
    backends: [sim, qemu]
    nodes:
      br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.110 } } } }
      vm1: { kind: host, attach: br0 }
    timeline:
      - { at: 0s, do: dhcp, node: vm1 }
      - { at: 2s, do: release, node: vm1 }
    """
    do {
        _ = try Scenario.parse(qemu, file: dir + "/q.yml")
        Issue.record("a release on qemu was accepted")
    } catch {
        #expect(error.description.contains("q.yml:7:5: error: timeline[1]: the qemu backend cannot honour release"), "\(error)")
        #expect(error.description.contains("fix: remove it, or take 'qemu' out of backends:"), "\(error)")
    }
    #expect(throws: ConfigError.self) {
        try Scenario.parse(qemu.replacingOccurrences(of: "at: 0s, do: dhcp", with: "at: 1s, do: dhcp")
            .replacingOccurrences(of: "  - { at: 2s, do: release, node: vm1 }", with: ""), file: dir + "/q.yml")
    }
    _ = try Scenario.parse(qemu.replacingOccurrences(of: "  - { at: 2s, do: release, node: vm1 }", with: ""), file: dir + "/q.yml")
}
