// IPv6 in scenarios: `ipv6:` on hosts, `family: ipv6` pings (sim), refusals on netns/qemu, and the
// suite's ipv6-link-local scenario (its captures' reproducibility and tshark read are checked by
// the suite test with every other scenario).

import Foundation
import Testing
import YAMLSchema
@testable import Lab

private let twoHosts = """
name: v6
seed: 3
duration: 8s
nodes:
  sw0: { kind: bridge, config: { name: sw0 } }
  a: { kind: host, attach: sw0, address: none, ipv6: fd00::6/64 }
  b: { kind: host, attach: sw0, address: none, ipv6: fd00::7/64 }
links:
  - { between: [a, sw0], delay: 1ms }
  - { between: [b, sw0], delay: 1ms }
captures:
  lan: { at: sw0 }
timeline:
  - { at: 3s, do: ping, node: a, to: b, family: ipv6, count: 3, interval: 200ms, as: ab }
  - { at: 3s, do: ping, node: b, to: a, family: ipv6, count: 3, interval: 200ms, as: ba }
expect:
  - { action: ab, received: { eq: 3 } }
  - { action: ba, received: { eq: 3 } }
  - { capture: lan, filter: "icmp6 and ip6[40] = 128 and ip6 dst fd00::7", count: { eq: 3 } }
  - { capture: lan, filter: "icmp6 and ip6[40] = 128 and ip6 src fd00::7 and ip6 dst fd00::6", count: { eq: 3 } }
"""

@Test func ipv6HostsPingEachOtherOnSim() throws {
    let (run, _) = try runScenario(twoHosts)
    #expect(run.status == .completed, "\(run.status)")
    #expect(run.outcomes.count == 4)
    for o in run.outcomes { #expect(o.passed, "\(o.name): \(o.message)") }
    // Both have an address in fd00::/64: each pings the other's, from its own.
    #expect(run.log.contains { $0.contains("ab: a pings b at fd00::7") })
    #expect(run.log.contains { $0.contains("ba: b pings a at fd00::6") })
}

@Test func ipv6PingFallsBackToTheLinkLocalWithoutARoute() throws {
    // a has only its link-local address and no router: b's fd00::7 is unreachable for it (no
    // on-link assumption, RFC 4943), so the name resolves to b's link-local.
    let text = twoHosts.replacingOccurrences(of: "ipv6: fd00::6/64", with: "ipv6: auto")
    let (run, _) = try runScenario(text)
    #expect(run.log.contains { $0.contains("ab: a pings b at fe80::") })
    #expect(run.log.contains { $0.contains("ba: b pings a at fe80::") })
    #expect(run.outcomes.first { $0.name.hasPrefix("ab:") }?.passed == true)
}

@Test func ipv6CountersAppearOnlyForIPv6Hosts() throws {
    let text = twoHosts.replacingOccurrences(of: "ipv6: fd00::7/64", with: "ipv6: fd00::5/64")
        .replacingOccurrences(of: "ipv6: fd00::6/64", with: "ipv6: fd00::5/64")
    let (run, _) = try runScenario(text)
    // Both claimed fd00::5 at 0 s: each saw the other's probe, both counted a duplicate.
    for host in ["a", "b"] {
        let table = run.counters.first { $0.title == "host \(host)" }
        #expect(table?.rows.first { $0.name == "ipv6.duplicateAddresses" }?.value == 1, "\(String(describing: table))")
        #expect(table?.rows.first { $0.name == "ipv6.dadProbesSent" }?.value == 2)
    }
    // Nobody answers from the duplicate: a pings b's link-local instead and gets answers.
    #expect(run.log.contains { $0.contains("ab: a pings b at fe80::") })
    let (v4, _) = try runScenario(pingScenario)
    #expect(!v4.counters.contains { $0.rows.contains { $0.name.hasPrefix("ipv6.") } })
}

@Test func ipv6ScenarioErrorsAreLocated() {
    let bad = twoHosts.replacingOccurrences(of: "ipv6: fd00::7/64", with: "ipv6: fd00::7")
    expectErrorIn(bad, line: 7, at: "fd00::7", message: "not auto or an IPv6 address", fix: "ipv6: fd00::5/64")
    let family = twoHosts.replacingOccurrences(of: "to: b, family: ipv6", with: "to: b, family: ipv7")
    expectErrorIn(family, line: 14, at: "ipv7", message: "family must be ipv4 or ipv6", fix: "family: ipv6")
    let toAddress = twoHosts.replacingOccurrences(of: "to: b, family: ipv6", with: "to: 10.0.0.9, family: ipv6")
    expectErrorIn(toAddress, line: 14, at: "ipv6", message: "pings a host by name", fix: "to: <host name>")
}

@Test func netnsAndQEMURefuseIPv6AtLoad() {
    for backend in ["netns", "qemu"] {
        let text = twoHosts.replacingOccurrences(of: "seed: 3", with: "seed: 3\nbackends: [sim, \(backend)]")
        let e = parseError(text)
        #expect(e != nil, "\(backend) accepted ipv6:")
        #expect(e?.message.contains(backend) == true && e?.description.contains("IPv6") == true, "\(String(describing: e))")
    }
    #expect(!BackendCapabilities.of(.netns).supports(.ipv6Hosts) && !BackendCapabilities.of(.qemu).supports(.ipv6Hosts))
    #expect(BackendCapabilities.of(.sim).supports(.ipv6Hosts))
}

/// `expectError` for a file named s.yml, at the first occurrence of `needle` on `line`.
private func expectErrorIn(_ text: String, line: Int, at needle: String, message: String, fix: String,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    expectError(text, line: line, at: needle, message: message, fix: fix, sourceLocation: sourceLocation)
}

@Test func theIPv6LinkLocalScenarioPasses() throws {
    let scenario = try Scenario.load(path: repositoryRoot + "/scenarios/ipv6-link-local.yml")
    let dir = temporaryDirectory()
    let run = SimBackend.run(scenario, seed: scenario.seed, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    #expect(run.outcomes.count == 9)
    for o in run.outcomes { #expect(o.passed, "\(o.name): \(o.message)") }
    for host in ["c", "d"] {
        #expect(run.counters.first { $0.title == "host \(host)" }?.rows.first { $0.name == "ipv6.duplicateAddresses" }?.value == 1)
    }
}
