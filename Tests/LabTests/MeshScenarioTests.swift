// Mesh nodes in scenario files (docs/scenarios.md, "Mesh scenarios"): bad files refused with located errors and
// fixes, runs seeded and byte-identical, expectations that can fail, and the signalled failure hook.
import Foundation
import Testing
import YAMLSchema
@testable import Lab

private let small = """
    name: mesh-small
    seed: 11
    duration: 30s
    nodes:
      a: { kind: mesh }
      b: { kind: mesh }
      r: { kind: mesh, relay: true }
    links:
      - { between: [a, b], name: ab, delay: 5ms }
      - { between: [a, r], delay: 5ms }
      - { between: [r, b], delay: 5ms }
    timeline:
      - { at: 0s, do: ping-all, within: 10s, as: all }
      - { at: 12s, do: ping, node: a, to: b, count: 100, interval: 100ms, as: p }
      - { at: 14s, do: link-down, link: ab }
    expect:
      - { action: all, answered: { eq: 6 }, converged: { le: 10s } }
      - { action: p, outage: { le: 3.5s }, received: { ge: 60 } }
      - { path: { from: a, to: b }, is: direct, at: 13s }
      - { path: { from: a, to: b }, is: relayed via r }
      - { route: { node: a, to: b }, present: true }
      - { control-traffic: { le: 16000 }, from: 20s }
      - { loops: { eq: 0 }, every: 100ms }
    """

private func parse(_ text: String) throws(ConfigError) -> Scenario { try Scenario.parse(text, file: "mesh.yml") }

private func errors(_ text: String) -> [ConfigError] {
    switch Scenario.parseAll(text, file: "mesh.yml") {
    case .success: return []
    case .failure(let f): return f.errors
    }
}

@Test func meshScenarioParsesNodesLinksTimelineAndExpectations() throws {
    let s = try parse(small)
    let mesh = try #require(s.mesh)
    #expect(mesh.nodes.map(\.name) == ["a", "b", "r"])
    #expect(mesh.links.map(\.name) == ["ab", "a-r", "b-r"])
    #expect(mesh.timeline.count == 3)
    #expect(mesh.expectations.count == 7)
    #expect(s.nodes.isEmpty && s.expectations.isEmpty)
    // count: names nodes n0 … n(N-1); between: all links every pair not linked yet.
    let many = try parse("nodes:\n  n: { kind: mesh, count: 5 }\nlinks:\n  - { between: [n0, n1], delay: 1ms }\n  - { between: all }\n")
    #expect(many.mesh?.nodes.map(\.name) == ["n0", "n1", "n2", "n3", "n4"])
    #expect(many.mesh?.links.count == 10)
    #expect(many.mesh?.links[0].delay == .milliseconds(1))
}

@Test func meshScenarioRefusesBadInputWithLocatedErrors() {
    let cases: [(String, String, String)] = [
        // (file, message fragment, fix fragment)
        ("nodes:\n  a: { kind: mesh }\n  br0: { kind: bridge }\n", "a scenario with mesh nodes has only mesh nodes", "another scenario file"),
        ("backends: [sim, netns]\nnodes:\n  a: { kind: mesh }\n", "sim backend only", "sluice mesh up"),
        ("nodes:\n  n: { kind: mesh, count: 300 }\n", "out of range", "1...240"),
        ("nodes:\n  n: { kind: mesh, count: 0 }\n", "out of range", "1...240"),
        ("nodes:\n  a: { kind: mesh }\nlinks:\n  - { between: [a, b] }\n", "no mesh node is named 'b'", "use one of the nodes"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nlinks:\n  - { between: [a, b], delay: 11s }\n", "too long", "at most 10s"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nlinks:\n  - { between: [a, b], loss: 120% }\n", "not a probability", "percentage"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nlinks:\n  - { between: [a, b] }\n  - { between: [b, a] }\n", "linked twice", "keep one"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\ntimeline:\n  - { at: 1s, do: jump, node: a }\n", "unknown mesh action 'jump'", "use one of"),
        ("duration: 10s\nnodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\ntimeline:\n  - { at: 20s, do: ping, node: a, to: b }\n", "after the run ends", "duration"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\ntimeline:\n  - { at: 1s, do: ping, node: a, to: b, interval: 0s }\n", "1ms … 60s", "interval"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\ntimeline:\n  - { at: 1s, do: link-down, link: nope }\n", "no link is named 'nope'", "name it"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\ntimeline:\n  - { at: 1s, do: partition, nodes: [a, b] }\n", "two non-empty sides", "not none or all"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\ntimeline:\n  - { at: 1s, do: revoke, node: a, via: a }\n", "another node first", "via"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nexpect:\n  - { path: { from: a, to: b }, is: sideways }\n", "not a path", "relayed via"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nexpect:\n  - { action: nothing, received: 1 }\n", "no timeline entry is named", "as: nothing"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\ntimeline:\n  - { at: 1s, do: heal, as: h }\nexpect:\n  - { action: h, received: 1 }\n", "no results to check", "outage"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nexpect:\n  - { control-traffic: { le: 10 }, from: 5s, until: 2s }\n", "not after from", "window"),
        ("nodes:\n  a: { kind: mesh }\ncaptures:\n  x: { at: a }\n", "no captures", "remove captures"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nexpect:\n  - { route-changes: { node: a, to: b } }\n", "nothing to check", "gap"),
        ("nodes:\n  a: { kind: mesh }\n  b: { kind: mesh }\nexpect:\n  - { route: { node: a, to: b }, every: 1s }\n", "does not apply", "allowed here"),
    ]
    for (text, message, fix) in cases {
        let found = errors(text)
        let hit = found.first { $0.message.contains(message) }
        #expect(hit != nil, "\(text)\n→ \(found.map(\.description))")
        if let hit {
            #expect(hit.fix?.contains(fix) == true, "\(hit.description)")
            #expect(hit.line >= 1 && hit.column >= 1 && hit.file == "mesh.yml")
        }
    }
}

@Test func meshScenarioRunsPassAndAreByteIdenticalFromTheSeed() throws {
    let s = try parse(small)
    let mesh = try #require(s.mesh)
    let (run, digest) = try MeshScenarioRun(s, mesh: mesh, seed: 11).run()
    for o in run.outcomes { print("mesh-small: \(o.passed ? "pass" : "FAIL") \(o.name): \(o.message)") }
    #expect(run.status == .completed)
    #expect(run.outcomes.count == 7)
    #expect(run.outcomes.filter { !$0.passed }.isEmpty)
    let (again, digest2) = try MeshScenarioRun(s, mesh: mesh, seed: 11).run()
    #expect(digest == digest2)
    #expect(again.outcomes.map(\.message) == run.outcomes.map(\.message))
    #expect(again.log == run.log)
    let (_, other) = try MeshScenarioRun(s, mesh: mesh, seed: 12).run()
    #expect(other != digest)
    // Log lines are structured: <time> <level> <event> key=value…
    for line in run.log {
        let parts = line.split(separator: " ")
        #expect(parts.count >= 3 && parts[0].hasSuffix("s") && parts[1] == "info" && parts[2].hasPrefix("mesh-"), "\(line)")
    }
}

@Test func meshScenarioExpectationsCanFail() throws {
    // The same mesh with bounds it cannot meet: a silent cut cannot fail over in 100 ms, the path is not direct
    // after the cut, and the control traffic is not under 10 B/s.
    let strict = small
        .replacingOccurrences(of: "outage: { le: 3.5s }", with: "outage: { le: 100ms }")
        .replacingOccurrences(of: "is: relayed via r }", with: "is: direct }")
        .replacingOccurrences(of: "le: 16000", with: "le: 10")
    let s = try parse(strict)
    let (run, _) = try MeshScenarioRun(s, mesh: try #require(s.mesh), seed: 11).run()
    let failed = run.outcomes.filter { !$0.passed }.map(\.index)
    #expect(failed == [1, 3, 5], "\(run.outcomes.map { "\($0.index) \($0.passed) \($0.message)" })")
    #expect(run.outcomes[1].message.contains("expected ≤ 100ms"))
}

@Test func meshScenarioSignalledFailureFailsOverAtOnce() throws {
    // Same cut, signalled: the engine is told at once and the gap between replies stays near the ping interval.
    let signalled = small.replacingOccurrences(of: "do: link-down, link: ab }", with: "do: link-down, link: ab, signal: true }")
        .replacingOccurrences(of: "outage: { le: 3.5s }", with: "outage: { le: 500ms }")
    let s = try parse(signalled)
    let (run, _) = try MeshScenarioRun(s, mesh: try #require(s.mesh), seed: 11).run()
    for o in run.outcomes { print("mesh-small signalled: \(o.passed ? "pass" : "FAIL") \(o.name): \(o.message)") }
    #expect(run.outcomes.filter { !$0.passed }.isEmpty)
}

@Test func meshScenarioDocumentedExampleParses() throws {
    // The example under "Mesh scenarios" in docs/scenarios.md is a valid file.
    let doc = try String(contentsOfFile: repositoryRoot + "/docs/scenarios.md", encoding: .utf8)
    let section = try #require(doc.range(of: "## Mesh scenarios"))
    let rest = doc[section.upperBound...]
    let open = try #require(rest.range(of: "```yaml\n"))
    let close = try #require(rest[open.upperBound...].range(of: "```"))
    let s = try Scenario.parse(String(rest[open.upperBound..<close.lowerBound]), file: "docs/scenarios.md")
    let mesh = try #require(s.mesh)
    #expect(mesh.nodes.count == 9)
    #expect(mesh.nodes.last?.relay == false)
    #expect(mesh.links.count == 36)
}
