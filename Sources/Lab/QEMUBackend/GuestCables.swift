// The links of a scenario's QEMU guests: each guest has its own vhost-user socket, and its link's
// impairments (both directions, up or down) are the impairments of that socket's port in the
// bridge (Engine's Bridge+Impairment.swift — Sim's link model, as on netns). The plan puts the
// file's settings in the bridge config (QEMUGuestPlan); this carries out the timeline's
// link-down, link-up and impair entries on the running daemon, in process.
//
// When: a guest runs its commands in order, not at their times, so its timeline is anchored on its
// first ping: when the ping really started (the console's SLUICE-PING-START after its SLUICE-RUN)
// minus the entry's time (its estimated start for an `after:` entry) is the guest's 0s; until a
// ping has started, its NIC coming up (SLUICE-NET-UP; its boot DHCP is the timeline's `dhcp` at
// 0s) stands in. An entry at `t` on a guest's link is applied at that 0s + t. Boot under TCG takes
// tens of seconds, so "at 3s" means three seconds into the guest's own timeline, not into the run.
import Basics
import Engine
import Sim

struct GuestCables {
    /// One change to make to a guest's port.
    struct Change {
        let entry: Int
        let socket: String
        let impairment: PortImpairment
        let note: String
    }

    private struct Cable {
        let host: String
        let hostIsA: Bool
        let socket: String
        var forward: LinkImpairments
        var reverse: LinkImpairments
        var up: Bool
    }

    private let scenario: Scenario
    /// By link index: the links between a guest and the bridge.
    private var cables: [Int: Cable] = [:]
    /// Link entries still to carry out, in (time, entry) order.
    private var pending: [(entry: Int, link: Int, at: Duration)] = []
    /// When each guest's timeline started, once known, and whether a ping anchored it (final).
    private var origins: [String: (time: Instant, anchored: Bool)] = [:]
    /// Each entry's estimated start (QEMUGuestPlan.estimatedStarts).
    private let starts: [Duration]

    init(_ scenario: Scenario, plan: QEMUGuestPlan) {
        self.scenario = scenario
        for g in plan.guests {
            guard let l = g.link else { continue }
            let spec = scenario.links[l.index]
            cables[l.index] = Cable(host: g.host, hostIsA: l.hostIsA, socket: g.socket, forward: spec.forward, reverse: spec.reverse,
                                    up: spec.initiallyUp)
        }
        starts = QEMUGuestPlan.estimatedStarts(scenario)
        for entry in scenario.timeline {
            let link: Int
            switch entry.action {
            case .linkDown(let l), .linkUp(let l): link = l
            case .impair(let a): link = a.link
            default: continue
            }
            guard cables[link] != nil else { continue }
            pending.append((entry.index, link, starts[entry.index]))
        }
        pending.sort { ($0.at, $0.entry) < ($1.at, $1.entry) }
    }

    /// The changes due at `now`, in timeline order (each returned once).
    mutating func due(now: Instant, running: [QEMUScenarioRun.RunningGuest]) -> [Change] {
        guard !pending.isEmpty else { return [] }
        for g in running where origins[g.plan.host]?.anchored != true {
            if let origin = Self.origin(of: g.plan, lines: g.console.all, starts: starts) { origins[g.plan.host] = origin }
        }
        var changes: [Change] = []
        var left: [(entry: Int, link: Int, at: Duration)] = []
        for p in pending {
            guard var cable = cables[p.link], let origin = origins[cable.host]?.time, now >= origin + p.at else {
                left.append(p)
                continue
            }
            let entry = scenario.timeline[p.entry]
            let name = entry.name ?? "timeline[\(entry.index)]"
            let linkName = scenario.links[p.link].displayName
            let what: String
            switch entry.action {
            case .linkDown:
                cable.up = false
                what = "\(linkName) down"
            case .linkUp:
                cable.up = true
                what = "\(linkName) up"
            case .impair(let a):
                if a.direction != .reverse { cable.forward = a.patch.applied(to: cable.forward) }
                if a.direction != .forward { cable.reverse = a.patch.applied(to: cable.reverse) }
                what = "\(linkName) now forward: \(cable.forward.summary); reverse: \(cable.reverse.summary)"
            default:
                continue
            }
            cables[p.link] = cable
            let impairment = QEMUGuestPlan.portImpairment(forward: cable.forward, reverse: cable.reverse, hostIsA: cable.hostIsA, up: cable.up)
            changes.append(Change(entry: p.entry, socket: cable.socket, impairment: impairment,
                                  note: "\(name): \(what) (\(cable.host)'s port, \(Format.duration(p.at)) into its timeline)"))
        }
        pending = left
        return changes
    }

    /// When guest `plan`'s timeline started, from its console `lines`: its first ping's real start
    /// minus that entry's estimated start (`anchored`), else its eth0 coming up; nil before either.
    static func origin(of plan: QEMUGuestPlan.Guest, lines: [(time: Instant, text: String)], starts: [Duration])
        -> (time: Instant, anchored: Bool)? {
        for command in plan.commands {
            guard let entry = command.entry, starts.indices.contains(entry) else { continue }
            guard let run = lines.firstIndex(where: { $0.text.hasSuffix("SLUICE-RUN \(command.name)") }) else { break }
            guard let go = lines[run...].first(where: { $0.text.hasSuffix(QEMUGuestPlan.pingStartMarker) }) else { break }
            return (go.time - starts[entry], true)
        }
        return lines.first { $0.text.contains("SLUICE-NET-UP") }.map { ($0.time, false) }
    }

    /// What each impaired guest port's cable did ("br0 port vhost0-1 ingress"), like a link's
    /// forward and reverse on the other backends.
    static func counterTables(_ bridge: Bridge, scenario: Scenario) -> [CounterTable] {
        bridge.ports.flatMap { port -> [CounterTable] in
            guard let c = bridge.impairmentCounters(of: port.id) else { return [] }
            return [("ingress", c.ingress), ("egress", c.egress)].map { side, c in
                let rows: [CounterTable.Row] = [.init("sent", c.sent), .init("delivered", c.delivered), .init("lost", c.lost),
                                                .init("duplicated", c.duplicated), .init("reordered", c.reordered), .init("corrupted", c.corrupted),
                                                .init("queue drops", c.queueDrops), .init("mtu drops", c.mtuDrops), .init("down drops", c.downDrops)]
                return CounterTable(title: "\(bridge.config.name) port \(port.name) \(side)", rows: rows)
            }
        }
    }
}
