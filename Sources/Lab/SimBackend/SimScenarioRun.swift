// Runs a scenario's timeline in the simulator: schedules `at:` entries, starts `after:` entries
// when the entry they wait for finishes, samples flows for throughput charts, and gathers what
// the expectations and reports need. The simulation is stepped one event at a time so that an
// action's completion is seen at the instant it happens.
import Basics
import Capture
import Datapath
import Engine
import Foundation
import HostStack
import Sim
import Wire

/// What a simulated run produced, for the evaluator and the reports.
struct SimRunOutput {
    var observations: RunObservations
    var actions: [ActionReport]
    var counters: [CounterTable]
    var captures: [CaptureFile]
    var log: [String]
    var simulated: Duration
}

final class SimScenarioRun {
    enum Handle {
        case none
        case dhcp(host: String)
        case ping(host: String, PingID, interval: Duration)
        case udp(host: String, UDPFloodID, receiver: String?, port: UInt16)
        case replay(frames: Int, bytes: Int, played: Int)
    }

    enum State {
        case waiting
        case running(startedAt: Instant)
        case finished(startedAt: Instant, at: Instant)
        case notStarted(String)
    }

    let scenario: Scenario
    let topology: SimTopology
    var simulation: Simulation { topology.simulation }
    private var states: [State]
    private var handles: [Handle]
    private var boundAt: [Instant?]
    private var boundLease: [HostStack.DHCPLease?]
    private var throughput: [[ThroughputSample]]
    private var log: [(time: Instant, text: String)] = []
    private var ended = false

    init(_ scenario: Scenario, topology: SimTopology) {
        self.scenario = scenario
        self.topology = topology
        let n = scenario.timeline.count
        states = Array(repeating: .waiting, count: n)
        handles = Array(repeating: .none, count: n)
        boundAt = Array(repeating: nil, count: n)
        boundLease = Array(repeating: nil, count: n)
        throughput = Array(repeating: [], count: n)
    }

    func note(_ text: String) { log.append((simulation.now, text)) }

    // MARK: Running

    func run() throws(SimulationError) -> SimRunOutput {
        let end = Instant.zero + scenario.duration
        prepareHosts()
        for entry in scenario.timeline {
            if case .at(let t) = entry.trigger {
                let i = entry.index
                simulation.schedule(at: .zero + t, label: "timeline:\(entry.displayName)") { [unowned self] in self.start(i) }
            }
        }
        simulation.schedule(at: end, label: "end of run") { [unowned self] in self.ended = true }
        while !ended {
            guard try simulation.step() else { break }
            checkRunning()
        }
        return finish(at: end)
    }

    /// Static addresses, flow receivers, and DHCP at 0s for `address: dhcp` hosts the timeline
    /// does not start itself.
    private func prepareHosts() {
        for h in topology.hosts {
            switch h.spec.address {
            case .static(let network, let gateway):
                h.guest.withHost { host, now in host.configureStatic(address: network, gateway: gateway, now: now) }
            case .dhcp:
                let startsItself = scenario.timeline.contains { if case .dhcp(h.name) = $0.action { return true }; return false }
                if !startsItself {
                    let guest = h.guest
                    simulation.schedule(at: .zero, label: "dhcp:\(h.name)") { [unowned self] in
                        self.note("\(h.name): DHCP client started (address: dhcp)")
                        guest.withHost { host, now in host.startDHCP(now: now) }
                    }
                }
            case .none:
                break
            }
        }
        for entry in scenario.timeline {
            guard case .udp(let u) = entry.action, let receiver = receiverHost(of: u) else { continue }
            receiver.guest.withHost { host, _ in host.startUDPFloodReceiver(port: UInt16(u.port)) }
        }
    }

    /// The scenario host that counts a flow's datagrams, if the target is one.
    private func receiverHost(of u: UDPFlowAction) -> SimTopology.HostRuntime? {
        switch u.to {
        case .node(let n, _): return topology.host(named: n)
        case .address(let a):
            return topology.hosts.first { if case .static(let net, _) = $0.spec.address { return net.address == a }; return false }
        }
    }

    private func guest(_ name: String) -> SimulatedGuest { topology.host(named: name)!.guest }

    // MARK: Entries

    private func start(_ i: Int) {
        let entry = scenario.timeline[i]
        let now = simulation.now
        let name = entry.displayName
        states[i] = .running(startedAt: now)
        switch entry.action {
        case .dhcp(let node):
            note("\(name): \(node) starts DHCP")
            handles[i] = .dhcp(host: node)
            guest(node).withHost { host, now in host.startDHCP(now: now) }
        case .release(let node):
            note("\(name): \(node) releases its lease")
            guest(node).withHost { host, now in host.releaseDHCP(now: now) }
            complete(i)
        case .ping(let p):
            let (address, what) = topology.resolve(p.to, from: p.node)
            guard let address else { return notStarted(i, "\(what) at \(Format.time(now))") }
            note("\(name): \(p.node) pings \(what), \(p.count) × \(Format.duration(p.interval))")
            let id = guest(p.node).withHost { host, now in
                host.ping(address, count: p.count, interval: p.interval, size: p.size, timeout: p.timeout,
                          timeToLive: p.ttl.map { UInt8($0) }, now: now)
            }
            handles[i] = .ping(host: p.node, id, interval: p.interval)
        case .udp(let u):
            let (address, what) = topology.resolve(u.to, from: u.node)
            guard let address else { return notStarted(i, "\(what) at \(Format.time(now))") }
            note("\(name): \(u.node) sends UDP to \(what):\(u.port) at \(u.rate) for \(Format.duration(u.duration))")
            let rate: UDPFloodRate
            switch u.rate {
            case .bitsPerSecond(let b): rate = .bitsPerSecond(b)
            case .packetsPerSecond(let p): rate = .packetsPerSecond(p)
            }
            let id = guest(u.node).withHost { host, now in
                host.startUDPFlood(to: address, port: UInt16(u.port), size: u.size, rate: rate, duration: u.duration, now: now)
            }
            let receiver = receiverHost(of: u)?.name
            handles[i] = .udp(host: u.node, id, receiver: receiver, port: UInt16(u.port))
            if receiver != nil { sample(i, every: .nanoseconds(max(10_000_000, u.duration.nanosecondsClamped / 100)), bytes: 0, until: now + u.duration + .seconds(1)) }
        case .linkDown(let l):
            note("\(name): \(scenario.links[l].displayName) down")
            topology.setLink(l, up: false)
            complete(i)
        case .linkUp(let l):
            note("\(name): \(scenario.links[l].displayName) up")
            topology.setLink(l, up: true)
            complete(i)
        case .impair(let a):
            topology.impair(a)
            let l = topology.links[a.link]
            note("\(name): \(l.spec.displayName) now forward: \(l.forwardImpairments.summary); reverse: \(l.reverseImpairments.summary)")
            complete(i)
        case .replay(let r):
            startReplay(i, r)
        }
    }

    private func notStarted(_ i: Int, _ why: String) {
        states[i] = .notStarted(why)
        note("\(scenario.timeline[i].displayName): not started: \(why)")
    }

    /// Marks entry `i` finished now and starts the entries waiting on it.
    private func complete(_ i: Int) {
        guard case .running(let startedAt) = states[i] else { return }
        let now = simulation.now
        states[i] = .finished(startedAt: startedAt, at: now)
        guard let name = scenario.timeline[i].name else { return }
        for entry in scenario.timeline {
            guard case .after(name, let delay) = entry.trigger else { continue }
            let j = entry.index
            simulation.schedule(at: now + delay, label: "timeline:\(entry.displayName)") { [unowned self] in self.start(j) }
        }
    }

    /// After each event: has a running action finished?
    private func checkRunning() {
        for i in states.indices {
            guard case .running = states[i] else { continue }
            switch handles[i] {
            case .dhcp(let node):
                if let lease = guest(node).host.lease {
                    boundAt[i] = simulation.now
                    boundLease[i] = lease
                    note("\(scenario.timeline[i].displayName): \(node) bound \(guest(node).host.lease!.address)")
                    complete(i)
                }
            case .ping(let node, let id, _):
                if guest(node).host.pingResult(id).isFinished { complete(i) }
            case .udp(let node, let id, _, _):
                if guest(node).host.floodStats(id).isFinished { complete(i) }
            case .replay, .none:
                break
            }
        }
    }

    /// Samples a flow's received payload every `interval` for the throughput chart.
    private func sample(_ i: Int, every interval: Duration, bytes last: Int, until stop: Instant) {
        simulation.schedule(after: interval, label: "sample:\(scenario.timeline[i].displayName)") { [unowned self] in
            guard case .udp(let node, let id, let receiver?, let port) = self.handles[i] else { return }
            let stats = self.guest(node).host.floodStats(id)
            let stream = self.guest(receiver).host.floodReceiverStats(port: port)?.streams.first {
                $0.stream == stats.stream && $0.sourcePort == stats.sourcePort
            }
            let bytes = stream?.bytes ?? 0
            let seconds = Double(interval.nanosecondsClamped) / 1e9
            self.throughput[i].append(ThroughputSample(time: self.simulation.now, bitsPerSecond: Double(bytes - last) * 8 / seconds))
            if self.simulation.now + interval <= stop { self.sample(i, every: interval, bytes: bytes, until: stop) }
        }
    }

    private func startReplay(_ i: Int, _ r: ReplayAction) {
        let name = scenario.timeline[i].displayName
        let frames: [CaptureRecord]
        do { frames = try PcapReader(path: r.path).readAll() } catch {
            return notStarted(i, "\(error)")
        }
        guard let first = frames.first else {
            note("\(name): \(r.pcap) holds no frames")
            handles[i] = .replay(frames: 0, bytes: 0, played: 0)
            return complete(i)
        }
        let deliver: (CaptureRecord) -> Void
        switch r.into {
        case .bridge(let segment):
            let b = topology.bridgeIndex(segment.bridge)
            let bridge = topology.bridges[b].bridge, node = topology.bridges[b].node
            guard let port = try? bridge.attachExternal(name: "replay:\(name)", kind: .tap, segment: segment.segment, transmit: { _ in }) else {
                return notStarted(i, "no port free on \(segment.bridge)")
            }
            deliver = { [unowned bridge, unowned simulation] record in
                record.bytes.withUnsafeBytes { bridge.receive($0, from: port, now: simulation.now) }
                simulation.touch(node)
            }
        case .host(let h):
            let g = guest(h)
            deliver = { [unowned g] record in g.withHost { host, now in host.receive(record.bytes, now: now) } }
        }
        let total = frames.count * r.loop
        note("\(name): replaying \(r.pcap) (\(frames.count) frames × \(r.loop)) into \(r.into)")
        handles[i] = .replay(frames: total, bytes: 0, played: 0)
        let start = simulation.now
        let span = frames.last!.time - first.time
        for loop in 0..<r.loop {
            for record in frames {
                let offset: Duration
                switch r.speed {
                case .topSpeed: offset = .zero
                case .multiplier(let x):
                    let ns = Double(((record.time - first.time) + span * loop).nanosecondsClamped) / x
                    offset = .nanoseconds(Int64(ns.rounded()))
                }
                simulation.schedule(at: start + offset, label: "replay:\(name)") { [unowned self] in
                    deliver(record)
                    guard case .replay(let n, let bytes, let played) = self.handles[i] else { return }
                    self.handles[i] = .replay(frames: n, bytes: bytes + record.bytes.count, played: played + 1)
                    if played + 1 == n { self.complete(i) }
                }
            }
        }
    }

    // MARK: Results

    private func finish(at end: Instant) -> SimRunOutput {
        var results: [String: ActionResult] = [:]
        var notRun: [String: String] = [:]
        var actions: [ActionReport] = []
        for entry in scenario.timeline {
            let i = entry.index
            let result = self.result(i)
            if let name = entry.name {
                if let result { results[name] = result } else { notRun[name] = whyNotRun(i) }
            }
            actions.append(ActionReport(name: entry.displayName, kind: entry.action.kind, node: entry.action.node,
                                        description: describe(entry), result: result))
        }
        var captureFiles: [CaptureFile] = []
        var records: [String: [CaptureRecord]] = [:]
        for c in topology.captures {
            try? c.writer.close()
            let frames = (try? PcapReader(path: c.path).readAll()) ?? []
            records[c.spec.name] = frames
            captureFiles.append(CaptureFile(name: c.spec.name, at: c.spec.placeDescription, filter: c.spec.filter,
                                            path: c.path, frames: frames.count))
        }
        return SimRunOutput(observations: RunObservations(start: .zero, captures: records, results: results, notRun: notRun),
                            actions: actions, counters: counters(), captures: captureFiles, log: logLines(),
                            simulated: simulation.now - .zero)
    }

    private func whyNotRun(_ i: Int) -> String {
        switch states[i] {
        case .notStarted(let why): return why
        case .waiting:
            if case .after(let other, _) = scenario.timeline[i].trigger { return "waiting for '\(other)', which did not finish before the run ended" }
            return "the run ended first"
        default: return "no result"
        }
    }

    private func result(_ i: Int) -> ActionResult? {
        let startedAt: Instant
        switch states[i] {
        case .running(let s), .finished(let s, _): startedAt = s
        case .waiting, .notStarted: return nil
        }
        switch handles[i] {
        case .dhcp(let node):
            let host = guest(node).host
            let events = host.events.filter { e in
                guard e.time >= startedAt else { return false }
                switch e.kind {
                case .dhcpStateChanged, .leaseAcquired, .leaseRenewed, .leaseLost, .dhcpNAK: return true
                default: return false
                }
            }
            return .dhcp(DHCPActionResult(startedAt: startedAt, lease: boundLease[i], boundAt: boundAt[i], finalLease: host.lease,
                                          finalState: host.dhcpState, events: events))
        case .ping(let node, let id, let interval):
            return .ping(PingActionResult(startedAt: startedAt, result: guest(node).host.pingResult(id), interval: interval))
        case .udp(let node, let id, let receiver, let port):
            let stats = guest(node).host.floodStats(id)
            let stream = receiver.flatMap { guest($0).host.floodReceiverStats(port: port)?.streams.first { $0.stream == stats.stream && $0.sourcePort == stats.sourcePort } }
            return .udp(UDPFlowResult(sender: stats, receiver: stream, throughput: throughput[i]))
        case .replay(_, let bytes, let played):
            var finishedAt: Instant?
            if case .finished(_, let at) = states[i] { finishedAt = at }
            return .replay(ReplayResult(startedAt: startedAt, finishedAt: finishedAt, frames: played, bytes: bytes))
        case .none:
            return .done(at: startedAt)
        }
    }

    private func describe(_ entry: TimelineEntry) -> String {
        let when = entry.trigger.description
        switch entry.action {
        case .dhcp(let n): return "\(when): dhcp on \(n)"
        case .release(let n): return "\(when): release on \(n)"
        case .ping(let p):
            return "\(when): ping \(p.node) → \(p.to), \(p.count) × \(Format.duration(p.interval)), \(p.size) bytes"
        case .udp(let u):
            return "\(when): udp \(u.node) → \(u.to):\(u.port), \(u.rate), \(u.size) bytes, \(Format.duration(u.duration))"
        case .linkDown(let l): return "\(when): link-down \(scenario.links[l].displayName)"
        case .linkUp(let l): return "\(when): link-up \(scenario.links[l].displayName)"
        case .impair(let a): return "\(when): impair \(scenario.links[a.link].displayName) (\(a.direction.rawValue))"
        case .replay(let r): return "\(when): replay \(r.pcap) into \(r.into)"
        }
    }

    /// The run's notes and every host's events, in time order (ties keep their order).
    private func logLines() -> [String] {
        var lines: [(time: Instant, order: Int, text: String)] = log.enumerated().map { ($1.time, $0, $1.text) }
        var order = lines.count
        for h in topology.hosts {
            for e in h.guest.host.events {
                lines.append((e.time, order, "\(h.name): \(String(e.description.drop { $0 != " " }.dropFirst()))"))
                order += 1
            }
        }
        lines.sort { ($0.time, $0.order) < ($1.time, $1.order) }
        return lines.map { "\(Format.time($0.time)) \($0.text)" }
    }

    private func counters() -> [CounterTable] {
        var tables: [CounterTable] = []
        for h in topology.hosts {
            var rows = h.guest.host.counters.fields.filter { $0.value != 0 }.map { CounterTable.Row($0.name, $0.value) }
            let nic = h.guest.counters
            rows += [.init("nic.transmitted", nic.transmitted), .init("nic.received", nic.received), .init("nic.kicks", nic.kicks),
                     .init("nic.notifications", nic.notifications)]
            if nic.transmitRingFull > 0 { rows.append(.init("nic.transmitRingFull", nic.transmitRingFull)) }
            tables.append(CounterTable(title: "host \(h.name)", rows: rows))
        }
        for b in topology.bridges {
            for port in b.bridge.ports {
                var rows: [CounterTable.Row] = [.init("rx packets", Int(port.counters.rxPackets)), .init("rx bytes", Int(port.counters.rxBytes)),
                                                .init("tx packets", Int(port.counters.txPackets)), .init("tx bytes", Int(port.counters.txBytes))]
                for (reason, count) in port.counters.nonZeroDrops { rows.append(.init("drop \(reason)", Int(count))) }
                tables.append(CounterTable(title: "\(b.name) port \(port.name) (\(port.kind))", rows: rows))
            }
        }
        for b in topology.bridges { if let table = wanCounterTable(b.name, b.bridge) { tables.append(table) } }
        for l in topology.links {
            for (side, d) in [("forward", l.forward), ("reverse", l.reverse)] {
                let c = d.counters
                let rows: [CounterTable.Row] = [.init("sent", c.sent), .init("delivered", c.delivered), .init("lost", c.lost),
                                                .init("duplicated", c.duplicated), .init("reordered", c.reordered), .init("corrupted", c.corrupted),
                                                .init("queue drops", c.queueDrops), .init("mtu drops", c.mtuDrops), .init("down drops", c.downDrops)]
                tables.append(CounterTable(title: "\(l.spec.displayName) \(side)", rows: rows))
            }
        }
        for c in topology.captures {
            tables.append(CounterTable(title: "capture \(c.spec.name)", rows: [.init("recorded", Int(c.tap.recorded)),
                                                                              .init("filtered out", Int(c.tap.filteredOut)),
                                                                              .init("write failures", Int(c.tap.writeFailures))]))
        }
        return tables
    }
}
