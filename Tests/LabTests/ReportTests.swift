import Basics
import Capture
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Wire
@testable import Lab

/// Three runs: one passing with a ping and a flow, one failing with frames, one skipped, one broken.
func sampleRuns(capturePath: String) -> [LabRun] {
    let ping = pingResult(dropReplyTo: 2)
    let location = ScenarioLocation(file: "scenarios/ping.yml", line: 12, column: 5)
    let pass = ExpectationOutcome(name: "p1: received ≥ 3", index: 0, location: location, passed: true, message: "received 4")
    let fail = ExpectationOutcome(name: "lan: no 'icmp' <after> \"cut\" & more", index: 1,
                                  location: ScenarioLocation(file: "scenarios/ping.yml", line: 14, column: 5), passed: false,
                                  message: "2 'icmp' present in 'lan', expected none: frame 8 at 1.100000s, frame 9 at 1.180000s\u{1}",
                                  frames: [FrameReference(capture: "lan", index: 7, time: Instant(nanoseconds: 1_100_000_000)),
                                           FrameReference(capture: "lan", index: 8, time: Instant(nanoseconds: 1_180_000_000))])
    let samples = (1...10).map { ThroughputSample(time: Instant(nanoseconds: UInt64($0) * 100_000_000), bitsPerSecond: Double($0 % 3 + 8) * 1e6) }
    let wire = BackToBack(delay: .milliseconds(1))
    let flood = wire.a.startUDPFlood(to: IPv4Address(10, 0, 0, 11), port: 9, size: 100, rate: .packetsPerSecond(10), duration: .seconds(1), now: .zero)
    wire.run(until: Instant(nanoseconds: 2_000_000_000))
    let flow = UDPFlowResult(sender: wire.a.floodStats(flood), receiver: nil, throughput: samples)
    let good = LabRun(scenarioName: "routed ping", scenarioFile: "scenarios/ping.yml", description: "Pings across the router.",
                      seed: 7, backend: "sim", simulatedDuration: .seconds(60), wallTime: .milliseconds(420),
                      outcomes: [pass],
                      actions: [ActionReport(name: "p1", kind: .ping, node: "vm1", description: "ping vm1 → vm2", result: .ping(ping)),
                                ActionReport(name: "flow", kind: .udp, node: "vm1", description: "udp vm1 → vm2:9", result: .udp(flow)),
                                ActionReport(name: "late", kind: .ping, node: "vm2", description: "ping vm2 → br0", result: nil)],
                      counters: [CounterTable(title: "vm1", rows: [.init("framesSent", 12), .init("framesReceived", 10)])],
                      captures: [CaptureFile(name: "lan", at: "br0.lan", filter: nil, path: capturePath, frames: 3)],
                      log: ["0.000000s vm1 DHCP INIT → SELECTING"])
    var bad = good
    bad.scenarioName = "cut link"
    bad.scenarioFile = "scenarios/cut.yml"
    bad.seed = 8
    bad.outcomes = [pass, fail]
    bad.captures = []
    let skipped = LabRun(scenarioName: "qemu only", scenarioFile: "scenarios/q.yml", seed: 1, backend: "sim",
                         status: .skipped("the scenario lists backends: qemu"))
    let broken = LabRun(scenarioName: "broken", scenarioFile: "scenarios/b.yml", seed: 1, backend: "sim",
                        status: .error("scenarios/b.yml:3:7: error: nodes: unknown key 'nods'\n  fix: did you mean 'nodes'?"))
    return [good, bad, skipped, broken]
}

#if canImport(FoundationXML)
@Test func junitIsWellFormedWithSeedBackendAndFailures() throws {
    let xml = JUnitReport.xml(sampleRuns(capturePath: "/tmp/x.pcap"), name: "lab run 1")
    let doc = try XMLDocument(xmlString: xml, options: [])
    let root = try #require(doc.rootElement())
    #expect(root.name == "testsuites")
    #expect(root.attribute(forName: "tests")?.stringValue == "5")
    #expect(root.attribute(forName: "failures")?.stringValue == "1")
    #expect(root.attribute(forName: "errors")?.stringValue == "1")
    #expect(root.attribute(forName: "skipped")?.stringValue == "1")
    let suites = root.elements(forName: "testsuite")
    #expect(suites.map { $0.attribute(forName: "name")?.stringValue } == ["routed ping", "cut link", "qemu only", "broken"])
    let properties = try suites[1].nodes(forXPath: "properties/property")
    let pairs = properties.compactMap { $0 as? XMLElement }.map { ($0.attribute(forName: "name")?.stringValue ?? "", $0.attribute(forName: "value")?.stringValue ?? "") }
    #expect(pairs.contains { $0 == ("seed", "8") } && pairs.contains { $0 == ("backend", "sim") })
    let cases = suites[1].elements(forName: "testcase")
    #expect(cases.count == 2 && cases[1].attribute(forName: "line")?.stringValue == "14")
    #expect(cases[1].attribute(forName: "name")?.stringValue == "lan: no 'icmp' <after> \"cut\" & more")
    let failure = try #require(cases[1].elements(forName: "failure").first)
    #expect(failure.attribute(forName: "message")?.stringValue?.hasPrefix("2 'icmp' present in 'lan'") == true)
    #expect(failure.stringValue?.contains("lan #8 1.100000s") == true)
    #expect(failure.stringValue?.contains("lan #9 1.180000s") == true)
    #expect(cases[0].elements(forName: "failure").isEmpty)
    #expect(suites[2].elements(forName: "testcase").first?.elements(forName: "skipped").count == 1)
    #expect(suites[3].elements(forName: "testcase").first?.elements(forName: "error").first?.attribute(forName: "message")?.stringValue
            == "scenarios/b.yml:3:7: error: nodes: unknown key 'nods'")
}

@Test func chartsAreWellFormedSVG() throws {
    let html = HTMLReport.render(sampleRuns(capturePath: "/tmp/x.pcap"), title: "t")
    var rest = Substring(html)
    var charts = 0
    while let start = rest.range(of: "<svg "), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
        let svg = String(rest[start.lowerBound..<end.upperBound])
        let doc = try XMLDocument(xmlString: svg, options: [])
        #expect(doc.rootElement()?.name == "svg")
        charts += 1
        rest = rest[end.upperBound...]
    }
    // Two runs with a ping and a flow each: an RTT chart and a throughput chart per run.
    #expect(charts == 4)
}
#endif

@Test func htmlIsSelfContainedWithTablesAndCharts() {
    let html = HTMLReport.render(sampleRuns(capturePath: "/tmp/x.pcap"), title: "Lab <run>", captureLinks: ["/tmp/x.pcap": "captures/routed-ping/lan.pcap"])
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(html.contains("<title>Lab &lt;run&gt;</title>"))
    #expect(html.contains("<style>") && !html.contains("<script") && !html.contains("src=\"http"))
    #expect(html.contains("<svg ") && html.contains("round-trip time per probe") && html.contains("received throughput"))
    #expect(html.contains("<title>lost 2</title>"))  // the dropped reply is marked on the RTT chart
    #expect(html.contains("<a href=\"captures/routed-ping/lan.pcap\">lan.pcap</a>"))
    #expect(html.contains("lan #8 @ 1.100000s"))
    #expect(html.contains("no &apos;icmp&apos; &lt;after&gt; &quot;cut&quot; &amp; more"))
    #expect(!html.contains("\u{1}"))
    #expect(html.contains("<td>did not run</td>"))
}

@Test func markdownSummaryTablesEveryRun() {
    let md = MarkdownSummary.render(sampleRuns(capturePath: "/tmp/x.pcap"), title: "Lab run 1")
    #expect(md.hasPrefix("# Lab run 1\n\n1 of 4 scenarios passed.\n"))
    #expect(md.contains("| [routed ping](#routed-ping) | sim | 7 | ✔ passed | 1/1 | 60s | 420ms |"))
    #expect(md.contains("| [cut link](#cut-link) | sim | 8 | ✘ failed (1 of 2) | 1/2 |"))
    #expect(md.contains("| ✘ | lan: no 'icmp' <after> \"cut\" & more | line 14 |"))
    #expect(md.contains("- **lan: no 'icmp' <after> \"cut\" & more**: lan #8 (1.100000s), lan #9 (1.180000s)"))
    #expect(md.contains("Skipped: the scenario lists backends: qemu"))
    #expect(md.contains("| p1 | ping vm1 → vm2 | 4/5 received, 20% loss"))
}

@Test func writerPutsEverythingInTheRunDirectory() throws {
    let dir = temporaryDirectory()
    let elsewhere = dir + "/elsewhere.pcap"
    let writer = try PcapWriter(path: elsewhere)
    try Frames.arp(target: Frames.router).withUnsafeBytes { try writer.write(frame: $0, at: .zero) }
    try writer.close()
    let files = try ReportWriter.write(sampleRuns(capturePath: elsewhere), to: dir + "/reports/run-1", title: "run-1")
    let fm = FileManager.default
    for f in [files.junit, files.summary, files.html] { #expect(fm.fileExists(atPath: f), "\(f)") }
    #expect(files.captures == [dir + "/reports/run-1/captures/routed-ping/lan.pcap"])
    let copied = try PcapReader(path: files.captures[0]).readAll()
    #expect(copied.count == 1)
    let html = try String(contentsOfFile: files.html, encoding: .utf8)
    #expect(html.contains("href=\"captures/routed-ping/lan.pcap\""))

    // A capture already inside the directory is linked where it is, not copied.
    let inside = dir + "/reports/run-2/pcaps/lan.pcap"
    try fm.createDirectory(atPath: dir + "/reports/run-2/pcaps", withIntermediateDirectories: true)
    try fm.copyItem(atPath: elsewhere, toPath: inside)
    let second = try ReportWriter.write(sampleRuns(capturePath: inside), to: dir + "/reports/run-2", title: "run-2")
    #expect(second.captures == [inside])
    #expect(try String(contentsOfFile: second.html, encoding: .utf8).contains("href=\"pcaps/lan.pcap\""))
}

@Test func chartTicksAreRound() {
    #expect(SVGChart.ticks(0, 10) == [0, 2, 4, 6, 8, 10])
    #expect(SVGChart.ticks(0, 47) == [0, 10, 20, 30, 40, 50])
    #expect(SVGChart.ticks(1, 20) == [5, 10, 15, 20])
    #expect(SVGChart.ticks(0, 0.3).count >= 4)
}

@Test func formattingIsStable() {
    #expect(Format.duration(.milliseconds(250)) == "250ms" && Format.duration(.seconds(3600)) == "1h")
    #expect(Format.duration(.microseconds(1500)) == "1.5ms" && Format.duration(.zero) == "0s")
    #expect(Format.percent(0.025) == "2.5%" && Format.bitRate(1.5e9) == "1.5gbit" && Format.bitRate(512e3) == "512kbit")
    #expect(Format.time(Instant(nanoseconds: 12_000_345_678)) == "12.000346s")
    #expect(Markup.slug("Routed ping / under loss!") == "routed-ping-under-loss")
}
