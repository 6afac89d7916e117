import ArgumentParser
import Foundation
import QEMU
import YAMLSchema

/// `sluice vm machine.yml`: start a QEMU guest wired to a bridge's vhost-user sockets.
struct VM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Start a QEMU guest from a machine.yml, its serial console attached.",
        discussion: """
        The machine file is Oathgate's runner schema (machine: cpu, memory, kernel, disk) plus \
        initrd, cmdline, accel, cpus, networks, console and extra-args (docs/machine.md).

        Attached, QEMU takes over the terminal: Ctrl-A X quits, Ctrl-A C switches to the QEMU \
        monitor. Detached, QEMU runs in the background and the console goes to a log file. \
        Start the bridge (its vhost-user sockets) before the guest.
        """)

    @Argument(help: "The machine file.")
    var file: String

    @Flag(help: "Run QEMU in the background; needs a console log (--console-log, or console: <file> in the machine file).")
    var detach = false

    @Option(name: .customLong("console-log"), help: ArgumentHelp("Write the serial console to this file instead.", valueName: "path"))
    var consoleLog: String?

    @Option(name: .customLong("pid-file"), help: ArgumentHelp("With --detach: where QEMU writes its pid (default: the console log's path + .pid).", valueName: "path"))
    var pidFile: String?

    @Flag(name: .customLong("print-command"), help: "Print the QEMU command line and exit without starting anything.")
    var printCommand = false

    @Option(help: ArgumentHelp("The QEMU binary.", valueName: "path"))
    var qemu = "qemu-system-x86_64"

    func run() throws {
        let machine: MachineConfig
        do { machine = try MachineConfig.load(path: file) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        var options = LaunchOptions(executable: qemu)
        if let consoleLog { options.console = .file(absolute(consoleLog)) }
        if pidFile != nil && !detach { throw ValidationError("--pid-file goes with --detach") }
        if detach {
            guard case .file(let log) = options.console ?? machine.console else {
                throw ValidationError("--detach needs a console log: pass --console-log PATH, or set console: <file> in \(file)")
            }
            options.daemonizePidFile = absolute(pidFile ?? log + ".pid")
        }
        let command = QEMUCommandLine(machine: machine, options: options)
        if printCommand {
            print(command.shellCommand)
            return
        }
        do {
            try QEMULauncher.preflight(machine)
            if detach, case .file(let log) = options.console ?? machine.console {
                let pid = try QEMULauncher.daemonize(command)
                print("sluice vm: QEMU pid \(pid) running \(file) in the background")
                print("  console: \(log)")
                print("  stop it: kill \(pid)")
                return
            }
            if case .file(let log) = options.console ?? machine.console {
                FileHandle.standardError.write(Data("sluice vm: console → \(log) (QEMU's monitor is off; Ctrl-C stops QEMU)\n".utf8))
            }
            try QEMULauncher.exec(command)
        } catch {
            FileHandle.standardError.write(Data("sluice vm: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
