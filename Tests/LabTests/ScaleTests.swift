// The generated scale scenario (Lab/Bench/ScaleScenario.swift) at 100 hosts: every host gets a
// lease, pings its router and sends its flow. The 1,000-host one is fixtures/scale/ (run by
// `sluice bench sim` and once by CI), kept out of the default suite for time.
import Foundation
import Testing
@testable import Lab

@Test func hundredHostScaleScenarioPasses() throws {
    let dir = temporaryDirectory()
    let scenario = try Scenario.parse(ScaleScenario.text(hosts: 100), file: dir + "/scale.yml")
    #expect(scenario.nodes.count == 101 && scenario.timeline.count == 300 && scenario.expectations.count == 100)
    let run = SimBackend.run(scenario, seed: scenario.seed, captureDirectory: dir + "/captures")
    #expect(run.status == .completed, "\(run.status)")
    let failed = run.outcomes.filter { !$0.passed }
    #expect(failed.isEmpty, "\(failed.prefix(3).map(\.message))")
    // Every flow ran to its end.
    let flows = run.actions.filter { $0.name.hasPrefix("u") }
    #expect(flows.count == 100)
    for f in flows { guard case .udp(let r)? = f.result else { Issue.record("\(f.name) has no result"); continue }
        #expect(r.sender.sent == 200, "\(f.name): \(r.sender)") }
}
@Test func scaleFixtureIsTheGeneratedThousandHostScenario() throws {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../fixtures/scale/scale-1000.yml").path
    #expect(try String(contentsOfFile: path, encoding: .utf8) == ScaleScenario.text(hosts: 1000))
}
