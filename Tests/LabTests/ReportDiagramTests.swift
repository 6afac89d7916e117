// Report room tests: the failure summary (measured against bound, linked), the topology SVG, the
// ladder diagrams drawn from real pcaps (checked against tshark when it is installed), bounds on
// charts, integer axes, and the `ladder:` key's parsing.
import Basics
import Capture
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import YAMLSchema
@testable import Lab

/// pingScenario with expectations that cannot hold: an RTT bound of 1 ms on a 5 ms link, and
/// at least 100 DHCP frames.
let strictScenario = pingScenario
    .replacingOccurrences(of: "name: dhcp-and-ping", with: "name: too-strict")
    .replacingOccurrences(of: "rtt.max: { le: 30ms }", with: "rtt.max: { le: 1ms }")
    .replacingOccurrences(of: "count: { ge: 8 }", with: "count: { ge: 100 }")

@Test func failureSummaryShowsMeasuredAgainstBoundWithALink() throws {
    let (run, _) = try runScenario(strictScenario)
    #expect(run.status == .completed, "\(run.status)")
    #expect(run.failures.map(\.index) == [1, 3])
    // The RTT check: measured as the evaluator printed it, the bound as written.
    let rtt = try #require(run.outcomes[1].checks.first { $0.subject == "rtt.max" })
    #expect(!rtt.passed && rtt.bound == "≤ 1ms" && rtt.measured.hasSuffix("ms") && (rtt.value ?? 0) > 1e6)
    let received = try #require(run.outcomes[1].checks.first { $0.subject == "received" })
    #expect(received.passed && received.measured == "5" && received.bound == "= 5")
    let dhcp = try #require(run.outcomes[3].checks.first)
    #expect(!dhcp.passed && dhcp.bound == "≥ 100" && Int(dhcp.measured).map { $0 >= 8 && $0 < 100 } == true)

    let html = HTMLReport.render([run], title: "t")
    let summary = try #require(html.range(of: "<section class=\"summary\" id=\"failures\">"))
    let firstSection = try #require(html.range(of: "<section id=\"too-strict\">"))
    #expect(summary.lowerBound < firstSection.lowerBound)  // at the top, before the scenarios
    let table = String(html[summary.lowerBound..<firstSection.lowerBound])
    #expect(table.contains("<td class=\"measured\"><span class=\"subject\">rtt.max</span> \(Markup.xml(rtt.measured))</td><td class=\"bound\">≤ 1ms</td>"))
    #expect(table.contains("<span class=\"subject\">&apos;udp port 67&apos; in &apos;lan&apos;</span> \(dhcp.measured)</td><td class=\"bound\">≥ 100</td>"))
    #expect(!table.contains("<span class=\"subject\">received</span>"))  // checks that held are not listed
    #expect(table.contains("<a href=\"#too-strict-e1\">") && table.contains("<a href=\"#too-strict-e3\">"))
    #expect(html.contains("<tr id=\"too-strict-e1\" class=\"fail\">") && html.contains("<tr id=\"too-strict-e3\" class=\"fail\">"))
    #expect(table.contains("s.yml:") && table.contains("<a href=\"#too-strict\">too-strict</a>"))

    // summary.md has the same rows, before the table of runs.
    let md = MarkdownSummary.render([run], title: "t")
    let row = "| [too-strict](#too-strict) | p1: received = 5, rtt.max ≤ 1ms (line \(run.outcomes[1].location.line)) | rtt.max **\(rtt.measured)** | ≤ 1ms |"
    #expect(md.contains(row), "\(md.prefix(600))")
    #expect(md.range(of: "**Failures**")!.lowerBound < md.range(of: "| scenario | backend |")!.lowerBound)

    // The bound is drawn on p1's RTT chart, red (not met); the passing run draws it green.
    #expect(html.contains("<g class=\"bound\"><title>rtt.max ≤ 1ms (not met)</title>"))
    let (good, _) = try runScenario(pingScenario)
    let goodHTML = HTMLReport.render([good], title: "t")
    #expect(goodHTML.contains("<g class=\"bound\"><title>rtt.max ≤ 30ms (met)</title>"))
    #expect(!goodHTML.contains("id=\"failures\""))

    // Every inline SVG of the page (topology, charts, ladders) parses as XML.
    #if canImport(FoundationXML)
    var rest = Substring(html)
    var classes: [String] = []
    while let start = rest.range(of: "<svg "), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
        let doc = try XMLDocument(xmlString: String(rest[start.lowerBound..<end.upperBound]), options: [])
        classes.append(try #require(doc.rootElement().flatMap { attribute($0, "class") }))
        rest = rest[end.upperBound...]
    }
    #expect(classes.first == "topology" && classes.contains("chart") && classes.last == "ladder", "\(classes)")
    #endif
}

@Test func brokenRunsAreInTheFailureSummary() {
    let runs = sampleRuns(capturePath: "/tmp/x.pcap")
    let html = HTMLReport.render(runs, title: "t")
    #expect(html.contains("<td colspan=\"3\">error: scenarios/b.yml:3:7: error: nodes: unknown key &apos;nods&apos;</td>"))
    // An outcome without checks (a hand-made one) shows its message instead.
    #expect(html.contains("<td colspan=\"2\">2 &apos;icmp&apos; present in &apos;lan&apos;"))
}

let wireguardScenario = """
name: wg-ladder
seed: 3
duration: 3s
nodes:
  brA:
    kind: bridge
    config:
      router: { ipv4: 10.1.0.1/24, nat: true }
      wan:
        type: wireguard
        key: yNL8g98mk84LtmNtrd52aHkJhmMC0VnEi6f7hwDWsW0=
        peer: XoYx+wkc0qhuO9ZXV8oX75Q7ygLxWeU8DBDhcupn7gU=
        endpoint: 192.0.2.2:51820
        listen-port: 51820
        ipv4: 10.200.0.1/24
  brB:
    kind: bridge
    config:
      router: { ipv4: 10.2.0.1/24, nat: false }
      wan:
        type: wireguard
        key: UNkx5+g/3o6kJD1dJskQA+rT5VfZ+WRjHDUYK3Tu7EY=
        peer: p9jnZ7h+0RxFfMLF5y0uKNOft9iuJfsmBAsTeIiRmCM=
        endpoint: 192.0.2.1:51820
        listen-port: 51820
        ipv4: 10.200.0.2/24
  vmA: { kind: host, attach: brA, address: 10.1.0.10/24, gateway: 10.1.0.1 }
  srvB: { kind: host, attach: brB, address: 10.2.0.10/24, gateway: 10.2.0.1 }
links:
  - { between: [brA.wan, brB.wan], name: internet, delay: 10ms, loss: 1% }
  - { between: [vmA, brA], delay: 2ms, up: true }
captures:
  internet: { at: internet }
  lanA: { at: brA, filter: "icmp or arp", ladder: { show: [arp, icmp], messages: 6 } }
timeline:
  - { at: 0s, do: ping, node: vmA, to: srvB, count: 3, interval: 200ms, timeout: 1s, as: p1 }
expect:
  - { action: p1, received: { ge: 2 } }
"""

#if canImport(FoundationXML)
/// An attribute's value (read from `attributes`: swift-corelibs-foundation's
/// `attribute(forName:)` finds nothing on an element in a default namespace, as SVG's are).
func attribute(_ e: XMLElement, _ name: String) -> String? {
    e.attributes?.first { $0.name == name }?.stringValue
}

/// `e` and every element below it, in document order.
func elements(_ e: XMLElement) -> [XMLElement] {
    [e] + (e.children ?? []).compactMap { $0 as? XMLElement }.flatMap(elements)
}

@Test func topologyIsWellFormedSVGWithEveryNodeLinkAndCapture() throws {
    for text in [pingScenario, wireguardScenario] {
        let scenario = try Scenario.parse(text, file: "s.yml", directory: NSTemporaryDirectory())
        let topology = ReportTopology(scenario)
        let svg = TopologyDiagram(topology: topology, title: "topology").render()
        let doc = try XMLDocument(xmlString: svg, options: [])
        let root = try #require(doc.rootElement())
        #expect(root.name == "svg")
        // Every node of the scenario is a group with its name shown.
        let all = elements(root)
        let ids = Set(all.filter { ($0.name ?? "") == "g" }.compactMap { attribute($0, "id") })
        let texts = all.filter { ($0.name ?? "") == "text" }.compactMap(\.stringValue)
        #expect(ids.count > scenario.nodes.count && texts.count > scenario.nodes.count)
        for node in scenario.nodes {
            #expect(ids.contains("node-\(node.name)"), "\(node.name) missing from \(ids.sorted())")
            #expect(texts.contains { $0 == node.name || $0.hasPrefix(node.name) }, "\(node.name)")
        }
        // Every capture is tagged, every segment drawn.
        for c in scenario.captures { #expect(texts.contains { $0.hasPrefix("◉ \(c.name)") }, "capture \(c.name)") }
        for b in topology.bridges { for s in b.segments { #expect(ids.contains("segment-\(b.name)-\(s)")) } }
    }
    let wg = ReportTopology(try Scenario.parse(wireguardScenario, file: "s.yml", directory: NSTemporaryDirectory()))
    let svg = TopologyDiagram(topology: wg, title: "wg").render()
    #expect(svg.contains("id=\"link-internet\""))
    #expect(svg.contains(">⇄ delay 10ms loss 1%</text>"))          // the WAN link's impairments, both ways
    #expect(svg.contains(">⇄ delay 2ms<title>"))                     // vmA's cable, under vmA
    #expect(svg.contains("WAN wireguard 10.200.0.1/24"))
    #expect(wg.owner(of: "192.0.2.1") == "brA" && wg.owner(of: "192.0.2.2") == "brB")  // underlay ends
}
#endif

/// DHCP message types of a capture as tshark decodes them ("Discover", "Offer" …), or nil when
/// tshark is not installed.
func tsharkDHCPTypes(_ path: String) throws -> [String]? {
    guard let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: FileManager.default.isExecutableFile) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tshark)
    p.arguments = ["-r", path, "-Y", "dhcp", "-T", "fields", "-e", "dhcp.option.dhcp"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let names = ["1": "DISCOVER", "2": "OFFER", "3": "REQUEST", "5": "ACK", "6": "NAK", "7": "RELEASE"]
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map { names[String($0)] ?? String($0) }
}

@Test func dhcpLadderFromThePcapShowsDORA() throws {
    let (run, _) = try runScenario(pingScenario)
    let capture = try #require(run.captures.first { $0.name == "lan" })
    let records = try PcapReader(path: capture.path).readAll()
    let topology = try #require(run.topology)
    let ladders = LadderDiagram.ladders(capture: "lan", records: records, start: .zero,
                                        request: LadderRequest(protocols: [.dhcp], messages: 50), topology: topology)
    let ladder = try #require(ladders.first)
    #expect(ladders.count == 1 && ladder.protocolName == "DHCP" && ladder.omitted == 0)
    func kinds(_ client: String) -> [String] {
        ladder.messages.filter { ladder.lanes[$0.from] == client || ladder.lanes[$0.to] == client }
            .map { String($0.label.split(separator: " ")[0]) }
    }
    #expect(kinds("vm1") == ["DISCOVER", "OFFER", "REQUEST", "ACK"])
    #expect(kinds("vm2") == ["DISCOVER", "OFFER", "REQUEST", "ACK"])
    // Clients send to the bridge's DHCP server and it answers them: lanes named from the scenario.
    for m in ladder.messages {
        let (from, to) = (ladder.lanes[m.from], ladder.lanes[m.to])
        #expect(m.label.hasPrefix("DISCOVER") || m.label.hasPrefix("REQUEST") ? to == "br0" && from.hasPrefix("vm") : from == "br0" && to.hasPrefix("vm"),
                "\(from) → \(to): \(m.label)")
    }
    #expect(ladder.messages.first { $0.label.hasPrefix("ACK") }?.label.contains("10.0.0.1") == true)  // ACK 10.0.0.10x
    // Frame numbers are the pcap's, in capture order.
    #expect(ladder.messages.map(\.frame) == ladder.messages.map(\.frame).sorted())
    let first = try #require(ladder.messages.first)
    #expect(FrameDecoding.dhcpMessage(records[first.frame - 1])?.messageType == .discover)
    // tshark, reading the same pcap independently, sees the same message sequence.
    if let tshark = try tsharkDHCPTypes(capture.path) {
        #expect(tshark == ladder.messages.map { String($0.label.split(separator: " ")[0]) })
    } else {
        print("dhcpLadderFromThePcapShowsDORA: tshark not installed; the ladder is checked against Wire's decoder only")
    }
    // Drawn: well-formed SVG with one arrow per message and the lanes' names.
    let svg = ladder.svg()
    #if canImport(FoundationXML)
    let doc = try XMLDocument(xmlString: svg, options: [])
    let arrows = elements(try #require(doc.rootElement())).filter { ($0.name ?? "") == "g" && attribute($0, "class") == "message" }
    #expect(arrows.count == ladder.messages.count)
    #endif
    #expect(svg.contains(">vm1</text>") && svg.contains(">br0</text>") && svg.contains(">DISCOVER</text>"))
    // The run keeps the automatic ladder, and the page shows it.
    #expect(run.ladders.map(\.protocolName) == ["DHCP"])
    #expect(run.ladders[0].messages.count == LadderRequest.defaultMessages || run.ladders[0].omitted == 0)
    #expect(HTMLReport.render([run], title: "t").contains("<h3>Ladder diagrams</h3>"))
}

@Test func wireguardHandshakeLadderAndRequestedLadders() throws {
    let (run, _) = try runScenario(wireguardScenario)
    #expect(run.status == .completed, "\(run.status)")
    let wg = try #require(run.ladders.first { $0.protocolName == "WireGuard" })
    #expect(wg.capture == "internet")
    #expect(Array(wg.messages.prefix(2).map(\.label)) == ["handshake initiation", "handshake response"])
    #expect(wg.lanes[wg.messages[0].from] == "brA" && wg.lanes[wg.messages[0].to] == "brB")
    #expect(wg.lanes[wg.messages[1].from] == "brB" && wg.lanes[wg.messages[1].to] == "brA")
    // lanA asked for ARP and ICMP, six messages each at most; no DHCP (not asked for).
    let lan = run.ladders.filter { $0.capture == "lanA" }
    #expect(lan.map(\.protocolName) == ["ARP", "ICMP"])
    #expect(lan.allSatisfy { $0.messages.count <= 6 })
    let icmp = try #require(lan.last)
    #expect(icmp.messages.first?.label == "echo request seq 1" && icmp.lanes.first == "vmA")
    #expect(icmp.messages.count + icmp.omitted == 6)  // 3 requests and 3 replies
}

@Test func integerAxesTickOnWholeNumbers() throws {
    #expect(SVGChart.ticks(1, 3, integer: true) == [1, 2, 3])
    #expect(SVGChart.ticks(0, 3).contains { $0 != $0.rounded() })  // without it, 0.5 steps
    for hi in [1.0, 2, 4, 7, 12, 33, 250] {
        let t = SVGChart.ticks(0, hi, integer: true)
        #expect(!t.isEmpty && t.allSatisfy { $0 == $0.rounded() }, "\(hi): \(t)")
    }
    // A ping's RTT chart: sequence numbers 1…3, its x tick labels whole numbers.
    let chart = SVGChart(title: "rtt", xLabel: "ICMP sequence", yLabel: "ms",
                         series: [.init(name: "rtt", points: [(1, 0.4), (2, 0.5), (3, 0.45)], color: "#000", style: .line)],
                         integerX: true).render()
    let axisY = Format.number(30 + (260 - 30 - 44) + 16, digits: 1)
    var labels: [String] = []
    var rest = Substring(chart)
    while let r = rest.range(of: "y=\"\(axisY)\" font-size=\"11\" text-anchor=\"middle\" fill=\"#374151\">") {
        let tail = rest[r.upperBound...]
        labels.append(String(tail.prefix { $0 != "<" }))
        rest = tail
    }
    #expect(labels == ["1", "2", "3"])
}

@Test func ladderKeyIsParsedAndRangeChecked() throws {
    func capture(_ ladder: String) throws -> ScenarioCapture {
        let text = base + "captures:\n  lan: { at: br0, ladder: \(ladder) }\n"
        return try #require(try Scenario.parse(text, file: "s.yml", directory: NSTemporaryDirectory()).captures.first)
    }
    #expect(try capture("dhcp").ladder == LadderRequest(protocols: [.dhcp]))
    #expect(try capture("[arp, icmp, arp]").ladder == LadderRequest(protocols: [.arp, .icmp]))
    #expect(try capture("{ show: wireguard, messages: 40 }").ladder == LadderRequest(protocols: [.wireguard], messages: 40))
    #expect(try capture("none").ladder == LadderRequest(protocols: []))
    let line = base.split(separator: "\n", omittingEmptySubsequences: false).count + 1
    expectError(base + "captures:\n  lan: { at: br0, ladder: dhcpp }\n", line: line, at: "dhcpp",
                message: "'dhcpp' is not a protocol a ladder can show", fix: "did you mean 'dhcp'?")
    expectError(base + "captures:\n  lan: { at: br0, ladder: { show: dhcp, messages: 0 } }\n", line: line, at: "0 }",
                message: "messages: '0' is not a whole number in 1...500")
    expectError(base + "captures:\n  lan: { at: br0, ladder: { show: dhcp, messages: 99999999999999999999 } }\n", line: line,
                at: "99999999999999999999", message: "is not a whole number in 1...500")
    expectError(base + "captures:\n  lan: { at: br0, ladder: [dhcp, none] }\n", line: line, at: "none",
                message: "'none' inside a list")
    expectError(base + "captures:\n  lan: { at: br0, ladder: { messages: 5 } }\n", line: line, at: "{ messages",
                message: "show")
    expectError(base + "captures:\n  lan: { at: br0, ladder: { show: [dhcp], count: 5 } }\n", line: line, at: "count",
                message: "unknown key 'count'")
}

@Test func ladderDecodingSurvivesTruncatedAndCorruptFrames() throws {
    let (run, _) = try runScenario(pingScenario)
    let capture = try #require(run.captures.first { $0.name == "lan" })
    let records = try PcapReader(path: capture.path).readAll()
    let topology = try #require(run.topology)
    let every = LadderRequest(protocols: LadderProtocol.allCases, messages: LadderRequest.messageRange.upperBound)
    let whole = LadderDiagram.ladders(capture: "lan", records: records, start: .zero, request: every, topology: topology)
    #expect(Set(whole.map(\.protocolName)) == ["DHCP", "ARP", "ICMP"])
    // Every truncation of every frame: whatever decodes still decodes to something, nothing traps,
    // and a frame cut short of its message gives no arrow.
    var cut: [CaptureRecord] = []
    for r in records { for n in 0..<r.bytes.count { cut.append(CaptureRecord(time: r.time, originalLength: r.originalLength, bytes: Array(r.bytes.prefix(n)))) } }
    let fromCut = LadderDiagram.ladders(capture: "lan", records: cut, start: .zero, request: every, topology: topology)
    #expect(!fromCut.contains { $0.protocolName == "DHCP" || $0.protocolName == "ICMP" }, "\(fromCut.map { ($0.protocolName, $0.messages.prefix(2)) })")
    // Corrupt bytes: each frame with one byte flipped in turn.
    var flipped: [CaptureRecord] = []
    for r in records.prefix(12) {
        for i in r.bytes.indices { var b = r.bytes; b[i] ^= 0xFF; flipped.append(CaptureRecord(time: r.time, originalLength: r.originalLength, bytes: b)) }
    }
    _ = LadderDiagram.ladders(capture: "lan", records: flipped, start: .zero, request: every, topology: topology)
    // A diagram read back with lanes it does not have draws what it can.
    var broken = try #require(whole.first)
    broken.messages[0].from = 99
    broken.messages[0].nanoseconds = -5
    #expect(broken.svg().hasSuffix("</svg>"))
}

@Test func aCrowdedSegmentDrawsFortyBoxesAndLongCableLabelsWrap() {
    var t = ReportTopology(bridges: [.init(name: "br0", segments: ["lan"], segmentAddresses: ["10.0.0.1/24"], wan: nil)])
    for i in 1...45 { t.hosts.append(.init(name: "vm\(i)", bridge: "br0", segment: "lan", address: "dhcp")) }
    t.links = [.init(name: "links[0]", a: "vm1", b: "br0.lan", forward: "delay 20ms jitter 5ms loss 0.5% rate 10mbit limit 32",
                     reverse: "delay 20ms", initiallyUp: true)]
    let svg = TopologyDiagram(topology: t, title: "crowd").render()
    #expect(svg.contains("id=\"node-vm39\"") && !svg.contains("id=\"node-vm40\""))
    #expect(svg.contains(">+6 more</text>"))
    // vm1's cable: both directions, broken between words, nothing cut.
    #expect(svg.contains(">↑ delay 20ms jitter 5ms<title>") && svg.contains(">loss 0.5% rate 10mbit<title>")
            && svg.contains(">limit 32<title>") && svg.contains(">↓ delay 20ms<title>"))
    #expect(TopologyDiagram.wrap("a b c", to: 600) == ["a b c"])
    #expect(TopologyDiagram.wrap(String(repeating: "x", count: 80), to: 60).allSatisfy { $0.count <= 10 })
}

@Test func chartOfZerosOrTinyValuesHasDistinctTicks() {
    func yLabels(_ ys: [Double]) -> [String] {
        let svg = SVGChart(title: "rtt", xLabel: "seq", yLabel: "ms",
                           series: [.init(name: "rtt", points: ys.enumerated().map { (x: Double($0.offset + 1), y: $0.element) }, color: "#000", style: .line)],
                           integerX: true).render()
        var labels: [String] = []
        var rest = Substring(svg)
        while let r = rest.range(of: "font-size=\"11\" text-anchor=\"end\" fill=\"#374151\">") {
            let tail = rest[r.upperBound...]
            labels.append(String(tail.prefix { $0 != "<" }))
            rest = tail
        }
        return labels
    }
    for ys in [[0.0, 0, 0], [0.0001, 0.0002, 0.00015], [40, 80, 41]] {
        let labels = yLabels(ys)
        #expect(labels.count >= 3 && Set(labels).count == labels.count, "\(ys): \(labels)")
    }
    #expect(yLabels([0, 0, 0]).contains("1"))  // a 0…1 axis (and a little headroom)
}
