// Every error of a scenario file in one pass: independent errors in every section are all reported,
// in file order, and an error that only follows from another (a reference to a broken item) is not.
import Foundation
import Testing
import YAMLSchema
@testable import Lab

func allErrors(_ text: String) -> [ConfigError] {
    switch Scenario.parseAll(text, file: "s.yml", directory: NSTemporaryDirectory()) {
    case .success: return []
    case .failure(let f): return f.errors
    }
}

@Test func everyIndependentErrorIsReportedInFileOrder() {
    let text = """
    name: many-errors
    seed: -3
    nodes:
      br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.120 } } } }
      vm1: { kind: host, attach: br0 }
      vm2: { kind: host, attach: br0, mtu: 99 }
      vm3: { kind: hots }
    links:
      - { between: [vm1, br0], delay: 5 parsecs }
    captures:
      lan: { at: br0, filter: "udp prot 67" }
    timeline:
      - { at: 0s, do: dhcp, node: vm1 }
      - { at: 1s, do: teleport, node: vm1 }
      - { at: 2s, do: ping, node: vm1, to: vm1, count: 0, as: p1 }
    expect:
      - { action: p2, received: 1 }
      - { capture: lan, count: { ge: 1 }, colour: blue }
    dureation: 10s

    """
    let errors = allErrors(text)
    #expect(errors.map(\.line) == [2, 6, 7, 9, 11, 14, 15, 17, 18, 19], "\(errors.map(\.description).joined(separator: "\n"))")
    #expect(errors.first?.message.contains("is not a seed") == true)
    #expect(errors.last?.message.contains("unknown key 'dureation'") == true)
    #expect(errors.allSatisfy { $0.file == "s.yml" && $0.column > 0 })
    // The one-error entry points give the first of them.
    #expect(throws: errors[0]) { try Scenario.parse(text, file: "s.yml", directory: NSTemporaryDirectory()) }
}

@Test func errorsThatFollowFromABrokenItemAreNotRepeated() {
    let text = """
    nodes:
      br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.120 } } } }
      vm1: { kind: host, attach: br0 }
      vm2: { kind: host, attach: br0, mac: "not-a-mac" }
    links:
      - { between: [vm2, br0], name: cable2, delay: 1ms }
      - { between: [br0, vm1], name: cable1, rate: fast }
    captures:
      lan: { at: br0, filter: "udp port" }
    timeline:
      - { at: 0s, do: dhcp, node: vm2, as: d2 }
      - { at: 1s, do: link-down, link: cable1 }
      - { at: 1s, do: link-down, link: 1 }
      - { after: d2, do: ping, node: vm1, to: vm2, as: p1 }
      - { after: p1, do: ping, node: vm1, to: br0, as: p2 }
    expect:
      - { action: p1, received: 1 }
      - { capture: lan, count: { ge: 1 } }
      - { action: p2, received: 1 }

    """
    // vm2's MAC, cable1's rate and the capture's filter; nothing about vm2, cable1, link 1, d2, p1 or lan after that.
    let errors = allErrors(text)
    #expect(errors.map(\.line) == [4, 7, 9], "\(errors.map(\.description).joined(separator: "\n"))")
}

@Test func anAfterChainIntoALoopIsReportedOnceAndEnds() {
    // r waits on a, which waits on b, which waits on a: r is not on the loop (walking from r never
    // comes back to r). The loop is reported once, at its first entry in file order.
    let text = base + """
    timeline:
      - { after: a, do: dhcp, node: vm2, as: r }
      - { after: b, do: dhcp, node: vm1, as: a }
      - { after: a + 1s, do: dhcp, node: vm2, as: b }

    """
    let errors = allErrors(text)
    #expect(errors.count == 1, "\(errors)")
    #expect(errors.first?.line == 7 && errors.first?.message == "timeline[1].after: after: waits on itself (a → b → a)", "\(errors)")
}

@Test func unknownTopLevelKeysDoNotHideTheRest() {
    let text = "colour: blue\n" + base + "timline: []\n"
    let errors = allErrors(text)
    #expect(errors.map(\.line) == [1, 6] && errors.allSatisfy { $0.message.hasPrefix("unknown key") })
}

@Test func aSectionBrokenAsAWholeHidesOnlyItsOwnReferences() {
    // links: and timeline: are not lists: two errors, and nothing about link 0 or p1 afterwards.
    let text = base + """
    links: { between: [vm1, br0] }
    captures:
      lan: { at: br0 }
    timeline: ping
    expect:
      - { action: p1, received: 1 }
      - { capture: lan, count: { ge: 1 }, filter: "nonsense here" }

    """
    let errors = allErrors(text)
    #expect(errors.map(\.line) == [5, 8, 11], "\(errors.map(\.description).joined(separator: "\n"))")
}
