import ArgumentParser
import BridgeDaemon
import Engine
import Foundation
import YAMLSchema

/// `sluice bridge bridge.yml [--stats [--json] | --metrics | --reload | impair [PORT [key=value… | clear]]]`:
/// serve vhost-user guests and TAP ports with the engine, or ask the running bridge through its
/// control socket.
struct BridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Serve QEMU guests over vhost-user (and TAP ports) with Sluice's switch, router and DHCP.",
        discussion: "Runs in the foreground until SIGINT or SIGTERM; SIGHUP reloads the file. With --stats (--json), --metrics or --reload, asks the bridge already running with this file's control socket instead; 'impair PORT key=value…' (or 'impair PORT clear') changes a port's impairments there (docs/operating.md).")

    @Argument(help: "The bridge configuration (docs/config.md).") var file: String
    @Argument(parsing: .remaining, help: "impair [PORT [key=value… | clear]]: show or change a port's impairments on the running bridge.")
    var request: [String] = []
    @Flag(help: "Print the running bridge's counters (needs 'control:' in the file) and exit.") var stats = false
    @Flag(help: "With --stats: print them as one JSON object.") var json = false
    @Flag(help: "Print the running bridge's counters in the Prometheus text format and exit.") var metrics = false
    @Flag(help: "Make the running bridge reload this file (as SIGHUP does); exit 1 if it refuses.") var reload = false
    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Log lines as text or json (one JSON object per line).") var logFormat = "text"
    @Option(help: "Where relative capture files are written.") var captureDirectory = "."
    @Option(help: "Where the bridge keeps state: its DHCP leases go to <dir>/<name>/leases unless 'leases:' says otherwise.")
    var stateDirectory = "/var/lib/sluice"

    func run() throws {
        let config: BridgeConfig
        do { config = try BridgeConfig.read(path: file) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        if let verb = request.first {
            guard verb == "impair" else { throw ValidationError("unknown request '\(verb)': the only one is impair [PORT [key=value… | clear]]") }
            guard !stats, !metrics, !reload else { throw ValidationError("impair goes alone, without --stats, --metrics or --reload") }
            guard let control = config.control else {
                throw ValidationError("\(file) has no 'control:' socket; add e.g. control: /run/sluice/\(config.name).ctl")
            }
            if let bad = request.first(where: { $0.contains("\n") }) { throw ValidationError("'\(bad)' has a line break") }
            let answer = try BridgeDaemon.ask(controlSocket: control, line: request.joined(separator: " "))
            print(answer, terminator: "")
            if answer.hasPrefix("error:") { throw ExitCode(1) }
            return
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
        if let problem = Self.unsafeSocketDirectory(config, file: file) {
            FileHandle.standardError.write(Data("\(problem)\n".utf8))
            throw ExitCode(2)
        }
        let daemon = try BridgeDaemon(config: config, configPath: file, captureDirectory: captureDirectory, stateDirectory: stateDirectory,
                                      logOptions: logOptions) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        try daemon.run()
        print(daemon.statistics(), terminator: "")
    }
}

extension BridgeCommand {
    /// The first socket of `config` whose directory anyone may replace it in, as a located error.
    static func unsafeSocketDirectory(_ config: BridgeConfig, file: String) -> ConfigError? {
        var sockets: [(path: String, key: String, index: Int?)] = config.vhostUser.enumerated().map { ($1.path, "vhost-user", $0) }
        if let control = config.control { sockets.append((control, "control", nil)) }
        for socket in sockets {
            guard let problem = BridgeDaemon.unsafeSocketDirectory(for: socket.path) else { continue }
            // Located at the value in the file (read again: the model keeps no positions).
            var at: YAMLValue?
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let root = try? YAMLValue.parse(text, file: file) {
                at = locate(socket.path, key: socket.key, index: socket.index, in: root)
            }
            let message = "socket \(socket.path): \(problem): anyone could replace the socket"
            let fix = "put it in a directory only the bridge's user can write (e.g. /run/sluice) or set the sticky bit (chmod +t)"
            return at?.error(message, fix: fix) ?? ConfigError(file: file, line: 1, column: 1, message: message, fix: fix)
        }
        return nil
    }

    static func locate(_ path: String, key: String, index: Int?, in root: YAMLValue) -> YAMLValue? {
        // The file was validated already; only the value's position is wanted (other keys are
        // recorded as unknown and left out).
        var ignored: [ConfigError] = []
        guard let top = try? root.mapping(allowed: [key], recording: &ignored), let value = top[key] else { return nil }
        if let index {
            guard let items = try? value.list(), items.indices.contains(index),
                  let m = try? items[index].mapping(allowed: ["socket"], recording: &ignored) else { return nil }
            return m["socket"]
        }
        if (try? value.scalar()) != nil { return value }
        return (try? value.mapping(allowed: ["path"], recording: &ignored))?["path"]
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
