// The soak's judgement (LabSoak.judge) on made-up samples — flat, a heap that grows, a descriptor that
// stays open, mappings that pile up, a failed run — and one real soak of fixtures/soak on the simulator.
import Foundation
import HostIO
import Testing
@testable import Lab

private func samples(_ heaps: [Int], descriptors: [Int]? = nil, maps: [Int]? = nil, failing: Int? = nil) -> [SoakSample] {
    heaps.enumerated().map { i, heap in
        SoakSample(run: i + 1, round: i / 3 + 1, scenario: "s\(i % 3)", seed: UInt64(i), passed: i != failing,
                   simulatedTotal: .seconds(60 * (i + 1)), wallTime: .milliseconds(10),
                   resources: ProcessResources(heapBytes: heap, residentBytes: 40 << 20, descriptors: descriptors?[i] ?? 5,
                                               mappings: maps?[i] ?? 160))
    }
}

@Suite struct LabSoakJudgementTests {
    let flatHeaps = [700_000, 720_000, 721_000, 719_000, 722_000, 720_500, 721_500, 720_000, 722_000, 721_000, 720_000, 721_000]

    @Test func aSteadyProcessIsFlat() {
        let v = LabSoak.judge(samples(flatHeaps), scenariosPerRound: 3)
        #expect(v.flat && v.failedRuns == 0, "\(v.lines)")
    }

    @Test func aHeapGrowingByARunsWorthIsNot() {
        // 40 KiB left behind per run: 6 runs after the baseline are 240 KiB, past the 128 KiB band.
        let heaps = (0..<12).map { 700_000 + $0 * 40_960 }
        let v = LabSoak.judge(samples(heaps), scenariosPerRound: 3)
        #expect(!v.flat)
        #expect(v.lines.contains { $0.contains("GROWS") && $0.contains("heap") })
        #expect(v.lines.contains { $0.contains("+40960 bytes per run") })
    }

    @Test func oneDescriptorLeftOpenIsALeak() {
        var fds = Array(repeating: 5, count: 12)
        fds[11] = 6
        let v = LabSoak.judge(samples(flatHeaps, descriptors: fds), scenariosPerRound: 3)
        #expect(!v.flat && v.lines.contains { $0.contains("descriptors 5 → 6 LEAK") })
    }

    @Test func mappingsPilingUpAreGrowth() {
        let maps = (0..<12).map { 160 + $0 * 4 }
        let v = LabSoak.judge(samples(flatHeaps, maps: maps), scenariosPerRound: 3)
        #expect(!v.flat)
    }

    @Test func aFailedRunFailsTheSoakEvenWhenFlat() {
        let v = LabSoak.judge(samples(flatHeaps, failing: 7), scenariosPerRound: 3)
        #expect(v.flat && v.failedRuns == 1)
    }

    /// The soak measures the whole process's heap: beside other tests it would measure theirs too, so it runs in
    /// ci/test.sh's serial phase (SLUICE_ALONE=1, `--no-parallel`, selected by "LeaksNothing").
    @Test(.enabled(if: getenv("SLUICE_ALONE").map { String(cString: $0) } == "1",
                   "measures the whole process's heap: runs alone (SLUICE_ALONE=1 swift test --no-parallel, as ci/test.sh does)"))
    func soakOfTheChurnScenariosLeaksNothing() throws {
        let directory = NSTemporaryDirectory() + "sluice-soak-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../fixtures/soak").standardized.path
        var lines: [String] = []
        let status = LabSoak.run(files: [folder], duration: .seconds(600), seed: nil, filter: nil,
                                 reportDirectory: directory) { lines.append($0) }
        #expect(status == 0, "\(lines.joined(separator: "\n"))")
        let csv = try String(contentsOfFile: directory + "/soak.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 1 + 9, "three scenarios, three rounds at least")
        #expect(lines.contains("soak: FLAT"))
    }
}
