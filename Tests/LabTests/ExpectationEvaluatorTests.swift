import Basics
import Capture
import HostStack
import Testing
import Wire
@testable import Lab

/// A capture of a DHCP exchange and three pings, the third unanswered. Frame numbers (1-based):
/// 1 ARP, 2 DISCOVER, 3 OFFER, 4 REQUEST, 5 ACK, 6 echo 1, 7 reply 1, 8 echo 2, 9 reply 2, 10 echo 3.
let lanCapture: [CaptureRecord] = [
    Frames.record(Frames.arp(target: Frames.router), ms: 0),
    Frames.record(Frames.dhcp(.discover, xid: 0xA1), ms: 10),
    Frames.record(Frames.dhcp(.offer, xid: 0xA1, yiaddr: Frames.vm1, leaseSeconds: 3600, routers: [Frames.router], dns: [IPv4Address(192, 0, 2, 53)]), ms: 12),
    Frames.record(Frames.dhcp(.request, xid: 0xA1), ms: 20),
    Frames.record(Frames.dhcp(.ack, xid: 0xA1, yiaddr: Frames.vm1, leaseSeconds: 3600, routers: [Frames.router], dns: [IPv4Address(192, 0, 2, 53)]), ms: 23),
    Frames.record(Frames.echo(request: true, sequence: 1), ms: 100),
    Frames.record(Frames.echo(request: false, sequence: 1, from: Frames.router, to: Frames.vm1), ms: 105),
    Frames.record(Frames.echo(request: true, sequence: 2), ms: 1100),
    Frames.record(Frames.echo(request: false, sequence: 2, from: Frames.router, to: Frames.vm1), ms: 1180),
    Frames.record(Frames.echo(request: true, sequence: 3), ms: 2100),
]

func evaluate(_ kind: ScenarioExpectation.Kind, captures: [String: [CaptureRecord]] = ["lan": lanCapture],
              results: [String: ActionResult] = [:]) -> ExpectationOutcome {
    let e = ScenarioExpectation(index: 0, name: "t", kind: kind, location: ScenarioLocation(file: "t.yml", line: 1, column: 1))
    return ExpectationEvaluator(observations: RunObservations(captures: captures, results: results)).evaluate(e)
}

func captureCheck(_ filter: String?, _ check: CaptureCheck, window: TimeWindow = .everything) -> ScenarioExpectation.Kind {
    .capture(CaptureExpectation(capture: "lan", filter: filter, window: window, check: check))
}

// MARK: Counts and absence

@Test func countAtLeastPassesWithTheNumberSeen() {
    let o = evaluate(captureCheck("udp port 67", .count([Comparison(.ge, 4)])))
    #expect(o.passed && o.message.contains("4 'udp port 67' matched"))
    #expect(!evaluate(captureCheck("udp port 67", .count([Comparison(.ge, 5)]))).passed)
}

@Test func countTooHighNamesTheFramesBeyondTheLimit() {
    let o = evaluate(captureCheck("icmp", .count([Comparison(.eq, 3)])))
    #expect(!o.passed)
    #expect(o.frames.map(\.number) == [9, 10])
    #expect(o.frames.map(\.time) == [Instant(nanoseconds: 1_180_000_000), Instant(nanoseconds: 2_100_000_000)])
    #expect(o.message.contains("5 'icmp' matched in 'lan', expected = 3; beyond the limit: frame 9 at 1.180000s, frame 10 at 2.100000s"), "\(o.message)")
}

@Test func countTooLowNamesWhatThereWas() {
    let o = evaluate(captureCheck("arp", .count([Comparison(.ge, 2)])))
    #expect(!o.passed && o.frames.map(\.number) == [1])
    #expect(o.message.contains("only 1 'arp' matched in 'lan', expected ≥ 2; matched: frame 1 at 0.000000s"), "\(o.message)")
}

@Test func absentFailsNamingEveryOffendingFrame() {
    let o = evaluate(captureCheck("icmp", .absent, window: TimeWindow(from: .seconds(1))))
    #expect(!o.passed && o.frames.map(\.number) == [8, 9, 10])
    #expect(o.message.contains("3 'icmp' present in 'lan', expected none: frame 8 at 1.100000s, frame 9 at 1.180000s, frame 10 at 2.100000s"), "\(o.message)")
    #expect(evaluate(captureCheck("tcp", .absent)).passed)
    #expect(evaluate(captureCheck("icmp", .absent, window: TimeWindow(from: .seconds(3)))).passed)
}

@Test func failureListsAreBounded() {
    let many = (0..<25).map { Frames.record(Frames.arp(target: Frames.router), ms: UInt64($0)) }
    let o = evaluate(captureCheck("arp", .absent), captures: ["lan": many])
    #expect(!o.passed && o.frames.count == 25)
    #expect(o.message.hasSuffix("frame 10 at 0.009000s and 15 more"), "\(o.message)")
}

@Test func aMissingCaptureFails() {
    let o = evaluate(captureCheck(nil, .count([Comparison(.ge, 0)])), captures: [:])
    #expect(!o.passed && o.message.contains("capture 'lan' was not taken"))
}

// MARK: Sequence

@Test func sequenceInOrderPasses() {
    let o = evaluate(captureCheck(nil, .sequence(["udp dst port 67", "udp src port 67", "icmp"])))
    #expect(o.passed)
    #expect(o.message == "in order: 'udp dst port 67' at frame 2 at 0.010000s, 'udp src port 67' at frame 3 at 0.012000s, 'icmp' at frame 6 at 0.100000s")
}

@Test func sequenceOutOfOrderNamesWhereItBroke() {
    let o = evaluate(captureCheck(nil, .sequence(["arp", "icmp", "udp port 67"])))
    #expect(!o.passed)
    #expect(o.message.contains("sequence broken in 'lan' at step 3: no frame matching 'udp port 67' after frame 6 at 0.100000s"), "\(o.message)")
    #expect(o.message.contains("'udp port 67' occurs only earlier: frame 2 at 0.010000s"), "\(o.message)")
    #expect(o.frames.map(\.number) == [6, 2, 3, 4, 5])
}

// MARK: Latency

@Test func latencyPairsEchoesBySequence() {
    let check = LatencyCheck(request: "icmp[icmptype] = icmp-echo", response: "icmp[icmptype] = icmp-echoreply",
                             pairBy: .icmpSequence, bounds: [Comparison(.le, 50e6)], pairs: [Comparison(.ge, 1)])
    let o = evaluate(captureCheck(nil, .latency(check)))
    #expect(!o.passed)
    #expect(o.frames.map(\.number) == [8, 9])
    #expect(o.message.contains("1 pairs outside ≤ 50ms: request frame 8 at 1.100000s → response frame 9 at 1.180000s: 80ms"), "\(o.message)")
    #expect(o.message.contains("2 pairs by icmp-seq, latency min/avg/max 5ms/42.5ms/80ms, 1 requests unanswered"), "\(o.message)")

    var loose = check
    loose.bounds = [Comparison(.le, 100e6)]
    #expect(evaluate(captureCheck(nil, .latency(loose))).passed)
    loose.pairs = [Comparison(.ge, 3)]
    let short = evaluate(captureCheck(nil, .latency(loose)))
    #expect(!short.passed && short.message.hasPrefix("2 pairs, expected ≥ 3"))
}

@Test func latencyDoesNotPairDifferentIdentifiers() {
    let records = [
        Frames.record(Frames.echo(request: true, identifier: 1, sequence: 1), ms: 0),
        Frames.record(Frames.echo(request: false, identifier: 2, sequence: 1, from: Frames.router, to: Frames.vm1), ms: 1),
        Frames.record(Frames.echo(request: false, identifier: 1, sequence: 1, from: Frames.router, to: Frames.vm1), ms: 30),
    ]
    let check = LatencyCheck(request: "icmp[icmptype] = icmp-echo", response: "icmp[icmptype] = icmp-echoreply",
                             pairBy: .icmpSequence, bounds: [Comparison(.le, 10e6)], pairs: [Comparison(.ge, 1)])
    let o = evaluate(captureCheck(nil, .latency(check)), captures: ["lan": records])
    #expect(!o.passed && o.frames.map(\.number) == [1, 3], "\(o.message)")
}

@Test func latencyPairsDHCPByTransaction() {
    let check = LatencyCheck(request: "udp dst port 67", response: "udp src port 67", pairBy: .dhcpTransaction,
                             bounds: [Comparison(.le, 2e6)], pairs: [Comparison(.eq, 2)])
    let o = evaluate(captureCheck(nil, .latency(check)))
    // DISCOVER→OFFER 2ms, REQUEST→ACK 3ms.
    #expect(!o.passed && o.frames.map(\.number) == [4, 5], "\(o.message)")
    #expect(o.message.contains("latency min/avg/max 2ms/2.5ms/3ms"), "\(o.message)")
}

// MARK: DHCP fields

func dhcpCheck(_ type: DHCPMessageType, _ field: DHCPField, _ condition: Condition, client: MACAddress? = nil) -> ScenarioExpectation.Kind {
    .dhcp(DHCPMessageExpectation(capture: "lan", message: type, client: client.map { _ in "vm1" }, clientMAC: client,
                                 field: DHCPFieldCheck(field, condition)))
}

@Test func dhcpFieldsAreDecoded() {
    let pool = AddressSet(ranges: [IPv4Address(10, 0, 0, 100).rawValue...IPv4Address(10, 0, 0, 120).rawValue], text: "10.0.0.100-10.0.0.120")
    let inPool = evaluate(dhcpCheck(.ack, .yiaddr, .within(pool), client: Frames.vm1MAC))
    #expect(inPool.passed && inPool.message == "1 DHCPACK for vm1: yiaddr 10.0.0.101")
    #expect(evaluate(dhcpCheck(.ack, .leaseTime, .compare([Comparison(.eq, 3600e9)]))).passed)
    #expect(evaluate(dhcpCheck(.offer, .dns, .contains(IPv4Address(192, 0, 2, 53)))).passed)
    #expect(evaluate(dhcpCheck(.offer, .router, .equalsAddress(Frames.router))).passed)
    #expect(evaluate(dhcpCheck(.ack, .serverID, .equalsAddress(Frames.router))).passed)
    #expect(evaluate(dhcpCheck(.ack, .subnetMask, .equalsAddress(IPv4Address(255, 255, 255, 0)))).passed)
}

@Test func dhcpFieldFailureNamesTheFrame() {
    let other = AddressSet(ranges: [IPv4Address(10, 0, 0, 200).rawValue...IPv4Address(10, 0, 0, 220).rawValue], text: "10.0.0.200-10.0.0.220")
    let o = evaluate(dhcpCheck(.ack, .yiaddr, .within(other)))
    #expect(!o.passed && o.frames.map(\.number) == [5])
    #expect(o.message == "1 of 1 DHCPACK in 'lan' have yiaddr not in 10.0.0.200-10.0.0.220: frame 5 at 0.023000s: yiaddr 10.0.0.101")
    let short = evaluate(dhcpCheck(.ack, .leaseTime, .compare([Comparison(.ge, 7200e9)])))
    #expect(!short.passed && short.message.contains("lease-time 1h"), "\(short.message)")
}

@Test func dhcpMessageThatNeverCameSaysWhatDid() {
    let o = evaluate(dhcpCheck(.nak, .yiaddr, .equalsAddress(.any)))
    #expect(!o.passed)
    #expect(o.message == "no DHCPNAK in 'lan' (10 frames considered; DHCP messages seen: DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, DHCPACK)")
    let otherClient = evaluate(dhcpCheck(.ack, .yiaddr, .equalsAddress(Frames.vm1), client: MACAddress(0x52, 0x54, 0, 9, 9, 9)))
    #expect(!otherClient.passed && otherClient.message.hasPrefix("no DHCPACK for vm1 in 'lan'"))
}

// MARK: Action results from real hosts

func pingResult(dropReplyTo sequence: UInt16?) -> PingActionResult {
    let wire = BackToBack(delay: .milliseconds(10))
    if let sequence { wire.drop = { BackToBack.isEchoReply($0, sequence: sequence) } }
    let id = wire.a.ping(IPv4Address(10, 0, 0, 11), count: 5, interval: .seconds(1), timeout: .milliseconds(500), now: wire.now)
    wire.run(until: Instant(nanoseconds: 10_000_000_000))
    return PingActionResult(startedAt: .zero, result: wire.a.pingResult(id), interval: .seconds(1))
}

func actionCheck(_ name: String, _ kind: ActionKind, _ checks: [(ActionMetric, Condition)]) -> ScenarioExpectation.Kind {
    .action(ActionExpectation(action: name, actionKind: kind,
                              checks: checks.map { MetricCheck(metric: $0.0, condition: $0.1, location: ScenarioLocation(file: "t.yml", line: 2, column: 3)) }))
}

@Test func pingMetricsFromARealSession() {
    let result = pingResult(dropReplyTo: 3)
    #expect(result.result.sent == 5 && result.result.received == 4)
    let pass = evaluate(actionCheck("p1", .ping, [(.received, .compare([Comparison(.ge, 4)])), (.loss, .compare([Comparison(.le, 0.2)])),
                                                  (.rttMax, .compare([Comparison(.le, 45e6)]))]),
                        results: ["p1": .ping(result)])
    #expect(pass.passed, "\(pass.message)")
    #expect(pass.message.hasPrefix("received 4; loss 20%; rtt.max "))

    let fail = evaluate(actionCheck("p1", .ping, [(.received, .compare([Comparison(.ge, 5)]))]), results: ["p1": .ping(result)])
    #expect(!fail.passed)
    #expect(fail.message.hasPrefix("received 4, expected ≥ 5 — unanswered probes: seq 3 timed out (sent 2.000000s)"), "\(fail.message)")
}

@Test func rttBoundsNameTheSlowProbes() {
    let result = pingResult(dropReplyTo: nil)
    // Every reply takes 20ms on this cable; the first also waits for ARP (another 20ms).
    let o = evaluate(actionCheck("p1", .ping, [(.rttMax, .compare([Comparison(.le, 25e6)]))]), results: ["p1": .ping(result)])
    #expect(!o.passed)
    #expect(o.message.hasPrefix("rtt.max 40ms, expected ≤ 25ms — probes out of bounds: seq 1 rtt 40ms (sent 0.000000s)"), "\(o.message)")
    let avg = evaluate(actionCheck("p1", .ping, [(.rttAvg, .compare([Comparison(.le, 20e6)]))]), results: ["p1": .ping(result)])
    #expect(!avg.passed && avg.message.contains("rtt.avg 24ms") && avg.message.contains("slowest: seq 1 rtt 40ms"), "\(avg.message)")
}

@Test func udpFlowMetricsFromARealFlood() {
    let wire = BackToBack(delay: .milliseconds(1))
    wire.b.startUDPFloodReceiver(port: 5001)
    var count = 0
    wire.drop = { frame in
        guard frame.count > 200 else { return false }  // flood datagrams; ARP passes
        count += 1
        return count % 10 == 0
    }
    let id = wire.a.startUDPFlood(to: IPv4Address(10, 0, 0, 11), port: 5001, size: 1000, rate: .packetsPerSecond(100),
                                  duration: .seconds(1), now: wire.now)
    wire.run(until: Instant(nanoseconds: 3_000_000_000))
    let flow = UDPFlowResult(sender: wire.a.floodStats(id), receiver: wire.b.floodReceiverStats(port: 5001)?.streams.first)
    #expect(flow.sender.sent == 100 && flow.received == 90 && flow.lost == 10)
    let o = evaluate(actionCheck("flow", .udp, [(.received, .compare([Comparison(.ge, 90)])), (.loss, .compare([Comparison(.le, 0.05)])),
                                                (.throughput, .compare([Comparison(.ge, 700_000)]))]),
                     results: ["flow": .udp(flow)])
    #expect(!o.passed)
    #expect(o.message.hasPrefix("loss 10%, expected ≤ 5% [90/100 received (10% loss)"), "\(o.message)")
}

@Test func dhcpActionMetrics() {
    let lease = DHCPClientLease(address: IPv4Network("10.0.0.105/24")!, serverIdentifier: Frames.router, routers: [Frames.router],
                          dnsServers: [IPv4Address(192, 0, 2, 53)], leaseTime: .seconds(3600), renewalTime: .seconds(1800),
                          rebindingTime: .seconds(3150), obtainedAt: Instant(nanoseconds: 1_000_000))
    let bound = ActionResult.dhcp(DHCPActionResult(startedAt: .zero, lease: lease, boundAt: Instant(nanoseconds: 4_000_000), finalState: .bound))
    let pool = AddressSet(ranges: [IPv4Address(10, 0, 0, 100).rawValue...IPv4Address(10, 0, 0, 120).rawValue], text: "10.0.0.100-10.0.0.120")
    let o = evaluate(actionCheck("d", .dhcp, [(.bound, .isTrue(true)), (.lease, .within(pool)), (.time, .compare([Comparison(.le, 5e6)])),
                                              (.router, .equalsAddress(Frames.router)), (.dns, .contains(IPv4Address(192, 0, 2, 53))),
                                              (.leaseTime, .compare([Comparison(.eq, 3600e9)]))]),
                     results: ["d": bound])
    #expect(o.passed, "\(o.message)")
    #expect(o.message == "bound true; lease 10.0.0.105; time 4ms; router 10.0.0.1; dns [192.0.2.53]; lease-time 1h")

    let none = ActionResult.dhcp(DHCPActionResult(startedAt: .zero, lease: nil, boundAt: nil, finalState: .selecting))
    let f = evaluate(actionCheck("d", .dhcp, [(.lease, .within(pool))]), results: ["d": none])
    #expect(!f.passed && f.message.hasPrefix("lease never bound (client SELECTING at the end), expected in 10.0.0.100-10.0.0.120"), "\(f.message)")
}

@Test func anActionThatNeverRanFails() {
    let o = evaluate(actionCheck("p9", .ping, [(.received, .compare([Comparison(.ge, 1)]))]))
    #expect(!o.passed && o.message.contains("'p9' has no result: it never started"))
}

@Test func capturedFramesOfARealPingPairUp() {
    let wire = BackToBack(delay: .milliseconds(10))
    wire.a.ping(IPv4Address(10, 0, 0, 11), count: 3, now: wire.now)
    wire.run(until: Instant(nanoseconds: 10_000_000_000))
    let check = LatencyCheck(request: "icmp[icmptype] = icmp-echo", response: "icmp[icmptype] = icmp-echoreply",
                             pairBy: .icmpSequence, bounds: [Comparison(.le, 10e6)], pairs: [Comparison(.eq, 3)])
    // The capture is at the sender's side of each frame, so a pair is the far end's turnaround: 10ms.
    let o = evaluate(captureCheck(nil, .latency(check)), captures: ["lan": wire.capture])
    #expect(o.passed, "\(o.message)")
    #expect(o.message.hasPrefix("3 pairs by icmp-seq, latency min/avg/max 10ms/10ms/10ms"))
}

@Test func dhcpMessagesAreCountedByDecodedType() {
    let one = evaluate(.dhcp(DHCPMessageExpectation(capture: "lan", message: .discover, count: [Comparison(.eq, 1)])))
    #expect(one.passed && one.message == "1 DHCPDISCOVER (= 1)")
    let two = evaluate(.dhcp(DHCPMessageExpectation(capture: "lan", message: .ack, count: [Comparison(.ge, 2)])))
    #expect(!two.passed && two.frames.map(\.number) == [5])
    #expect(two.message == "1 DHCPACK in 'lan', expected ≥ 2: frame 5 at 0.023000s")
    // With a count that allows none, a field check on no messages is not a failure by itself.
    let none = evaluate(.dhcp(DHCPMessageExpectation(capture: "lan", message: .nak, count: [Comparison(.eq, 0)],
                                                     field: DHCPFieldCheck(.yiaddr, .equalsAddress(.any)))))
    #expect(none.passed, "\(none.message)")
}
