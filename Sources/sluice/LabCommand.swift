import ArgumentParser
import Foundation
import Lab

/// `sluice lab run <files|dirs> [--backend sim] [--seed N] [--filter NAME] [--report DIR]`.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Run scenario suites and write reports.",
        subcommands: [Run.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run scenario files (or every .yml in the directories given).",
            discussion: "Exit status: 0 all passed, 1 an expectation failed, 2 a file had errors or a run could not start.")

        @Argument(help: "Scenario files or directories.") var paths: [String]
        @Option(help: "Backend: sim (in-process simulator), netns or qemu.") var backend = "sim"
        @Option(help: "Seed for every scenario (default: each file's own seed).") var seed: UInt64?
        @Option(help: "Run only scenarios whose name or path contains this text.") var filter: String?
        @Option(help: "Report directory (default: reports/<UTC time>).") var report: String?

        func run() throws {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            formatter.timeZone = TimeZone(identifier: "UTC")
            let directory = report ?? "reports/\(formatter.string(from: Date()))"
            let summary = LabRunner.run(files: paths, seed: seed, filter: filter, backend: backend,
                                        reportDirectory: directory) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
        }
    }
}
