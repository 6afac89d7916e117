// Room: Lab — layer 6. `sluice lab run DIR --soak DURATION`: the selected scenarios run again and
// again on the simulator, round after round with a new seed each round, until DURATION of
// simulated time has passed; after every run the process's heap, resident memory, descriptors and
// mappings are sampled (ProcessResources). Whatever a run leaves behind — a retain cycle that keeps
// a simulation alive, a capture file never closed, a cache that only grows — shows as growth from
// one run's end to the next. docs/scenarios.md, Soak runs.
import Basics
import Foundation
import HostIO

/// One run of a soak and what the process held after it.
public struct SoakSample: Sendable {
    public var run: Int
    public var round: Int
    public var scenario: String
    public var seed: UInt64
    public var passed: Bool
    /// Simulated time of every run so far, this one included.
    public var simulatedTotal: Duration
    public var wallTime: Duration
    public var resources: ProcessResources
}

/// The judgement of a soak: flat or not, and why.
public struct SoakVerdict: Sendable {
    public var flat: Bool
    public var failedRuns: Int
    public var lines: [String]
}

public enum LabSoak {
    /// Rounds run before the baseline is taken: the first fills the runtime's caches (type metadata,
    /// compiled filters, allocator arenas), the second shows the steady state.
    public static let warmUpRounds = 2
    /// Growth of heap in use from the baseline to the end that still counts as flat: the larger of
    /// 128 KiB and 2 % of the baseline (between runs it moves by a few KiB: +7 KiB over nine runs of
    /// fixtures/soak).
    public static func heapBand(baseline: Int) -> Int { max(128 << 10, baseline / 50) }
    /// Mappings may differ by this many lines (glibc maps large blocks one by one and its
    /// threshold moves); descriptors must come back exactly.
    public static let mappingBand = 16

    /// Runs the soak and writes soak.csv and soak.md into `reportDirectory`. Returns the exit
    /// status: 0 flat and every run passed, 1 growth or a failed run, 2 nothing to run or bad files.
    public static func run(files: [String], duration: Duration, seed: UInt64?, filter: String?, reportDirectory: String,
                           progress: (String) -> Void) -> Int32 {
        let selection = SuiteSelection.select(files, filter: filter, shard: nil)
        var scenarios: [Scenario] = []
        var errors = 0
        for path in selection.selected {
            switch Scenario.loadAll(path: path) {
            case .success(let s):
                if s.backends.contains(.sim) { scenarios.append(s) } else { progress("skipped \(s.name): not a sim scenario") }
            case .failure(let f):
                errors += f.errors.count
                for e in f.errors { progress(e.description) }
            }
        }
        if errors > 0 { progress("\(errors) error(s); nothing was run"); return 2 }
        guard !scenarios.isEmpty else {
            progress("error: no sim scenario selected in \(files.joined(separator: " "))" + (filter.map { " matching '\($0)'" } ?? ""))
            return 2
        }
        do {
            try FileManager.default.createDirectory(atPath: reportDirectory, withIntermediateDirectories: true)
        } catch {
            progress("error: cannot create \(reportDirectory): \(error.localizedDescription)")
            return 2
        }
        let slugs = scenarios.enumerated().map { "\($0.offset + 1)-" + Markup.slug($0.element.name) }
        progress("soak: \(scenarios.count) scenario(s), until \(Format.duration(duration)) simulated (at least \(warmUpRounds + 1) rounds)")

        var samples: [SoakSample] = []
        var simulated = Duration.zero
        var round = 0
        let started = ContinuousClock.now
        while simulated < duration || round <= warmUpRounds {
            for (i, scenario) in scenarios.enumerated() {
                let runSeed = (seed ?? scenario.seed) &+ UInt64(round)
                // Each run writes over the previous run's captures of the same scenario: disk stays bounded.
                let run = SimBackend.run(scenario, seed: runSeed, captureDirectory: "\(reportDirectory)/captures/\(slugs[i])")
                simulated += run.simulatedDuration
                // The soak's own record grows by one sample a run (its buffer doubling now and then):
                // room for this one is made first, and the buffer is left out of the heap measured.
                if samples.count == samples.capacity { samples.reserveCapacity(max(64, samples.capacity * 2)) }
                var resources = ProcessResources.current()
                resources.heapBytes -= samples.capacity * MemoryLayout<SoakSample>.stride
                let sample = SoakSample(run: samples.count + 1, round: round + 1, scenario: scenario.name, seed: runSeed,
                                        passed: run.passed, simulatedTotal: simulated, wallTime: run.wallTime,
                                        resources: resources)
                samples.append(sample)
                if !run.passed {
                    progress("  ✘ round \(round + 1) \(scenario.name) (seed \(runSeed)): \(run.verdict)")
                    for f in run.failures { progress("      \(f.name): \(f.message)") }
                }
            }
            round += 1
            if round == 1 || round % max(1, (rowsWanted(samples.count) / scenarios.count)) == 0 {
                progress(row(samples[samples.count - 1]))
            }
        }
        let wall = ContinuousClock.now - started
        let verdict = judge(samples, scenariosPerRound: scenarios.count)
        progress("soak: \(samples.count) runs in \(round) rounds, \(Format.duration(simulated)) simulated in \(Format.duration(wall))")
        for line in verdict.lines { progress("  " + line) }
        progress("soak: \(verdict.flat && verdict.failedRuns == 0 ? "FLAT" : "NOT FLAT")")
        do {
            try csv(samples).write(toFile: "\(reportDirectory)/soak.csv", atomically: true, encoding: .utf8)
            try markdown(samples, verdict, simulated: simulated, wall: wall).write(toFile: "\(reportDirectory)/soak.md", atomically: true, encoding: .utf8)
            progress("report: \(reportDirectory)/soak.md, \(reportDirectory)/soak.csv")
        } catch {
            progress("error: cannot write the soak report: \(error.localizedDescription)")
            return 2
        }
        return verdict.flat && verdict.failedRuns == 0 ? 0 : 1
    }

    static func rowsWanted(_ count: Int) -> Int { max(1, count / 4) }

    static func mib(_ bytes: Int) -> String { String(format: "%.2f MiB", Double(bytes) / 1_048_576) }

    static func row(_ s: SoakSample) -> String {
        "  round \(s.round): \(Format.duration(s.simulatedTotal)) simulated · heap \(mib(s.resources.heapBytes)) · RSS \(mib(s.resources.residentBytes))"
            + " · \(s.resources.descriptors) fds · \(s.resources.mappings) maps"
    }

    /// Flat when, from the end of the warm-up rounds to the last run, heap in use grew by no more than
    /// `heapBand`, descriptors came back exactly and mappings within `mappingBand`.
    public static func judge(_ samples: [SoakSample], scenariosPerRound: Int) -> SoakVerdict {
        let failed = samples.count { !$0.passed }
        let baseIndex = min(samples.count, warmUpRounds * scenariosPerRound) - 1
        guard baseIndex >= 0, let last = samples.last else { return SoakVerdict(flat: false, failedRuns: failed, lines: ["no runs"]) }
        let base = samples[baseIndex].resources, end = last.resources
        let band = heapBand(baseline: base.heapBytes)
        let growth = end.heapBytes - base.heapBytes
        var lines: [String] = []
        var flat = true
        let judged = samples.count - baseIndex - 1
        lines.append("baseline after round \(samples[baseIndex].round) (\(samples[baseIndex].run) runs), \(judged) runs judged after it")
        let heapOK = growth <= band
        flat = flat && heapOK
        lines.append("heap in use \(mib(base.heapBytes)) → \(mib(end.heapBytes)) (\(growth >= 0 ? "+" : "")\(growth / 1024) KiB; band \(band / 1024) KiB) \(heapOK ? "ok" : "GROWS")")
        let perRun = slope(samples[(baseIndex + 1)...].map { Double($0.resources.heapBytes) })
        lines.append(String(format: "heap trend after the baseline: %+.0f bytes per run (least squares)", perRun))
        let fdOK = end.descriptors == base.descriptors
        flat = flat && fdOK
        lines.append("descriptors \(base.descriptors) → \(end.descriptors) \(fdOK ? "ok" : "LEAK")")
        let mapsOK = abs(end.mappings - base.mappings) <= mappingBand
        flat = flat && mapsOK
        lines.append("mappings \(base.mappings) → \(end.mappings) (band ±\(mappingBand)) \(mapsOK ? "ok" : "GROWS")")
        let peak = samples.map(\.resources.residentBytes).max() ?? 0
        lines.append("resident \(mib(base.residentBytes)) → \(mib(end.residentBytes)), peak \(mib(peak)) (reported, not judged: the allocator keeps freed pages)")
        lines.append("runs failed: \(failed) of \(samples.count)")
        return SoakVerdict(flat: flat, failedRuns: failed, lines: lines)
    }

    /// Least-squares slope of `values` against their index.
    static func slope(_ values: [Double]) -> Double {
        let n = Double(values.count)
        guard values.count > 1 else { return 0 }
        let meanX = (n - 1) / 2, meanY = values.reduce(0, +) / n
        var num = 0.0, den = 0.0
        for (i, y) in values.enumerated() {
            let dx = Double(i) - meanX
            num += dx * (y - meanY); den += dx * dx
        }
        return den == 0 ? 0 : num / den
    }

    static func csv(_ samples: [SoakSample]) -> String {
        var out = "run,round,scenario,seed,passed,simulated_total_s,wall_s,heap_bytes,resident_bytes,descriptors,mappings\n"
        for s in samples {
            out += "\(s.run),\(s.round),\(s.scenario),\(s.seed),\(s.passed),"
                + String(format: "%.3f,%.3f,", Double(s.simulatedTotal.nanosecondsClamped) / 1e9, Double(s.wallTime.nanosecondsClamped) / 1e9)
                + "\(s.resources.heapBytes),\(s.resources.residentBytes),\(s.resources.descriptors),\(s.resources.mappings)\n"
        }
        return out
    }

    static func markdown(_ samples: [SoakSample], _ verdict: SoakVerdict, simulated: Duration, wall: Duration) -> String {
        var out = "# Soak: \(verdict.flat && verdict.failedRuns == 0 ? "flat" : "NOT flat")\n\n"
        out += "\(samples.count) runs, \(Format.duration(simulated)) simulated in \(Format.duration(wall)) of wall time.\n\n"
        for line in verdict.lines { out += "- \(line)\n" }
        out += "\n| run | round | scenario | simulated | heap | resident | fds | maps |\n|---|---|---|---|---|---|---|---|\n"
        let step = max(1, samples.count / 40)
        for (i, s) in samples.enumerated() where i % step == 0 || i == samples.count - 1 {
            out += "| \(s.run) | \(s.round) | \(s.scenario) | \(Format.duration(s.simulatedTotal)) | \(mib(s.resources.heapBytes)) | "
                + "\(mib(s.resources.residentBytes)) | \(s.resources.descriptors) | \(s.resources.mappings) |\n"
        }
        return out
    }
}
