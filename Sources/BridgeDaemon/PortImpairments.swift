// Port impairments of the running bridge (docs/operating.md, `impair`): the file's `impair:` put
// on each TAP port when it opens and on each guest's port when it attaches, and the control
// socket's `impair` request changing them live:
//
//   impair                          every impaired port and what its cable did
//   impair PORT                     one port
//   impair PORT key=value…          patch its impairments (keys of docs/config.md, `impair:`)
//   impair PORT clear               a perfect cable again
//
// PORT is a port's name as `--stats` prints it (`vhost0-1`, `tap:sl-tap0`), a TAP's name, or a
// vhost-user socket's path: every guest on that socket now, and every guest attaching later.
// The link model itself runs in the engine (Bridge+Impairment.swift); its randomness is seeded
// here, once, from the system's CSPRNG.
import Basics
import Datapath
import Engine

extension BridgeDaemon {
    /// Puts `impairment` on `port` now, logging it (or why it could not).
    func applyImpairment(_ impairment: PortImpairment, to port: PortID, name: String) {
        let now = reactor.clock.now()
        do {
            if let seed = impairmentSeed {
                try bridge.impair(port, impairment, now: now, seed: seed)
            } else {
                try bridge.impair(port, impairment, now: now, random: &random)
            }
            note(.info, "port impaired", ["port": "\(name)", "impair": "\(impairment.summary)"])
        } catch {
            note(.error, "port not impaired", ["port": "\(name)", "reason": "\(error)"])
        }
        afterEvent(now: now)
    }

    /// Lines of `--stats` for the impaired ports.
    func impairmentStatistics() -> [String] {
        bridge.impairedPorts.compactMap { port in
            guard let setting = bridge.impairment(of: port), let counters = bridge.impairmentCounters(of: port) else { return nil }
            let name = bridge.ports[port]?.name ?? "\(port)"
            return "impair \(name): \(setting.summary); ingress \(counters.ingress); egress \(counters.egress)"
        }
    }

    /// The ports `selector` names: a port name, a TAP's device name, or a vhost-user socket's path
    /// (with that server's index).
    func impairmentTargets(_ selector: String) -> (ports: [(PortID, String)], server: Int?)? {
        if let server = config.vhostUser.firstIndex(where: { $0.path == selector }) {
            let ports = guests.filter { $0.key.server == server }.compactMap(\.value.port).sorted()
            return (ports.map { ($0, bridge.ports[$0]?.name ?? "\($0)") }, server)
        }
        for port in bridge.ports where port.name == selector || port.name == "tap:\(selector)" {
            if port.kind == .router { return nil }
            return ([(port.id, port.name)], nil)
        }
        return nil
    }

    /// The control socket's answer to `impair …` (the words after `impair`).
    func impairAnswer(_ words: [String]) -> String {
        guard let selector = words.first else {
            let lines = impairmentStatistics()
            return lines.isEmpty ? "no port is impaired\n" : lines.joined(separator: "\n") + "\n"
        }
        guard let (ports, server) = impairmentTargets(selector) else {
            let names = bridge.ports.filter { $0.kind != .router }.map(\.name) + config.vhostUser.map(\.path)
            return "error: no port or vhost-user socket '\(selector.prefix(64))' (have: \(names.joined(separator: ", ")))\n"
        }
        let changes = Array(words.dropFirst())
        if changes.isEmpty {
            var lines = ports.map { port, name in "impair \(name): \(bridge.impairment(of: port)?.summary ?? "none")" }
            if let server { lines.append("impair \(selector) (new guests): \(guestImpairments[server]?.summary ?? "none")") }
            return lines.joined(separator: "\n") + "\n"
        }
        // Each port is patched from what it has now; a socket's own setting (new guests) too.
        var updated: [(PortID, String, PortImpairment)] = []
        var socketSetting: PortImpairment?
        do {
            for (port, name) in ports {
                var setting = bridge.impairment(of: port) ?? PortImpairment()
                try setting.apply(words: changes)
                updated.append((port, name, setting))
            }
            if let server {
                var setting = guestImpairments[server] ?? PortImpairment()
                try setting.apply(words: changes)
                socketSetting = setting
            }
        } catch {
            return "error: \(error.message)\(error.fix.map { "\n  fix: \($0)" } ?? "")\n"
        }
        var lines: [String] = []
        for (port, name, setting) in updated {
            applyImpairment(setting, to: port, name: name)
            lines.append("ok: \(name): \(bridge.impairment(of: port)?.summary ?? "none")")
        }
        if let server, let socketSetting {
            guestImpairments[server] = socketSetting.isNone ? nil : socketSetting
            lines.append("ok: \(selector) (new guests): \(socketSetting.summary)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// After a reload whose `impair:` settings changed: the new ones on every TAP and guest port.
    func applyReloadedImpairments() {
        guestImpairments = config.vhostUser.map(\.impair)
        for (key, entry) in guests.sorted(by: { ($0.key.server, $0.key.guest.rawValue) < ($1.key.server, $1.key.guest.rawValue) }) {
            guard let port = entry.port else { continue }
            applyImpairment(guestImpairments[key.server] ?? PortImpairment(), to: port, name: bridge.ports[port]?.name ?? "\(port)")
        }
        for (i, tap) in taps.enumerated() where i < config.taps.count {
            applyImpairment(config.taps[i].impair ?? PortImpairment(), to: tap.port, name: "tap:\(tap.device.name)")
        }
    }
}

extension BridgeDaemon {
    /// Puts `impairment` on every guest of the vhost-user socket at `path`, now and attaching
    /// later (what `impair <socket> …` does; the lab's qemu backend carries out a scenario's link
    /// changes with it). Returns false when no socket has that path.
    @discardableResult
    public func setGuestImpairment(_ impairment: PortImpairment, socket path: String) -> Bool {
        guard let server = config.vhostUser.firstIndex(where: { $0.path == path }) else { return false }
        guestImpairments[server] = impairment.isNone ? nil : impairment
        for (key, entry) in guests.sorted(by: { $0.key.guest < $1.key.guest }) where key.server == server {
            guard let port = entry.port else { continue }
            applyImpairment(impairment, to: port, name: bridge.ports[port]?.name ?? "\(port)")
        }
        return true
    }
}
