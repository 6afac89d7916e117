// Room: sluice — layer 7, the command-line tool. Parses arguments, reads files, starts the
// drivers (BridgeDaemon, Tunnel, Lab's backends, QEMU) and the benchmarks, prints results.
// No protocol logic and no driving loop lives here: a subcommand hands its inputs to a room below.
import ArgumentParser

@main
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A userspace network datapath for virtual machines, and a lab that runs it.",
        version: SluiceVersion.current,
        subcommands: [BridgeCommand.self, VM.self, LabCommand.self, Replay.self, WG.self, MeshCommand.self, Bench.self, Check.self])

    /// `sluice wg NAME` (what wg-quick runs as its userspace implementation) is `sluice wg interface NAME`:
    /// ArgumentParser cannot take a positional argument beside subcommands, so it is rewritten before parsing.
    static func main() {
        main(WG.Interface.rewritten(Array(CommandLine.arguments.dropFirst())))
    }
}
