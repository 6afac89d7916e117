// Every scenario in scenarios/ loads: the suite the main job runs is always valid.
import Foundation
import Testing
@testable import Lab

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

func scenarioFiles() -> [String] {
    let dir = repositoryRoot + "/scenarios"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return names.filter { $0.hasSuffix(".yml") }.sorted().map { dir + "/" + $0 }
}

@Test func theScenarioSuiteLoads() throws {
    let files = scenarioFiles()
    #expect(files.count >= 11)
    for file in files {
        do { _ = try Scenario.load(path: file) } catch { Issue.record("\(error)") }
    }
}
