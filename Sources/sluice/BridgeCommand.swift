import ArgumentParser
import BridgeDaemon
import Engine
import Foundation
import YAMLSchema

/// `sluice bridge bridge.yml [--stats]`: serve vhost-user guests and TAP ports with the engine.
struct BridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Serve QEMU guests over vhost-user (and TAP ports) with Sluice's switch, router and DHCP.",
        discussion: "Runs in the foreground until SIGINT or SIGTERM. With --stats, prints the counters of the bridge already running with this file's control socket.")

    @Argument(help: "The bridge configuration (docs/config.md).") var file: String
    @Flag(help: "Print the running bridge's counters (needs 'control:' in the file) and exit.") var stats = false
    @Option(help: "Where relative capture files are written.") var captureDirectory = "."

    func run() throws {
        let config: BridgeConfig
        do { config = try BridgeConfig.read(path: file) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        if stats {
            guard let control = config.control else {
                throw ValidationError("\(file) has no 'control:' socket; add e.g. control: /run/sluice/\(config.name).ctl")
            }
            print(try BridgeDaemon.readStatistics(controlSocket: control), terminator: "")
            return
        }
        if config.vhostUser.isEmpty && config.taps.isEmpty {
            FileHandle.standardError.write(Data("\(file): error: nothing to serve\n  fix: add 'vhost-user: [{ socket: /run/sluice/vm1.sock }]' or 'taps: [{ name: sluice-tap0 }]'\n".utf8))
            throw ExitCode(2)
        }
        let daemon = try BridgeDaemon(config: config, captureDirectory: captureDirectory) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        try daemon.run()
        print(daemon.statistics(), terminator: "")
    }
}

extension BridgeConfig {
    /// Reads and validates a bridge.yml file (the Engine parses text; reading the file is ours).
    static func read(path: String) throws(ConfigError) -> BridgeConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError.unreadableFile(path)
        }
        return try BridgeConfig.parse(text, file: path)
    }
}
