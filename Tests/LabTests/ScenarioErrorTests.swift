import Foundation
import Testing
import YAMLSchema
@testable import Lab

/// The error parsing `text` gives, or nil if it parses.
func parseError(_ text: String, file: String = "s.yml", directory: String? = nil) -> ConfigError? {
    do {
        _ = try Scenario.parse(text, file: file, directory: directory ?? NSTemporaryDirectory())
        return nil
    } catch {
        return error
    }
}

/// The 1-based column of `needle` on 1-based line `line` of `text`.
func column(of needle: String, line: Int, in text: String) -> Int {
    let l = text.components(separatedBy: "\n")[line - 1]
    guard let r = l.range(of: needle) else { return -1 }
    return l.distance(from: l.startIndex, to: r.lowerBound) + 1
}

/// Asserts that `text` fails at line `line`, at the column where `needle` starts on that line,
/// with a message containing `message` and a fix containing `fix`.
func expectError(_ text: String, line: Int, at needle: String, message: String, fix: String? = nil,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    guard let e = parseError(text) else {
        Issue.record("parsed without error; expected '\(message)' at line \(line)", sourceLocation: sourceLocation)
        return
    }
    #expect(e.file == "s.yml", sourceLocation: sourceLocation)
    #expect(e.line == line, "\(e)", sourceLocation: sourceLocation)
    #expect(e.column == column(of: needle, line: line, in: text), "\(e)", sourceLocation: sourceLocation)
    #expect(e.message.contains(message), "\(e)", sourceLocation: sourceLocation)
    if let fix { #expect(e.fix?.contains(fix) == true, "\(e)", sourceLocation: sourceLocation) }
    #expect(e.description.hasPrefix("s.yml:\(e.line):\(e.column): error: "), sourceLocation: sourceLocation)
}

/// Lines 1–4: a router bridge and two hosts.
let base = """
nodes:
  br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.120 } } } }
  vm1: { kind: host, attach: br0 }
  vm2: { kind: host, attach: br0 }

"""

@Test func unreadableScenarioFileIsReportedWithItsPath() {
    // YAMLSchema parses text; Scenario.load reads the file and says so when it cannot.
    #expect(throws: ConfigError.unreadableFile("/nonexistent/scenario.yml")) { try Scenario.load(path: "/nonexistent/scenario.yml") }
}

@Test func unknownTopLevelKeySuggestsTheRightOne() {
    let text = base + "timline:\n  - { at: 1s, do: dhcp, node: vm1 }\n"
    expectError(text, line: 5, at: "timline", message: "unknown key 'timline'", fix: "did you mean 'timeline'?")
}

@Test func yamlSyntaxErrorIsLocated() {
    let e = parseError("nodes:\n  br0: { kind: bridge\n  vm1: [\n")
    #expect(e != nil && e!.line >= 2 && e!.message.hasPrefix("YAML syntax"))
}

@Test func nodeWithoutKind() {
    let text = base + "  vm3: { attach: br0 }\n"
    expectError(text, line: 5, at: "{ attach", message: "missing required key 'kind'", fix: "kind: bridge or kind: host")
}

@Test func attachToAMissingBridge() {
    let text = base + "  vm3: { kind: host, attach: br1 }\n"
    expectError(text, line: 5, at: "br1", message: "attach: no bridge named 'br1'", fix: "bridges here: br0")
}

@Test func attachToAMissingSegment() {
    let text = base + "  vm3: { kind: host, attach: br0.dmz }\n"
    expectError(text, line: 5, at: "br0.dmz", message: "bridge 'br0' has no segment 'dmz'", fix: "br0.lan")
}

@Test func attachToAHost() {
    let text = base + "  vm3: { kind: host, attach: vm1 }\n"
    expectError(text, line: 5, at: "vm1 }", message: "'vm1' is a host, not a bridge")
}

@Test func hostPluggedIntoNothing() {
    let text = base + "  vm3: { kind: host }\n"
    expectError(text, line: 5, at: "{ kind", message: "host 'vm3' is not plugged into anything", fix: "add attach:")
}

@Test func linkToAMissingNode() {
    let text = base + "links:\n  - { between: [vm1, br9], delay: 1ms }\n"
    expectError(text, line: 6, at: "br9", message: "no node named 'br9'", fix: "did you mean 'br0'?")
}

@Test func linkBetweenTwoHosts() {
    let text = base + "links:\n  - { between: [vm1, vm2] }\n"
    expectError(text, line: 6, at: "[vm1", message: "a link between two hosts")
}

@Test func hostWithTwoLinks() {
    let text = base + "links:\n  - { between: [vm1, br0] }\n  - { between: [br0, vm1], loss: 1% }\n"
    expectError(text, line: 7, at: "{ between", message: "host 'vm1' already has a link", fix: "remove one of the links")
}

@Test func linkDisagreeingWithAttach() {
    let text = """
    nodes:
      br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, interfaces: [{ name: dmz, ipv4: 10.0.9.1/24 }] } } }
      vm1: { kind: host, attach: br0 }
    links:
      - { between: [vm1, br0.dmz] }
    """
    expectError(text, line: 5, at: "{ between", message: "plugs 'vm1' into br0.dmz, but its attach: says br0.lan")
}

@Test func ambiguousRateIsRefused() {
    let text = base + "links:\n  - { between: [vm1, br0], rate: 100mbps }\n"
    expectError(text, line: 6, at: "100mbps", message: "'100mbps' is ambiguous", fix: "100mbit")
}

@Test func queueWithoutRate() {
    let text = base + "links:\n  - { between: [vm1, br0], queue: 25 }\n"
    expectError(text, line: 6, at: "25", message: "queue has no effect without a rate (forward direction)", fix: "add a rate")
}

@Test func lossOutOfRange() {
    let text = base + "links:\n  - { between: [vm1, br0], loss: 120% }\n"
    expectError(text, line: 6, at: "120%", message: "links[0].loss: '120%' is not a probability")
}

@Test func duplicateLinkNames() {
    let text = """
    nodes:
      br0: { kind: bridge }
      br1: { kind: bridge }
      br2: { kind: bridge }
    links:
      - { between: [br0, br1], name: trunk }
      - { between: [br1, br2], name: trunk }
    """
    expectError(text, line: 7, at: "trunk", message: "link name 'trunk' is used twice (first at s.yml:6:5)")
}

@Test func duplicateNodeNames() {
    let text = base + "  vm1: { kind: host, attach: br0 }\n"
    guard let e = parseError(text) else { Issue.record("duplicate node parsed"); return }
    #expect(e.line == 5 || e.line == 3, "\(e)")
    #expect(e.message.contains("vm1") && (e.message.contains("twice") || e.message.contains("duplicate")), "\(e)")
}

@Test func duplicateActionNames() {
    let text = base + "timeline:\n  - { at: 0s, do: dhcp, node: vm1, as: a }\n  - { at: 1s, do: dhcp, node: vm2, as: a }\n"
    expectError(text, line: 7, at: "a }", message: "the name 'a' is used twice (first at s.yml:6:5)", fix: "its own as: name")
}

@Test func duplicateExpectationNames() {
    let text = base + "captures: { lan: { at: br0 } }\nexpect:\n  - { name: x, capture: lan, count: 1 }\n  - { name: x, capture: lan, absent: true }\n"
    expectError(text, line: 8, at: "x,", message: "expectation name 'x' is used twice")
}

@Test func unknownActionKind() {
    let text = base + "timeline:\n  - { at: 0s, do: pnig, node: vm1 }\n"
    expectError(text, line: 6, at: "pnig", message: "unknown action 'pnig'", fix: "ping")
}

@Test func actionKeyThatBelongsToAnotherAction() {
    let text = base + "timeline:\n  - { at: 0s, do: dhcp, node: vm1, count: 3 }\n"
    expectError(text, line: 6, at: "count", message: "unknown key 'count'", fix: "allowed here: at, after, do, as, node")
}

@Test func actionOnABridge() {
    let text = base + "timeline:\n  - { at: 0s, do: dhcp, node: br0 }\n"
    expectError(text, line: 6, at: "br0 }", message: "'br0' is a bridge; dhcp runs on a host", fix: "vm1, vm2")
}

@Test func pingToAnUnknownTarget() {
    let text = base + "timeline:\n  - { at: 0s, do: ping, node: vm1, to: vm7 }\n"
    expectError(text, line: 6, at: "vm7", message: "'vm7' is neither a node nor an IPv4 address", fix: "nodes here: br0, vm1, vm2")
}

@Test func timeAfterTheEndOfTheRun() {
    let text = "duration: 10s\n" + base + "timeline:\n  - { at: 12s, do: dhcp, node: vm1 }\n"
    expectError(text, line: 7, at: "12s", message: "at 12s is not before the end of the run (duration 10s)")
}

@Test func afterAnUnknownEntry() {
    let text = base + "timeline:\n  - { at: 0s, do: dhcp, node: vm1, as: d1 }\n  - { after: d2 + 1s, do: dhcp, node: vm2 }\n"
    expectError(text, line: 7, at: "d2 + 1s", message: "after: no timeline entry is named 'd2'", fix: "use one of: d1")
}

@Test func afterCycle() {
    let text = base + """
    timeline:
      - { after: b, do: dhcp, node: vm1, as: a }
      - { after: a + 1s, do: dhcp, node: vm2, as: b }
    """
    expectError(text, line: 6, at: "b,", message: "after: waits on itself (a → b → a)", fix: "at: instead")
}

@Test func linkIndexOutOfRange() {
    let text = base + "links:\n  - { between: [vm1, br0] }\ntimeline:\n  - { at: 1s, do: link-down, link: 3 }\n"
    expectError(text, line: 8, at: "3 }", message: "no link 3: the file has 1 link(s)", fix: "from 0 to 0")
}

@Test func impairThatChangesNothing() {
    let text = base + "links:\n  - { between: [vm1, br0] }\ntimeline:\n  - { at: 1s, do: impair, link: 0 }\n"
    expectError(text, line: 8, at: "{ at", message: "impair changes nothing")
}

@Test func replayOfAMissingPcap() {
    let text = base + "timeline:\n  - { at: 1s, do: replay, pcap: nothere.pcap, into: br0 }\n"
    expectError(text, line: 6, at: "nothere.pcap", message: "cannot replay nothere.pcap")
}

@Test func captureAtAMissingSegment() {
    let text = base + "captures:\n  dmz: { at: br0.dmz }\n"
    expectError(text, line: 6, at: "br0.dmz", message: "bridge 'br0' has no segment 'dmz'")
}

@Test func filterThatDoesNotCompile() {
    let text = base + "captures:\n  lan: { at: br0, filter: \"udp prot 67\" }\n"
    expectError(text, line: 6, at: "\"udp prot", message: "filter \"udp prot 67\" does not compile", fix: "pcap-filter(7)")
}

@Test func expectationOnAnUnknownCapture() {
    let text = base + "captures:\n  lan: { at: br0 }\nexpect:\n  - { capture: wan, count: { ge: 1 } }\n"
    expectError(text, line: 8, at: "wan", message: "no capture named 'wan'", fix: "use one of: lan")
}

@Test func expectationOnAnUnknownAction() {
    let text = base + "timeline:\n  - { at: 0s, do: dhcp, node: vm1, as: d1 }\nexpect:\n  - { action: p1, received: 3 }\n"
    expectError(text, line: 8, at: "p1", message: "no timeline entry is named 'p1'", fix: "use one of: d1")
}

@Test func metricThatTheActionDoesNotHave() {
    let text = base + "timeline:\n  - { at: 0s, do: dhcp, node: vm1, as: d1 }\nexpect:\n  - { action: d1, rtt.avg: { le: 1ms } }\n"
    expectError(text, line: 8, at: "rtt.avg", message: "unknown key 'rtt.avg'", fix: "bound, lease, lease-time, router, dns, time")
}

@Test func expectationOnAnActionWithoutResults() {
    let text = base + "links:\n  - { between: [vm1, br0] }\ntimeline:\n  - { at: 1s, do: link-down, link: 0, as: cut }\nexpect:\n  - { action: cut, sent: 1 }\n"
    expectError(text, line: 10, at: "cut,", message: "'cut' is a link-down action, which has no results to check", fix: "capture")
}

@Test func badBoundOperator() {
    let text = base + "timeline:\n  - { at: 0s, do: ping, node: vm1, to: vm2, as: p }\nexpect:\n  - { action: p, received: { atleast: 3 } }\n"
    expectError(text, line: 8, at: "atleast", message: "unknown key 'atleast'", fix: "ge")
}

@Test func absentFalseChecksNothing() {
    let text = base + "captures:\n  lan: { at: br0 }\nexpect:\n  - { capture: lan, absent: false }\n"
    expectError(text, line: 8, at: "false", message: "absent: false checks nothing", fix: "count")
}

@Test func twoChecksInOneCaptureExpectation() {
    let text = base + "captures:\n  lan: { at: br0 }\nexpect:\n  - { capture: lan, count: 1, absent: true }\n"
    expectError(text, line: 8, at: "true", message: "give one of count, absent, sequence, latency")
}

@Test func unknownDHCPField() {
    let text = base + "captures:\n  lan: { at: br0 }\nexpect:\n  - dhcp: { capture: lan, message: ack, field: yaddr, equals: 10.0.0.100 }\n"
    expectError(text, line: 8, at: "yaddr", message: "unknown DHCP field 'yaddr'", fix: "yiaddr")
}

@Test func dhcpAddressFieldComparedBySize() {
    let text = base + "captures:\n  lan: { at: br0 }\nexpect:\n  - dhcp: { capture: lan, message: ack, field: yiaddr, ge: 10.0.0.100 }\n"
    expectError(text, line: 8, at: "10.0.0.100", message: "yiaddr is an address", fix: "equals: or in:")
}

@Test func staticGatewayOffTheSubnet() {
    let text = base + "  vm3: { kind: host, attach: br0, address: 10.0.0.5/24, gateway: 10.1.0.1 }\n"
    expectError(text, line: 5, at: "10.1.0.1", message: "gateway 10.1.0.1 is not another address on 10.0.0.5/24")
}

@Test func backendThatCannotHonourAField() {
    let text = "backends: [sim, qemu]\n" + base + "  vm3: { kind: host, attach: br0, mtu: 9000 }\n"
    expectError(text, line: 6, at: "9000", message: "nodes.vm3.mtu: the qemu backend cannot honour host mtu",
                fix: "take 'qemu' out of backends:")
}

@Test func backendThatCannotLinkBridges() {
    let text = """
    backends: qemu
    nodes:
      br0: { kind: bridge }
      br1: { kind: bridge }
    links:
      - { between: [br0, br1] }
    """
    // The second bridge is the first thing qemu cannot do, and it is reported where it is written.
    expectError(text, line: 4, at: "{ kind", message: "the qemu backend cannot honour more than one bridge")
}

@Test func unknownBackend() {
    let text = "backends: [sim, vmware]\n" + base
    expectError(text, line: 1, at: "vmware", message: "unknown backend 'vmware'", fix: "sim, netns, qemu")
}

@Test func bridgeWithAWANUplink() {
    let text = """
    nodes:
      br0:
        kind: bridge
        config:
          wan: { type: udp, endpoint: 203.0.113.7:9000 }
    """
    expectError(text, line: 5, at: "{ type", message: "a WAN needs the router")
}

@Test func errorsInsideTheInlineBridgeConfigKeepTheirPlace() {
    let text = """
    nodes:
      br0:
        kind: bridge
        config:
          router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.300 } }
    """
    expectError(text, line: 5, at: "10.0.0.300", message: "'10.0.0.300' is not an IPv4 address")
}

@Test func dhcpConditionWithoutAField() {
    let text = base + "captures:\n  lan: { at: br0 }\nexpect:\n  - dhcp: { capture: lan, message: ack, in: 10.0.0.100-10.0.0.120 }\n"
    expectError(text, line: 8, at: "10.0.0.100-", message: "in: a condition needs the field it is about", fix: "count:")
}

@Test func dhcpExpectationWithNothingToCheck() {
    let text = base + "captures:\n  lan: { at: br0 }\nexpect:\n  - dhcp: { capture: lan, message: offer }\n"
    expectError(text, line: 8, at: "{ capture", message: "nothing to check about the DHCPOFFER messages", fix: "count: { ge: 1 }")
}

@Test func dhcpCountParses() throws {
    let s = try Scenario.parse(base + "captures:\n  lan: { at: br0 }\nexpect:\n  - dhcp: { capture: lan, message: DHCPDISCOVER, client: vm2, count: { eq: 1 } }\n",
                               file: "s.yml", directory: NSTemporaryDirectory())
    guard case .dhcp(let d) = s.expectations[0].kind else { Issue.record("not a dhcp expectation"); return }
    #expect(d.message == .discover && d.count == [Comparison(.eq, 1)] && d.field == nil && d.client == "vm2")
    #expect(s.expectations[0].name == "lan: DHCPDISCOVER count = 1 (client vm2)")
}
