// run.json and `sluice lab merge`: the shards of a suite merge into the report one run would write,
// and inputs that do not belong together are refused with a message saying why.
import Foundation
import Testing
@testable import Lab

/// The run as the reports see it, for comparing runs (wall time left out).
func fingerprint(_ r: LabRun) -> String {
    let outcomes = r.outcomes.map { "\($0.name)|\($0.passed)|\($0.message)|\($0.location)|\($0.frames.map(\.description))|\($0.checks)" }
    let actions = r.actions.map { "\($0.name)|\($0.kind)|\($0.description)|\($0.result?.summary ?? "-")|\($0.result.map { "\($0.startedAt)" } ?? "-")" }
    return ([r.scenarioName, r.scenarioFile, "\(r.seed)", r.backend, r.verdict, "\(r.simulatedDuration)"] + outcomes + actions
            + r.counters.flatMap { t in t.rows.map { "\(t.title).\($0.name)=\($0.value)" } } + r.log
            + ["\(String(describing: r.topology))", "\(r.ladders)", "\(r.bounds)"]).joined(separator: "\n")
}

@Test func aRunFileRoundTrips() throws {
    let dir = temporaryDirectory()
    try writeSuite(dir + "/s", count: 1)
    let summary = LabRunner.run(files: [dir + "/s"], seed: 3, filter: nil, backend: "sim", reportDirectory: dir + "/r") { _ in }
    #expect(summary.exitCode == 0 && summary.runFile == dir + "/r/run.json")
    let file = try LabRunFile.read(directory: dir + "/r")
    #expect(file.runs.count == 1 && file.seed == 3 && file.backend == "sim" && file.files == [dir + "/s/s0.yml"])
    #expect(file.runs.map(fingerprint) == summary.runs.map(fingerprint))
    #expect(!file.runs[0].captures.isEmpty && file.runs[0].captures.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
    // Capture paths are stored relative to the report, so a moved report still finds them.
    let text = try String(contentsOfFile: dir + "/r/run.json", encoding: .utf8)
    #expect(!text.contains(dir + "/r/captures") && text.contains("\"captures/s0/"))
    try FileManager.default.moveItem(atPath: dir + "/r", toPath: dir + "/moved")
    let moved = try LabRunFile.read(directory: dir + "/moved")
    #expect(moved.runs[0].captures.allSatisfy { $0.path.hasPrefix(dir + "/moved/") && FileManager.default.fileExists(atPath: $0.path) })
}

@Test func shardsMergeIntoTheReportOfOneRun() throws {
    let dir = temporaryDirectory()
    try writeSuite(dir + "/s", count: 5)
    // One scenario fails, so the merge carries a failure through.
    try pingScenario.replacingOccurrences(of: "name: dhcp-and-ping", with: "name: s3")
        .replacingOccurrences(of: "received: 3 }", with: "received: 4 }")
        .write(toFile: "\(dir)/s/s3.yml", atomically: true, encoding: .utf8)
    let whole = LabRunner.run(files: [dir + "/s"], seed: nil, filter: nil, backend: "sim", reportDirectory: dir + "/whole") { _ in }
    #expect(whole.runs.count == 5 && whole.failed == 1 && whole.exitCode == 1)
    var parts: [String] = []
    for i in 1...3 {
        let part = LabRunner.run(files: [dir + "/s"], seed: nil, filter: nil, shard: Shard(index: i, count: 3), backend: "sim",
                                 reportDirectory: dir + "/part\(i)") { _ in }
        #expect(part.runs.count == 2 || part.runs.count == 1)
        parts.append(dir + "/part\(i)")
    }
    let merged = try LabMerge.merge(directories: parts.reversed())
    #expect(merged.runs.map(fingerprint) == whole.runs.map(fingerprint))
    #expect(merged.files == whole.runs.map(\.scenarioFile) && merged.shard == nil)
    let files = try ReportWriter.write(merged.runs, to: dir + "/merged", title: merged.title)
    let junit = try String(contentsOfFile: files.junit, encoding: .utf8)
    #expect(junit.components(separatedBy: "<testcase ").count - 1 == whole.runs.map(\.outcomes.count).reduce(0, +))
    #expect(junit.contains("<failure"))
    let html = try String(contentsOfFile: files.html, encoding: .utf8)
    #expect(["s0", "s1", "s2", "s3", "s4"].allSatisfy { html.contains($0) })
    #expect(html.contains("5/5 received"))  // the recorded action summaries are shown
    let wholeHTML = try String(contentsOfFile: dir + "/whole/index.html", encoding: .utf8)
    let chartCount = { (page: String) in page.components(separatedBy: "class=\"chart\"").count - 1 }
    #expect(chartCount(html) > 0 && chartCount(html) == chartCount(wholeHTML), "the charts come through the run files")
    // The failure summary (measured against bound), topologies and ladders come through the run files.
    let failuresHTML = html.components(separatedBy: "id=\"failures\"").dropFirst().first?.components(separatedBy: "</table>").first ?? ""
    let failures = failuresHTML.replacingOccurrences(of: "<[^>]+>", with: " ", options: .regularExpression)
        .split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(failures.contains("received = 4") && failures.contains("received 3 = 4"), "measured against bound: \(failures)")
    #expect(merged.runs.allSatisfy { $0.topology != nil } && merged.runs.contains { !$0.ladders.isEmpty })
    // Every capture of every shard is copied into the merged report.
    #expect(files.captures.count == whole.report?.captures.count && files.captures.allSatisfy { $0.hasPrefix(files.directory + "/") })
    #expect(files.captures.allSatisfy { FileManager.default.fileExists(atPath: $0) })
}

@Test func mergeRefusesInputsThatDoNotBelongTogether() throws {
    let dir = temporaryDirectory()
    try writeSuite(dir + "/s", count: 3)
    func run(_ report: String, seed: UInt64? = nil, filter: String? = nil, shard: Shard? = nil) {
        _ = LabRunner.run(files: [dir + "/s"], seed: seed, filter: filter, shard: shard, backend: "sim", reportDirectory: dir + "/" + report) { _ in }
    }
    run("a1", shard: Shard(index: 1, count: 2)); run("a2", shard: Shard(index: 2, count: 2))
    run("b1", seed: 9, shard: Shard(index: 1, count: 2)); run("c1", shard: Shard(index: 1, count: 3))
    run("all"); run("all-again"); run("s1only", filter: "s1")
    func refusal(_ inputs: [String]) -> String? {
        do { _ = try LabMerge.merge(directories: inputs.map { dir + "/" + $0 }); return nil } catch { return error.description }
    }
    #expect(refusal(["a1", "a2"]) == nil)
    #expect(refusal(["a1", "a1"])?.contains("is given twice") == true)
    #expect(refusal(["a1", "a2", "a1/."])?.contains("is given twice") == true)
    #expect(refusal(["a1"])?.contains("shard 2/2 missing") == true)
    #expect(refusal(["b1", "a2"])?.contains("ran with seed") == true)
    #expect(refusal(["a1", "c1"])?.contains("ran with shards") == true)
    #expect(refusal(["a1", "all"])?.contains("ran with shards") == true)
    #expect(refusal(["all", "all-again"])?.contains("ran in both") == true)
    #expect(refusal(["all", "s1only"])?.contains("ran with filter") == true)
    #expect(refusal([]) != nil)
    #expect(refusal(["nowhere"])?.contains("no run.json") == true)
    // A run file of another version, or not a run file at all.
    try FileManager.default.createDirectory(atPath: dir + "/old", withIntermediateDirectories: true)
    let current = try String(contentsOfFile: dir + "/all/run.json", encoding: .utf8)
    try current.replacingOccurrences(of: "\"version\" : \(LabRunFile.currentVersion)", with: "\"version\" : 0").write(toFile: dir + "/old/run.json", atomically: true, encoding: .utf8)
    #expect(refusal(["old"])?.contains("run file version 0") == true)
    try FileManager.default.createDirectory(atPath: dir + "/junk", withIntermediateDirectories: true)
    try "{\"format\": \"sluice-lab-run\", \"runs\": 7}".write(toFile: dir + "/junk/run.json", atomically: true, encoding: .utf8)
    #expect(refusal(["junk"])?.contains("not a run file") == true)
    try FileManager.default.createDirectory(atPath: dir + "/badshard", withIntermediateDirectories: true)
    try current.replacingOccurrences(of: "\"title\"", with: "\"shardIndex\" : 5, \"shardCount\" : 2, \"title\"")
        .write(toFile: dir + "/badshard/run.json", atomically: true, encoding: .utf8)
    #expect(refusal(["badshard"])?.contains("is not a valid shard") == true)
    // Numbers the reports do arithmetic on are range-checked (Format.time adds 500 ns before rounding).
    for (name, from, to) in [("hugetime", "\"startedAtNanoseconds\" : ", "\"startedAtNanoseconds\" : 18446744073709551615, \"x\" : "),
                             ("negative", "\"wallNanoseconds\" : ", "\"wallNanoseconds\" : -5, \"x\" : ")] {
        try FileManager.default.createDirectory(atPath: dir + "/" + name, withIntermediateDirectories: true)
        try current.replacingOccurrences(of: from, with: to).write(toFile: dir + "/\(name)/run.json", atomically: true, encoding: .utf8)
        #expect(refusal([name])?.contains("was not written by `sluice lab run`") == true, "\(name): \(refusal([name]) ?? "accepted")")
    }
}

@Test func infiniteBoundsSurviveTheRunFile() throws {
    let dir = temporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var run = LabRun(scenarioName: "inf", scenarioFile: dir + "/inf.yml", seed: 1, backend: "sim")
    run.bounds = [MetricBound(action: "l", metric: "lease-time", symbol: "≥", value: .infinity, text: "lease-time ≥ ∞", passed: true)]
    run.outcomes = [ExpectationOutcome(name: "l", index: 0, location: ScenarioLocation(file: run.scenarioFile, line: 1, column: 1),
                                       passed: true, message: "infinite lease",
                                       checks: [CheckResult(subject: "lease-time", measured: "∞", bound: "≥ 1h", passed: true, value: .infinity)])]
    try LabRunFile(title: "t", backend: "sim", seed: nil, filter: nil, shard: nil, files: [run.scenarioFile], runs: [run]).write(to: dir)
    let back = try LabRunFile.read(directory: dir)
    #expect(back.runs[0].bounds == run.bounds && back.runs[0].outcomes[0].checks == run.outcomes[0].checks)
}
