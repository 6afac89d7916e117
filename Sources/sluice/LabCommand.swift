// Room: sluice — layer 7. `sluice lab run` and `sluice lab merge`: arguments in, Lab's LabRunner
// and LabMerge do the work, the exit status says how it went.
import ArgumentParser
import Foundation
import Lab
import YAMLSchema

/// `sluice lab run <files|dirs> [--backend sim] [--seed N] [--filter TEXT] [--shard I/N] [--report DIR]`
/// and `sluice lab merge OUT DIR…`.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Run scenario suites and write reports.",
        subcommands: [Run.self, Merge.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run scenario files (or every .yml in the directories given).",
            discussion: """
            Only the files selected are parsed: --filter keeps the files whose path or top-level \
            'name:' contains the text, then --shard I/N keeps every N-th of those in path order, \
            starting with the I-th. Every error of every selected file is printed, and nothing runs \
            if any file has one. Each report directory holds junit.xml, summary.md, index.html and \
            run.json (for 'sluice lab merge').

            With --soak DURATION (sim only) the selected scenarios run round after round, a new \
            seed each round, until DURATION of simulated time has passed, and the process's heap, \
            descriptors and mappings are sampled after every run: growth after the first two \
            rounds fails the soak (soak.md and soak.csv in the report directory).

            Exit status: 0 all passed; 1 an expectation failed (or the soak grew); 2 a file had \
            errors, a run could not start, or nothing was selected or run.
            """)

        @Argument(help: "Scenario files or directories.") var paths: [String]
        @Option(help: "Backend: sim (in-process simulator), netns or qemu.") var backend = "sim"
        @Option(help: "Seed for every scenario (default: each file's own seed).") var seed: UInt64?
        @Option(help: "Run only scenarios whose file path or name contains this text.") var filter: String?
        @Option(help: ArgumentHelp("Run only part I of N of the suite (files dealt round-robin in path order).", valueName: "I/N"))
        var shard: String?
        @Option(help: "Report directory (default: reports/<UTC time>).") var report: String?
        @Option(help: ArgumentHelp("Soak: repeat the scenarios for this much simulated time (e.g. 24h) and check that nothing grows.",
                                   valueName: "DURATION"))
        var soak: String?

        /// The longest soak: a simulated year.
        static let longestSoak = Duration.seconds(366 * 86_400)

        func validate() throws {
            if let shard, Shard(shard) == nil {
                throw ValidationError("--shard '\(shard)' is not I/N with 1 ≤ I ≤ N ≤ \(Shard.maximumCount) (e.g. --shard 2/4)")
            }
            if let soak {
                guard let d = parseDuration(soak), d > .zero, d <= Self.longestSoak else {
                    throw ValidationError("--soak '\(soak)' is not a duration from 1ns to 366 days with a unit (e.g. --soak 24h, --soak 90m)")
                }
                if backend != "sim" {
                    throw ValidationError("--soak runs on the simulator only (--backend sim); the real bridge's soak is ci/soak-bridge.sh")
                }
                if shard != nil { throw ValidationError("--soak and --shard do not go together: a soak runs every selected scenario") }
            }
        }

        func run() throws {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            formatter.timeZone = TimeZone(identifier: "UTC")
            let directory = report ?? "reports/\(formatter.string(from: Date()))"
            if let soak, let duration = parseDuration(soak) {
                let status = LabSoak.run(files: paths, duration: duration, seed: seed, filter: filter, reportDirectory: directory) { line in
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
                if status != 0 { throw ExitCode(status) }
                return
            }
            let summary = LabRunner.run(files: paths, seed: seed, filter: filter, shard: shard.flatMap(Shard.init), backend: backend,
                                        reportDirectory: directory) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join the reports of several runs (e.g. the shards of one suite) into one report.",
            discussion: """
            Reads run.json in each report directory and writes junit.xml, summary.md, index.html, \
            run.json and the captures into OUT. Refused: a directory given twice or without \
            run.json, runs with different backends, seeds, filters or shard counts, a scenario file \
            in two inputs, and a set of shards with one missing or repeated.

            Exit status: 0 every merged scenario passed; 1 an expectation failed; 2 the inputs \
            were refused, a merged run had an error, or nothing ran.
            """)

        @Argument(help: "The report directory to write.") var out: String
        @Argument(help: "The report directories to merge.") var inputs: [String]

        func run() throws {
            let merged: LabRunFile
            do { merged = try LabMerge.merge(directories: inputs) } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(2)
            }
            let outKey = URL(fileURLWithPath: out).standardizedFileURL.path
            if inputs.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.path == outKey }) {
                FileHandle.standardError.write(Data("error: \(out) is also an input; write the merged report elsewhere\n".utf8))
                throw ExitCode(2)
            }
            do {
                let files = try ReportWriter.write(merged.runs, to: out, title: merged.title)
                try merged.write(to: out)
                print("report: \(files.html)")
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(2)
            }
            let summary = LabRunSummary(runs: merged.runs, loadErrors: [])
            print("merged \(merged.runs.count) scenario(s) from \(inputs.count) report(s): \(summary.line)")
            if merged.runs.isEmpty || summary.skipped == merged.runs.count {
                FileHandle.standardError.write(Data("error: nothing ran in the merged reports\n".utf8))
                throw ExitCode(2)
            }
            if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
        }
    }
}
