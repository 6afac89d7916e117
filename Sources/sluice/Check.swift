// Room: sluice — layer 7. `sluice check bridge.yml`: the Engine's validation of the file, then what
// only the tool can check before starting a bridge (docs/config.md, Checking a configuration):
// capture filters compiled by libpcap, and warnings for a bridge that serves no one.
import ArgumentParser
import Capture
import Engine
import Foundation
import Lab
import YAMLSchema

/// `sluice check bridge.yml` (or a scenario file): validate it and summarise it.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a bridge.yml (or a scenario file) and print what it describes.",
        discussion: """
        Errors (exit status 2): anything the bridge would refuse at start, and a capture filter \
        that libpcap does not compile. Warnings (exit status 0): a bridge with no port at all (no \
        vhost-user socket and no tap), and a router segment that no port is on.

        A file with a top-level 'nodes:' is a scenario: it is loaded as 'sluice lab run' loads it, \
        every error printed, and nothing run.
        """)

    @Argument(help: "The bridge configuration (or scenario) file.") var file: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            FileHandle.standardError.write(Data("\(ConfigError.unreadableFile(file))\n".utf8))
            throw ExitCode(2)
        }
        // The capture filters are checked even when the Engine refuses the file, so one pass shows both.
        // BridgeConfig keeps values, not where they were written: the YAML is read again for positions.
        let root = try? YAMLValue.parse(text, file: file)
        if let root, BridgeCheck.value(root, "nodes") != nil { return try checkScenario() }
        var errors = root.map(BridgeCheck.filterErrors) ?? []
        var config: BridgeConfig?
        do { config = try BridgeConfig.parse(text, file: file) } catch { errors.append(error) }
        guard let config, let root, errors.isEmpty else {
            let inFileOrder = errors.enumerated().sorted { ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset) }
            for e in inFileOrder { FileHandle.standardError.write(Data("\(e.element)\n".utf8)) }
            throw ExitCode(2)
        }
        print("\(file): ok — bridge '\(config.name)'")
        for line in config.summary { print("  \(line)") }
        for w in BridgeCheck.warnings(config, root) { print(w) }
    }

    func checkScenario() throws {
        switch Scenario.loadAll(path: file) {
        case .success(let s):
            print("\(file): ok — scenario '\(s.name)': \(s.nodes.count) nodes, \(s.links.count) links, "
                  + "\(s.timeline.count) timeline entries, \(s.expectations.count) expectations; backends \(s.backends.map(\.rawValue).joined(separator: ", "))")
        case .failure(let f):
            for e in f.errors { FileHandle.standardError.write(Data("\(e)\n".utf8)) }
            FileHandle.standardError.write(Data("\(f.errors.count) error(s)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// A problem that does not stop the bridge, located like a `ConfigError`.
struct ConfigWarning: CustomStringConvertible {
    var file: String
    var line: Int
    var column: Int
    var message: String
    var fix: String

    init(at v: YAMLValue, _ message: String, fix: String) {
        file = v.file; line = v.line; column = v.column; self.message = message; self.fix = fix
    }

    var description: String { "\(file):\(line):\(column): warning: \(message)\n  fix: \(fix)" }
}

/// The checks `sluice check` adds to the Engine's validation.
enum BridgeCheck {
    /// The value at a key of a mapping, if `v` is one (the Engine has already checked the shapes).
    static func value(_ v: YAMLValue, _ key: String) -> YAMLValue? {
        guard case .mapping(let m) = v.node else { return nil }
        for (k, child) in m {
            if case .scalar(let s) = k, s.string == key { return YAMLValue(node: child, path: v.path.isEmpty ? key : "\(v.path).\(key)", file: v.file) }
        }
        return nil
    }

    /// One error per capture filter libpcap does not compile (for Ethernet frames, as the bridge
    /// captures them), located at the filter.
    static func filterErrors(_ root: YAMLValue) -> [ConfigError] {
        guard let captures = value(root, "captures"), let items = try? captures.list() else { return [] }
        var errors: [ConfigError] = []
        for item in items {
            guard let f = value(item, "filter"), let text = try? f.string() else { continue }
            do { _ = try BPFFilter(text) } catch {
                let reason: String
                if case .invalidFilter(_, let message) = error { reason = message } else { reason = error.description }
                errors.append(f.error("filter \"\(text)\" does not compile: \(reason)",
                                      fix: "write a pcap-filter(7) expression, e.g. \"udp port 67\" or \"arp or icmp\""))
            }
        }
        return errors
    }

    /// A bridge with nothing to serve: no port at all (no vhost-user socket, no tap), or else each
    /// router segment that no port is on (its router address and DHCP pool reach no one).
    static func warnings(_ config: BridgeConfig, _ root: YAMLValue) -> [ConfigWarning] {
        guard !config.vhostUser.isEmpty || !config.taps.isEmpty else {
            return [ConfigWarning(at: root, "the bridge has no port: no vhost-user socket and no tap, so no guest or host can reach it",
                                  fix: "add vhost-user: [{ socket: /run/sluice/\(config.name).sock }] or taps: [{ name: sluice-tap0 }]")]
        }
        let served = Set(config.vhostUser.map(\.segment) + config.taps.map(\.segment))
        var warnings: [ConfigWarning] = []
        for interface in config.router?.interfaces ?? [] where !served.contains(interface.name) {
            // Where the segment was written: router: itself for "lan", else its router.interfaces item.
            let router = value(root, "router") ?? root
            var at = router
            if interface.name != "lan", let list = value(router, "interfaces"), let items = try? list.list() {
                at = items.first { (try? value($0, "name")?.string()) == interface.name } ?? router
            }
            let pool = interface.dhcp.map { " and DHCP pool \($0.start)–\($0.end)" } ?? ""
            warnings.append(ConfigWarning(at: at, "segment '\(interface.name)' has no port: its router address \(interface.ipv4)\(pool) serve no one",
                                          fix: "put a vhost-user socket or tap on it (segment: \(interface.name)), or remove the interface"))
        }
        return warnings
    }
}
