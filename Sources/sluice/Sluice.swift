// Room: sluice — layer 5, the command-line tool. Parses arguments, loads files, calls Engine
// (and later Lab), prints results. No protocol logic lives here.
import ArgumentParser

@main
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A userspace network datapath for virtual machines, and a lab that runs it.",
        subcommands: [BridgeCommand.self, VM.self, LabCommand.self, Replay.self, WG.self, Bench.self, Check.self])
}
