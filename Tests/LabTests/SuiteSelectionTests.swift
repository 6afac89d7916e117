// `sluice lab run` selection: --filter decides before parsing, --shard splits deterministically,
// and an empty selection (or a run where nothing ran) is an error, never a green run.
import Foundation
import Testing
@testable import Lab

/// `count` copies of the ping scenario named s0, s1, … in `dir` (files s0.yml, s1.yml, …).
func writeSuite(_ dir: String, count: Int) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for i in 0..<count {
        try pingScenario.replacingOccurrences(of: "name: dhcp-and-ping", with: "name: s\(i)")
            .write(toFile: "\(dir)/s\(i).yml", atomically: true, encoding: .utf8)
    }
}

@Test func aFilterLoadsOnlyTheFilesItSelects() throws {
    let dir = temporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir + "/s", withIntermediateDirectories: true)
    try pingScenario.write(toFile: dir + "/s/a.yml", atomically: true, encoding: .utf8)
    // Not even YAML: parsing it would fail at once.
    try "name: broken-one\nnodes: [\n  : {{\n".write(toFile: dir + "/s/b.yml", atomically: true, encoding: .utf8)
    let selected = LabRunner.run(files: [dir + "/s"], seed: nil, filter: "dhcp-and", backend: "sim", reportDirectory: dir + "/r1") { _ in }
    #expect(selected.exitCode == 0 && selected.loadErrors.isEmpty && selected.runs.map(\.scenarioName) == ["dhcp-and-ping"])
    // The broken file is what stops a run that selects it: by its path, by its name: line, or with no filter.
    for filter in ["b.yml", "BROKEN-one", nil] as [String?] {
        let run = LabRunner.run(files: [dir + "/s"], seed: nil, filter: filter, backend: "sim", reportDirectory: dir + "/r2") { _ in }
        #expect(run.exitCode == 2 && run.loadErrors.first?.file == dir + "/s/b.yml", "filter \(filter ?? "none")")
    }
}

@Test func theDeclaredNameIsReadWithoutParsing() {
    #expect(SuiteSelection.declaredName(in: "# c\nname: routed-ping\nnodes: {}\n") == "routed-ping")
    #expect(SuiteSelection.declaredName(in: "name: \"quoted # name\"  # comment\n") == "quoted # name")
    #expect(SuiteSelection.declaredName(in: "name: 'single'\n") == "single")
    #expect(SuiteSelection.declaredName(in: "name: plain  # comment\n") == "plain")
    #expect(SuiteSelection.declaredName(in: "nodes:\n  name: not-top-level\n") == nil)
    #expect(SuiteSelection.declaredName(in: "name:\n") == nil)
}

@Test func shardsAreParsedAndRangeChecked() {
    #expect(Shard("2/4") == Shard(index: 2, count: 4))
    #expect(Shard("1/1") != nil && Shard("1000/1000") != nil)
    for bad in ["0/4", "5/4", "1/0", "a/b", "1/2/3", "", "/", "-1/2", "2/-4", "1001/1001", "99999999999999999999/3", " 1/2", "１/2"] {
        #expect(Shard(bad) == nil, "\(bad)")
    }
}

@Test func shardsSplitTheSuiteIntoDisjointPartsThatCoverIt() throws {
    let dir = temporaryDirectory()
    try writeSuite(dir + "/a", count: 4)
    try writeSuite(dir + "/b", count: 3)
    let all = SuiteSelection.select([dir + "/b", dir + "/a"], filter: nil, shard: nil).selected
    #expect(all.count == 7 && all == all.sorted())
    for n in 1...9 {
        var union: [String] = []
        var sizes: [Int] = []
        for i in 1...n {
            let part = SuiteSelection.select([dir + "/b", dir + "/a"], filter: nil, shard: Shard(index: i, count: n)).selected
            // The same whatever order the paths are given in.
            #expect(part == SuiteSelection.select([dir + "/a", dir + "/b/s1.yml", dir + "/b"], filter: nil, shard: Shard(index: i, count: n)).selected)
            union += part
            sizes.append(part.count)
        }
        #expect(union.sorted() == all, "n=\(n): every file in exactly one shard")
        #expect(Set(union).count == union.count, "n=\(n): shards are disjoint")
        #expect(sizes.max()! - sizes.min()! <= 1, "n=\(n): \(sizes)")
    }
}

@Test func selectingNothingIsAnError() throws {
    let dir = temporaryDirectory()
    try writeSuite(dir + "/s", count: 2)
    let none = LabRunner.run(files: [dir + "/s"], seed: nil, filter: "no-such-scenario", backend: "sim", reportDirectory: dir + "/r1") { _ in }
    #expect(none.exitCode == 2 && none.runs.isEmpty && none.selectionError?.contains("no scenario matches --filter 'no-such-scenario'") == true)
    let empty = LabRunner.run(files: [dir + "/nothing-here"], seed: nil, filter: nil, backend: "sim", reportDirectory: dir + "/r2") { _ in }
    #expect(empty.exitCode == 2)  // a missing path is an unreadable file
    try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
    let emptyDir = LabRunner.run(files: [dir + "/empty"], seed: nil, filter: nil, backend: "sim", reportDirectory: dir + "/r3") { _ in }
    #expect(emptyDir.exitCode == 2 && emptyDir.selectionError?.hasPrefix("no scenario files found") == true)
    let emptyShard = LabRunner.run(files: [dir + "/s"], seed: nil, filter: nil, shard: Shard(index: 3, count: 3), backend: "sim",
                                   reportDirectory: dir + "/r4") { _ in }
    #expect(emptyShard.exitCode == 2 && emptyShard.selectionError?.contains("shard 3/3 is empty") == true)
    // Everything skipped: nothing ran, so the run did not pass.
    let skipped = LabRunner.run(files: [dir + "/s"], seed: nil, filter: nil, backend: "netns", reportDirectory: dir + "/r5") { _ in }
    #expect(skipped.skipped == 2 && skipped.exitCode == 2 && skipped.selectionError?.hasPrefix("nothing ran") == true)
}
