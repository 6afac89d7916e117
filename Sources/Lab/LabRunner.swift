// Room: Lab — layer 6. `sluice lab run`: selects scenario files (SuiteSelection: --filter and
// --shard, before any parsing), loads every selected one before running any (a bad file stops the
// run before anything starts, with all its errors: docs/architecture.md, Bad input), runs them on a
// backend and writes the report directory with its run.json.
import Basics
import Foundation
import YAMLSchema

/// What `LabRunner.run` did.
public struct LabRunSummary: Sendable {
    /// One per scenario selected, in path order (errors included).
    public var runs: [LabRun]
    /// Files that failed to load; when any did, nothing ran.
    public var loadErrors: [ConfigError]
    /// The report written, if it could be.
    public var report: ReportFiles?
    /// Why the report could not be written.
    public var reportError: String?
    /// Why nothing ran although every file loaded: no file found, none matched the filter, an
    /// empty shard, or every selected scenario skipped on this backend.
    public var selectionError: String?
    /// The report's run.json, when written.
    public var runFile: String?

    public var passed: Int { runs.count(where: \.passed) }
    public var failed: Int { runs.count { $0.status == .completed && !$0.failures.isEmpty } }
    public var skipped: Int { runs.count { if case .skipped = $0.status { return true }; return false } }
    public var errors: Int { runs.count { if case .error = $0.status { return true }; return false } }

    /// True when every scenario that ran passed and every file loaded.
    public var succeeded: Bool { loadErrors.isEmpty && failed == 0 && errors == 0 && reportError == nil && selectionError == nil }
    /// The process exit status: 0 on success, 1 on failed expectations, 2 on bad files, errors or an
    /// empty selection.
    public var exitCode: Int32 {
        !loadErrors.isEmpty || errors > 0 || reportError != nil || selectionError != nil ? 2 : (failed > 0 ? 1 : 0)
    }

    public init(runs: [LabRun], loadErrors: [ConfigError] = []) { self.runs = runs; self.loadErrors = loadErrors }

    /// "3 passed, 1 failed, 0 skipped, 0 errors".
    public var line: String { "\(passed) passed, \(failed) failed, \(skipped) skipped, \(errors) errors" }
}

/// Runs scenario files and writes a report.
public enum LabRunner {
    /// Runs the scenarios of `files` (files, or directories searched for .yml/.yaml) that
    /// `SuiteSelection` picks by `filter` and `shard`, on `backend`, with `seed` (nil: each file's
    /// own), and writes the report (and its run.json) to `reportDirectory`. Only the selected files
    /// are parsed; every error of every selected file is reported, and when any file has errors
    /// nothing runs. Selecting nothing, or running nothing (every selected scenario skipped), is an
    /// error too: a CI job must not pass on an empty run. `progress` gets one line per step.
    public static func run(files: [String], seed: UInt64?, filter: String?, shard: Shard? = nil, backend: String,
                           reportDirectory: String, progress: (String) -> Void) -> LabRunSummary {
        var summary = LabRunSummary(runs: [], loadErrors: [])
        let title = "Sluice lab run \((reportDirectory as NSString).lastPathComponent)" + (shard.map { " (shard \($0))" } ?? "")
        guard let chosen = LabBackend(rawValue: backend) else {
            let message = "unknown backend '\(backend)'; use one of: \(LabBackend.allCases.map(\.rawValue).joined(separator: ", "))"
            progress("error: \(message)")
            summary.reportError = message
            return summary
        }
        let selection = SuiteSelection.select(files, filter: filter, shard: shard)
        var record = LabRunFile(title: title, backend: backend, seed: seed, filter: filter, shard: shard, files: selection.selected, runs: [])
        if selection.found.isEmpty {
            summary.selectionError = "no scenario files found in \(files.joined(separator: " ")) (a directory is searched for .yml and .yaml files)"
        } else if selection.matching.isEmpty, let filter {
            summary.selectionError = "no scenario matches --filter '\(filter)' (it is looked for in each file's path and name:, "
                + "case-insensitively; \(selection.found.count) file(s) found)"
        } else if selection.selected.isEmpty, let shard {
            summary.selectionError = "shard \(shard) is empty: \(selection.matching.count) scenario(s) dealt into \(shard.count) shards; "
                + "use at most \(selection.matching.count) shards"
        }
        if let why = summary.selectionError {
            progress("error: \(why)")
            write(&summary, record, to: reportDirectory, progress: progress)
            return summary
        }
        if selection.selected.count < selection.found.count {
            var why: [String] = []
            if let filter, !filter.isEmpty { why.append("\(selection.matching.count) match '\(filter)'") }
            if let shard { why.append("\(selection.selected.count) in shard \(shard)") }
            progress("\(selection.selected.count) of \(selection.found.count) scenario files selected (\(why.joined(separator: ", ")))")
        }

        // Load every selected file before running any; report every error of each.
        var scenarios: [Scenario] = []
        var brokenFiles = 0
        for path in selection.selected {
            switch Scenario.loadAll(path: path) {
            case .success(let s): scenarios.append(s)
            case .failure(let failure):
                brokenFiles += 1
                summary.loadErrors += failure.errors
                for e in failure.errors { progress(e.description) }
                summary.runs.append(LabRun(scenarioName: (path as NSString).lastPathComponent, scenarioFile: path, seed: seed ?? 0,
                                           backend: backend, status: .error(failure.description)))
            }
        }
        if brokenFiles > 0 {
            progress("\(summary.loadErrors.count) error(s) in \(brokenFiles) scenario file(s); nothing was run")
            record.runs = summary.runs
            write(&summary, record, to: reportDirectory, progress: progress)
            return summary
        }

        var slugs: Set<String> = []
        for (n, scenario) in scenarios.enumerated() {
            let runSeed = seed ?? scenario.seed
            let prefix = "[\(n + 1)/\(scenarios.count)] \(scenario.name)"
            var slug = Markup.slug(scenario.name)
            if slugs.contains(slug) { slug += "-\(n + 1)" }
            slugs.insert(slug)
            let run: LabRun
            if !scenario.backends.contains(chosen) {
                let why = "the scenario is for \(scenario.backends.map(\.rawValue).joined(separator: ", ")), not \(chosen)"
                run = LabRun(scenarioName: scenario.name, scenarioFile: scenario.file, description: scenario.description,
                             seed: runSeed, backend: backend, status: .skipped(why))
            } else {
                progress("\(prefix) (\(chosen), seed \(runSeed)) …")
                switch chosen {
                case .sim:
                    run = SimBackend.run(scenario, seed: runSeed, captureDirectory: "\(reportDirectory)/captures/\(slug)")
                case .netns:
                    run = NetnsBackend.run(scenario, seed: runSeed, captureDirectory: "\(reportDirectory)/captures/\(slug)")
                case .qemu:
                    run = QEMUBackend.run(scenario, seed: runSeed, captureDirectory: "\(reportDirectory)/captures/\(slug)")
                }
            }
            progress("\(prefix): \(run.verdict)" + (run.status == .completed ? " (\(Format.duration(run.simulatedDuration)) simulated in \(Format.duration(run.wallTime)))" : ""))
            for f in run.failures { progress("  ✘ \(f.location): \(f.name)\n      \(f.message)") }
            if case .error(let why) = run.status { progress("  \(why)") }
            if case .skipped(let why) = run.status { progress("  skipped: \(why)") }
            summary.runs.append(run)
        }
        if summary.skipped == summary.runs.count {
            let why = "all \(summary.runs.count) selected scenario(s) were skipped (none lists backend \(chosen) under backends:)"
            if shard == nil {
                summary.selectionError = "nothing ran: " + why
                progress("error: \(summary.selectionError!)")
            } else {
                // One shard may hold only scenarios for other backends; `sluice lab merge` checks the whole suite.
                progress("note: nothing ran in this shard: " + why)
            }
        }
        record.runs = summary.runs
        write(&summary, record, to: reportDirectory, progress: progress)
        progress(summary.line)
        return summary
    }

    /// Writes the report of `summary.runs` and `record` as its run.json.
    static func write(_ summary: inout LabRunSummary, _ record: LabRunFile, to directory: String, progress: (String) -> Void) {
        do {
            summary.report = try ReportWriter.write(summary.runs, to: directory, title: record.title)
            try record.write(to: directory)
            summary.runFile = URL(fileURLWithPath: directory).standardizedFileURL.path + "/" + LabRunFile.fileName
            progress("report: \(summary.report!.html)")
        } catch {
            summary.reportError = error.description
            progress("error: \(error)")
        }
    }
}
