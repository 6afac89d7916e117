import ArgumentParser
import BridgeDaemon
import Engine
import Foundation
import YAMLSchema

/// `sluice bridge bridge.yml [--stats [--json] | --metrics | --reload]`: serve vhost-user guests and
/// TAP ports with the engine, or ask the running bridge through its control socket.
struct BridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Serve QEMU guests over vhost-user (and TAP ports) with Sluice's switch, router and DHCP.",
        discussion: "Runs in the foreground until SIGINT or SIGTERM; SIGHUP reloads the file. With --stats (--json), --metrics or --reload, asks the bridge already running with this file's control socket instead (docs/operating-ops.md).")

    @Argument(help: "The bridge configuration (docs/config.md).") var file: String
    @Flag(help: "Print the running bridge's counters (needs 'control:' in the file) and exit.") var stats = false
    @Flag(help: "With --stats: print them as one JSON object.") var json = false
    @Flag(help: "Print the running bridge's counters in the Prometheus text format and exit.") var metrics = false
    @Flag(help: "Make the running bridge reload this file (as SIGHUP does); exit 1 if it refuses.") var reload = false
    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Log lines as text or json (one JSON object per line).") var logFormat = "text"
    @Option(help: "Where relative capture files are written.") var captureDirectory = "."

    func run() throws {
        let config: BridgeConfig
        do { config = try BridgeConfig.read(path: file) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        if [stats, metrics, reload].filter({ $0 }).count > 1 { throw ValidationError("give one of --stats, --metrics, --reload") }
        if json && !stats { throw ValidationError("--json goes with --stats") }
        if stats || metrics || reload {
            guard let control = config.control else {
                throw ValidationError("\(file) has no 'control:' socket; add e.g. control: /run/sluice/\(config.name).ctl")
            }
            let request: ControlRequest = reload ? .reload : metrics ? .metrics : json ? .statsJSON : .stats
            let answer = try BridgeDaemon.ask(controlSocket: control, request)
            print(answer, terminator: "")
            if reload && !answer.hasPrefix("ok:") { throw ExitCode(1) }
            return
        }
        guard let format = LogFormat(rawValue: logFormat) else { throw ValidationError("--log-format is text or json, not '\(logFormat)'") }
        guard let logOptions = LogOptions(level: logLevel, format: format) else {
            throw ValidationError("--log-level is one of \(LogOptions.levels.joined(separator: ", ")), not '\(logLevel)'")
        }
        if config.vhostUser.isEmpty && config.taps.isEmpty {
            FileHandle.standardError.write(Data("\(file): error: nothing to serve\n  fix: add 'vhost-user: [{ socket: /run/sluice/vm1.sock }]' or 'taps: [{ name: sluice-tap0 }]'\n".utf8))
            throw ExitCode(2)
        }
        let daemon = try BridgeDaemon(config: config, configPath: file, captureDirectory: captureDirectory, logOptions: logOptions) { line in
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
