// Runs a mesh scenario on the sim backend (docs/scenarios.md, "Mesh scenarios"): the timeline's actions at their
// times on MeshSimulation, the observations the expectations need (ping replies, convergence, path and route samples,
// loop samples, bytes on the wire per node), then the verdicts, action reports, per-node counters and a log.
import Basics
import Mesh

struct MeshScenarioRun {
    let scenario: Scenario
    let mesh: MeshScenario
    let seed: UInt64

    init(_ scenario: Scenario, mesh: MeshScenario, seed: UInt64) {
        self.scenario = scenario; self.mesh = mesh; self.seed = seed
    }

    /// What the run observed, per action and per expectation.
    final class Observed {
        /// Ping actions: send time per sequence, reply times per sequence.
        var sent: [Int: [Instant]] = [:]
        var replies: [Int: [UInt16: Instant]] = [:]
        /// ping-all: start, first answer per pair (a*count+b).
        var pingAllStart: [Int: Instant] = [:]
        var answered: [Int: [Int: Instant]] = [:]
        /// revoke: when it was issued, and when every other node had cut the node off.
        var revokedAt: [Int: Instant] = [:]
        var cutOff: [Int: Duration] = [:]
        /// Expectation index → sampled text (paths, routes) or numbers.
        var samples: [Int: String] = [:]
        var loops: [Int: (sum: Int, checks: Int)] = [:]
        /// route-changes: the last next hop seen and the times it changed.
        var lastHop: [Int: String] = [:]
        var changes: [Int: [Instant]] = [:]
        var traffic: [Int: [Int]] = [:]
        var log: [String] = []
    }

    func run() throws -> (LabRun, digest: UInt64) {
        let sim = try MeshSimulation(mesh, seed: seed)
        let o = Observed()
        let n = mesh.nodes.count
        func line(_ event: String, _ fields: String) { o.log.append("\(Format.time(sim.now)) info \(event) \(fields)") }

        sim.onReply = { node, identifier, sequence in
            let action = Int(identifier)
            guard action >= 1, action <= mesh.timeline.count else { return }
            switch mesh.timeline[action - 1].action {
            case .ping(let from, _, _, _):
                if node == from, o.replies[action]?[sequence] == nil, o.sent[action]?.indices.contains(Int(sequence)) == true {
                    o.replies[action, default: [:]][sequence] = sim.now
                }
            case .pingAll:
                let pair = Int(sequence)
                if pair / n == node, o.answered[action]?[pair] == nil { o.answered[action, default: [:]][pair] = sim.now }
            default: break
            }
        }

        let end = Instant.zero + scenario.duration
        for (k, entry) in mesh.timeline.enumerated() {
            let id = k + 1
            sim.schedule(at: .zero + entry.at) {
                self.start(entry.action, id: id, sim: sim, observed: o, end: end, line: line)
            }
        }
        // Expectations that sample during the run.
        for e in mesh.expectations {
            switch e.check {
            case .path(let from, let to, _, let at?):
                sim.schedule(at: .zero + at) { o.samples[e.index] = self.pathText(sim, from, to) }
            case .route(let node, let to, _, let at?):
                sim.schedule(at: .zero + at) { o.samples[e.index] = self.routeText(sim, node, to) }
            case .controlTraffic(_, let from, let until):
                sim.schedule(at: .zero + from) { o.traffic[e.index] = sim.bytesSent }
                if let until { sim.schedule(at: .zero + until) { o.traffic[-1 - e.index] = sim.bytesSent } }
            case .loops(_, let every):
                func sample(_ t: Instant) {
                    sim.schedule(at: t) {
                        let l = sim.loops()
                        let s = o.loops[e.index] ?? (0, 0)
                        o.loops[e.index] = (s.sum + l, s.checks + 1)
                        if t + every <= end { sample(t + every) }
                    }
                }
                sample(.zero)
            case .routeChanges(let node, let to, _, _, let from, let every):
                o.changes[e.index] = []
                func sample(_ t: Instant) {
                    sim.schedule(at: t) {
                        let hop = self.routeText(sim, node, to)
                        if let last = o.lastHop[e.index], last != hop { o.changes[e.index]!.append(sim.now) }
                        o.lastHop[e.index] = hop
                        if t + every <= end { sample(t + every) }
                    }
                }
                sample(.zero + from)
            default: break
            }
        }
        try sim.run(until: end)
        for e in mesh.expectations {
            switch e.check {
            case .path(let from, let to, _, nil): o.samples[e.index] = pathText(sim, from, to)
            case .route(let node, let to, _, nil): o.samples[e.index] = routeText(sim, node, to)
            case .controlTraffic(_, _, nil): o.traffic[-1 - e.index] = sim.bytesSent
            default: break
            }
        }
        line("mesh-end", "nodes=\(n) datagrams=\(sim.datagramsSent.reduce(0, +)) lost=\(sim.datagramsLost) digest=\(String(sim.digest, radix: 16))")

        var run = LabRun(scenario, seed: seed, backend: .sim)
        run.outcomes = mesh.expectations.map { evaluate($0, sim: sim, observed: o) }
        run.actions = actionReports(sim: sim, observed: o)
        run.counters = counters(sim: sim)
        run.log = o.log
        run.simulatedDuration = scenario.duration
        return (run, sim.digest)
    }

    // MARK: Actions

    func start(_ action: MeshScenario.Action, id: Int, sim: MeshSimulation, observed o: Observed, end: Instant,
               line: @escaping (String, String) -> Void) {
        let names = mesh.nodes.map(\.name)
        let n = mesh.nodes.count
        switch action {
        case .ping(let from, let to, let count, let interval):
            line("mesh-ping", "from=\(names[from]) to=\(names[to]) count=\(count) interval=\(Format.duration(interval))")
            o.sent[id] = []
            func send(_ k: Int) {
                o.sent[id]!.append(sim.now)
                sim.ping(from: from, to: to, identifier: UInt16(id), sequence: UInt16(k))
                if k + 1 < count, sim.now + interval <= end { sim.schedule(at: sim.now + interval) { send(k + 1) } }
            }
            send(0)
        case .pingAll(let within, let interval):
            line("mesh-ping-all", "pairs=\(n * (n - 1)) within=\(Format.duration(within))")
            let startAt = sim.now
            o.pingAllStart[id] = startAt
            o.answered[id] = [:]
            func round() {
                for a in 0..<n { for b in 0..<n where a != b && o.answered[id]![a * n + b] == nil {
                    sim.ping(from: a, to: b, identifier: UInt16(id), sequence: UInt16(a * n + b))
                } }
                if o.answered[id]!.count < n * (n - 1), sim.now + interval < startAt + within, sim.now + interval <= end {
                    sim.schedule(at: sim.now + interval) { round() }
                }
            }
            round()
        case .linkDown(let l, let signal):
            let link = mesh.links[l]
            line("mesh-link-down", "link=\(link.name) signal=\(signal)")
            sim.linkUp[l] = false
            if signal { sim.signalDown(link.a, link.b) }
        case .linkUp(let l):
            line("mesh-link-up", "link=\(mesh.links[l].name)")
            sim.linkUp[l] = true
        case .impair(let l, let delay, let loss):
            line("mesh-impair", "link=\(mesh.links[l].name)" + (delay.map { " delay=\(Format.duration($0))" } ?? "") + (loss.map { " loss=\($0)" } ?? ""))
            if let delay { sim.linkDelay[l] = delay }
            if let loss { sim.linkLoss[l] = loss }
        case .partition(let nodes, let signal):
            line("mesh-partition", "nodes=\(nodes.map { names[$0] }.joined(separator: ",")) signal=\(signal)")
            sim.partitioned = Set(nodes)
            if signal {
                let side = Set(nodes)
                for (k, l) in mesh.links.enumerated() where sim.linkUp[k] && side.contains(l.a) != side.contains(l.b) {
                    sim.signalDown(l.a, l.b)
                }
            }
        case .heal:
            line("mesh-heal", "")
            sim.partitioned = nil
        case .restart(let node, let down):
            line("mesh-restart", "node=\(names[node]) down=\(Format.duration(down))")
            sim.stop(node)
            sim.schedule(at: sim.now + down) {
                sim.start(node)
                line("mesh-started", "node=\(names[node])")
            }
        case .revoke(let node, let via):
            line("mesh-revoke", "node=\(names[node]) via=\(names[via])")
            do { try sim.revoke(node, via: via) } catch { line("mesh-revoke-failed", "error=\(error)") ; return }
            let at = sim.now
            o.revokedAt[id] = at
            func check() {
                if (0..<n).allSatisfy({ $0 == node || sim.hasCutOff($0, from: node) }) {
                    o.cutOff[id] = sim.now - at
                    line("mesh-revoked", "node=\(names[node]) cut-off=\(Format.duration(sim.now - at))")
                } else if sim.now - at < .seconds(10), sim.now + .milliseconds(5) <= end {
                    sim.schedule(at: sim.now + .milliseconds(5)) { check() }
                }
            }
            check()
        }
    }

    func pathText(_ sim: MeshSimulation, _ a: Int, _ b: Int) -> String {
        guard let node = sim.nodes[a] else { return "down" }
        // A peer whose key or certificate is revoked is refused by every handshake: unreachable, whatever the path.
        if node.handshaker.verifier.revocations.keys.contains(sim.key(b)) { return "unreachable" }
        switch node.path(to: sim.key(b)) {
        case .direct: return "direct"
        case .relayed(let via): return "relayed via \(sim.index[via].map { mesh.nodes[$0].name } ?? "?")"
        case .unreachable: return "unreachable"
        }
    }

    func routeText(_ sim: MeshSimulation, _ a: Int, _ b: Int) -> String {
        guard let node = sim.nodes[a] else { return "down" }
        guard let hop = node.routing.nextHop(for: MeshSimulation.overlay(b)) else { return "none" }
        return "via \(sim.index[hop].map { mesh.nodes[$0].name } ?? "?")"
    }

    // MARK: Results

    struct PingResult { var sent: Int; var received: Int; var rtts: [Duration]; var outage: Duration }

    func pingResult(_ id: Int, observed o: Observed, end: Instant) -> PingResult? {
        guard let sent = o.sent[id] else { return nil }
        let replies = o.replies[id] ?? [:]
        let rtts = replies.map { $0.value - sent[Int($0.key)] }
        let times = replies.values.sorted()
        var outage = Duration.zero
        if times.isEmpty {
            outage = end - (sent.first ?? end)
        } else {
            for (x, y) in zip(times, times.dropFirst()) { outage = max(outage, y - x) }
        }
        return PingResult(sent: sent.count, received: replies.count, rtts: rtts, outage: outage)
    }

    func measured(_ metric: MeshScenario.Metric, action id: Int, observed o: Observed) -> Double? {
        let end = Instant.zero + scenario.duration
        switch metric {
        case .received, .loss, .outage, .rttAvg, .rttMax:
            guard let p = pingResult(id, observed: o, end: end) else { return nil }
            switch metric {
            case .received: return Double(p.received)
            case .loss: return p.sent == 0 ? 0 : Double(p.sent - p.received) / Double(p.sent)
            case .outage: return Double(p.outage.nanosecondsClamped)
            case .rttAvg: return p.rtts.isEmpty ? nil : Double(p.rtts.reduce(Duration.zero, +).nanosecondsClamped) / Double(p.rtts.count)
            default: return p.rtts.max().map { Double($0.nanosecondsClamped) }
            }
        case .answered: return o.answered[id].map { Double($0.count) }
        case .converged:
            let n = mesh.nodes.count
            guard let a = o.answered[id], let s = o.pingAllStart[id], a.count == n * (n - 1), let last = a.values.max() else { return nil }
            return Double((last - s).nanosecondsClamped)
        case .cutOff: return o.cutOff[id].map { Double($0.nanosecondsClamped) }
        }
    }

    static func holds(_ c: Condition, _ v: Double) -> Bool {
        switch c {
        case .compare(let list): list.allSatisfy { $0.op.holds(v, $0.value) }
        case .isTrue(let b): (v != 0) == b
        default: false
        }
    }

    func evaluate(_ e: MeshScenario.Expectation, sim: MeshSimulation, observed o: Observed) -> ExpectationOutcome {
        var outcome = ExpectationOutcome(name: e.name, index: e.index, location: e.location, passed: false, message: "")
        switch e.check {
        case .action(let name, let checks):
            let id = (mesh.timeline.firstIndex { $0.name == name } ?? -1) + 1
            var parts: [String] = []
            var all = true
            for (metric, condition) in checks {
                let bound = ScenarioValues.describe(condition, unit: metric.unit)
                if let v = measured(metric, action: id, observed: o) {
                    let ok = Self.holds(condition, v)
                    all = all && ok
                    let text = Format.value(v, unit: metric.unit)
                    parts.append("\(metric.rawValue) \(text)" + (ok ? "" : ", expected \(bound)"))
                    outcome.checks.append(CheckResult(subject: metric.rawValue, measured: text, bound: bound, passed: ok, value: v))
                } else {
                    all = false
                    let why = metric == .converged ? "not every pair answered" : metric == .cutOff ? "not cut off everywhere within 10s" : "no result"
                    parts.append("\(metric.rawValue): \(why), expected \(bound)")
                    outcome.checks.append(CheckResult(subject: metric.rawValue, measured: why, bound: bound, passed: false))
                }
            }
            outcome.passed = all
            outcome.message = parts.joined(separator: "; ")
        case .path(_, _, let shape, _):
            let seen = o.samples[e.index] ?? "not sampled"
            let want: String
            switch shape {
            case .direct: want = "direct"
            case .unreachable: want = "unreachable"
            case .relayed(nil): want = "relayed"
            case .relayed(let v?): want = "relayed via \(mesh.nodes[v].name)"
            }
            outcome.passed = shape == .relayed(via: nil) ? seen.hasPrefix("relayed via") : seen == want
            outcome.message = "path \(seen)" + (outcome.passed ? "" : ", expected \(want)")
            outcome.checks = [CheckResult(subject: "path", measured: seen, bound: want, passed: outcome.passed)]
        case .route(_, _, let present, _):
            let seen = o.samples[e.index] ?? "not sampled"
            outcome.passed = (seen.hasPrefix("via ")) == present
            outcome.message = "route \(seen)" + (outcome.passed ? "" : ", expected \(present ? "a route" : "none")")
            outcome.checks = [CheckResult(subject: "route", measured: seen, bound: present ? "present" : "absent", passed: outcome.passed)]
        case .controlTraffic(let condition, let from, let until):
            let before = o.traffic[e.index] ?? Array(repeating: 0, count: mesh.nodes.count)
            let after = o.traffic[-1 - e.index] ?? sim.bytesSent
            let seconds = Double(((until ?? scenario.duration) - from).nanosecondsClamped) / 1e9
            let rates = zip(after, before).map { Double($0 - $1) / max(seconds, 1e-9) }
            let worst = rates.max() ?? 0, mean = rates.isEmpty ? 0 : rates.reduce(0, +) / Double(rates.count)
            let busiest = rates.firstIndex(of: worst).map { mesh.nodes[$0].name } ?? "-"
            outcome.passed = Self.holds(condition, worst)
            let bound = ScenarioValues.describe(condition, unit: .count)
            outcome.message = "busiest node \(busiest) \(Int(worst)) B/s, mean \(Int(mean)) B/s over \(Format.duration(.nanoseconds(Int64(seconds * 1e9))))"
                + (outcome.passed ? "" : ", expected \(bound)")
            outcome.checks = [CheckResult(subject: "control traffic (B/s, busiest node)", measured: "\(Int(worst))", bound: bound,
                                          passed: outcome.passed, value: worst)]
        case .routeChanges(_, _, let count, let gap, let from, _):
            let times = o.changes[e.index] ?? []
            let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
            // With fewer than two changes there is no gap between changes: the whole window stands for it.
            let shortest = gaps.min() ?? (scenario.duration - from)
            var parts: [String] = ["\(times.count) changes"]
            var ok = true
            if let count {
                let held = Self.holds(count, Double(times.count))
                ok = ok && held
                let bound = ScenarioValues.describe(count, unit: .count)
                if !held { parts[0] += ", expected \(bound)" }
                outcome.checks.append(CheckResult(subject: "route changes", measured: "\(times.count)", bound: bound, passed: held, value: Double(times.count)))
            }
            if let gap {
                let v = Double(shortest.nanosecondsClamped)
                let held = Self.holds(gap, v)
                ok = ok && held
                let bound = ScenarioValues.describe(gap, unit: .duration)
                parts.append("shortest gap \(Format.duration(shortest))" + (held ? "" : ", expected \(bound)"))
                outcome.checks.append(CheckResult(subject: "gap between changes", measured: Format.duration(shortest), bound: bound, passed: held, value: v))
            }
            if !times.isEmpty { parts.append("at " + times.prefix(12).map { Format.time($0) }.joined(separator: ", ") + (times.count > 12 ? ", …" : "")) }
            outcome.passed = ok
            outcome.message = parts.joined(separator: "; ")
        case .loops(let condition, _):
            let s = o.loops[e.index] ?? (0, 0)
            outcome.passed = s.checks > 0 && Self.holds(condition, Double(s.sum))
            let bound = ScenarioValues.describe(condition, unit: .count)
            outcome.message = "\(s.sum) looping pairs over \(s.checks) checks" + (outcome.passed ? "" : ", expected \(bound)")
            outcome.checks = [CheckResult(subject: "loops", measured: "\(s.sum)", bound: bound, passed: outcome.passed, value: Double(s.sum))]
        }
        return outcome
    }

    func actionReports(sim: MeshSimulation, observed o: Observed) -> [ActionReport] {
        let names = mesh.nodes.map(\.name)
        let end = Instant.zero + scenario.duration
        var out: [ActionReport] = []
        for (k, entry) in mesh.timeline.enumerated() {
            let id = k + 1
            let name = entry.name ?? "timeline[\(k)] (\(entry.action.verb))"
            switch entry.action {
            case .ping(let from, let to, let count, let interval):
                let text = "ping \(names[from]) → \(names[to]) over the mesh, \(count) × \(Format.duration(interval))"
                var result: ActionResult?
                if let p = pingResult(id, observed: o, end: end), let sent = o.sent[id] {
                    var summary = "\(p.received)/\(p.sent) answered, longest gap between replies \(Format.duration(p.outage))"
                    if let avg = measured(.rttAvg, action: id, observed: o) { summary += ", rtt avg \(Format.duration(nanoseconds: avg))" }
                    // Round-trip time per probe against the time it was sent: a failover shows as a gap of misses.
                    let replies = o.replies[id] ?? [:]
                    var points: [(x: Double, y: Double)] = []
                    var misses: [Double] = []
                    for (k, at) in sent.enumerated() {
                        let x = Double(at.nanoseconds) / 1e9
                        if let r = replies[UInt16(k)] { points.append((x, Double((r - at).nanosecondsClamped) / 1e6)) } else { misses.append(x) }
                    }
                    let chart = SVGChart(title: "\(name): round-trip time per probe", xLabel: "sent at (s)", yLabel: "RTT (ms)",
                                         series: [.init(name: "rtt", points: points, color: SVGChart.palette[0], style: .lineAndDots)],
                                         misses: misses, missLabel: "unanswered").render()
                    result = .recorded(RecordedActionResult(startedAt: sent.first ?? .zero, summary: summary, chart: chart))
                }
                out.append(ActionReport(name: name, kind: .ping, node: names[from], description: text, result: result))
            case .pingAll(let within, _):
                let n = mesh.nodes.count
                let text = "full mesh of pings (\(n * (n - 1)) pairs) within \(Format.duration(within))"
                var result: ActionResult?
                if let start = o.pingAllStart[id] {
                    let answered = o.answered[id] ?? [:]
                    var summary = "\(answered.count) of \(n * (n - 1)) pairs answered"
                    if let c = measured(.converged, action: id, observed: o) { summary += ", converged after \(Format.duration(nanoseconds: c))" }
                    // Pairs answered against time since the start: the convergence curve.
                    var points: [(x: Double, y: Double)] = [(0, 0)]
                    for (k, t) in answered.values.sorted().enumerated() { points.append((Double((t - start).nanosecondsClamped) / 1e9, Double(k + 1))) }
                    let chart = SVGChart(title: "\(name): pairs answered", xLabel: "time since start (s)", yLabel: "pairs",
                                         series: [.init(name: "answered", points: points, color: SVGChart.palette[1], style: .line)],
                                         integerY: true).render()
                    result = .recorded(RecordedActionResult(startedAt: start, summary: summary, chart: chart))
                }
                out.append(ActionReport(name: name, kind: .ping, node: nil, description: text, result: result))
            default: break
            }
        }
        return out
    }

    func counters(sim: MeshSimulation) -> [CounterTable] {
        let seconds = max(1, Int(scenario.duration.nanosecondsClamped / 1_000_000_000))
        var rows: [CounterTable.Row] = []
        for (i, node) in mesh.nodes.enumerated() {
            rows.append(.init("\(node.name) bytes sent", sim.bytesSent[i]))
            rows.append(.init("\(node.name) bytes/s", sim.bytesSent[i] / seconds))
            rows.append(.init("\(node.name) datagrams sent", sim.datagramsSent[i]))
            if let n = sim.nodes[i] {
                rows.append(.init("\(node.name) relayed", Int(clamping: n.counters.relayed)))
                rows.append(.init("\(node.name) failovers", Int(clamping: n.counters.failovers)))
                rows.append(.init("\(node.name) failbacks", Int(clamping: n.counters.failbacks)))
            }
        }
        rows.append(.init("underlay datagrams lost", sim.datagramsLost))
        return [CounterTable(title: "mesh nodes (UDP on the underlay)", rows: rows)]
    }
}
