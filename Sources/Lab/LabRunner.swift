// `sluice lab run`: finds scenario files, loads every one before running any (a bad file stops
// the run before anything starts: docs/architecture.md, Bad input), runs the selected ones on a
// backend and writes the report directory.
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

    public var passed: Int { runs.count(where: \.passed) }
    public var failed: Int { runs.count { $0.status == .completed && !$0.failures.isEmpty } }
    public var skipped: Int { runs.count { if case .skipped = $0.status { return true }; return false } }
    public var errors: Int { runs.count { if case .error = $0.status { return true }; return false } }

    /// True when every scenario that ran passed and every file loaded.
    public var succeeded: Bool { loadErrors.isEmpty && failed == 0 && errors == 0 && reportError == nil }
    /// The process exit status: 0 on success, 1 on failed expectations, 2 on bad files or errors.
    public var exitCode: Int32 { !loadErrors.isEmpty || errors > 0 || reportError != nil ? 2 : (failed > 0 ? 1 : 0) }

    /// "3 passed, 1 failed, 0 skipped, 0 errors".
    public var line: String { "\(passed) passed, \(failed) failed, \(skipped) skipped, \(errors) errors" }
}

/// Runs scenario files and writes a report.
public enum LabRunner {
    /// Runs the scenarios in `files` (files, or directories searched for .yml/.yaml) whose name or
    /// path contains `filter`, on `backend`, with `seed` (nil: each file's own), and writes the
    /// report to `reportDirectory`. `progress` gets one line per step, for a terminal.
    public static func run(files: [String], seed: UInt64?, filter: String?, backend: String,
                           reportDirectory: String, progress: (String) -> Void) -> LabRunSummary {
        var summary = LabRunSummary(runs: [], loadErrors: [])
        let title = "Sluice lab run \((reportDirectory as NSString).lastPathComponent)"
        guard let chosen = LabBackend(rawValue: backend) else {
            let message = "unknown backend '\(backend)'; use one of: \(LabBackend.allCases.map(\.rawValue).joined(separator: ", "))"
            progress("error: \(message)")
            summary.reportError = message
            return summary
        }
        let paths = Scenario.discover(files)
        if paths.isEmpty { progress("no scenario files found in \(files.joined(separator: " "))") }

        // Load everything first.
        var scenarios: [Scenario] = []
        for path in paths {
            do { scenarios.append(try Scenario.load(path: path)) } catch {
                summary.loadErrors.append(error)
                progress(error.description)
                summary.runs.append(LabRun(scenarioName: (path as NSString).lastPathComponent, scenarioFile: path, seed: seed ?? 0,
                                           backend: backend, status: .error(error.description)))
            }
        }
        if !summary.loadErrors.isEmpty {
            progress("\(summary.loadErrors.count) scenario file(s) have errors; nothing was run")
            write(&summary, to: reportDirectory, title: title, progress: progress)
            return summary
        }

        let selected = scenarios.filter { s in
            guard let filter, !filter.isEmpty else { return true }
            return s.name.localizedCaseInsensitiveContains(filter) || s.file.localizedCaseInsensitiveContains(filter)
        }
        if let filter, selected.count < scenarios.count {
            progress("\(selected.count) of \(scenarios.count) scenarios match '\(filter)'")
        }
        var slugs: [String] = []
        for (n, scenario) in selected.enumerated() {
            let runSeed = seed ?? scenario.seed
            let prefix = "[\(n + 1)/\(selected.count)] \(scenario.name)"
            var slug = Markup.slug(scenario.name)
            if slugs.contains(slug) { slug += "-\(n + 1)" }
            slugs.append(slug)
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
        write(&summary, to: reportDirectory, title: title, progress: progress)
        progress(summary.line)
        return summary
    }

    static func write(_ summary: inout LabRunSummary, to directory: String, title: String, progress: (String) -> Void) {
        do {
            summary.report = try ReportWriter.write(summary.runs, to: directory, title: title)
            progress("report: \(summary.report!.html)")
        } catch {
            summary.reportError = error.description
            progress("error: \(error)")
        }
    }
}
