// Runs a scenario's timeline on the netns topology in real time: one loop on this thread waits on
// the reactor (TAP frames, bridge timers, frames due off a delayed link, child output), starts the
// entries that are due, and notices when running ones finish — a lease reported by udhcpc's
// script, a ping or iperf3 client exiting, a replay's last frame. The order of work and the
// results follow SimScenarioRun, so the same expectations hold either way; only time is real.
import Basics
import Capture
import Engine
import Foundation
import HostIO
import HostStack
import Wire

final class NetnsScenarioRun: ReplayingRun {
    enum Handle {
        case none
        case dhcp(host: String)
        case ping(Subprocess, PingAction, target: IPv4Address)
        case udp(Subprocess, UDPFlowAction, target: IPv4Address)
        case tcp(Subprocess, TCPFlowAction)
    }

    let scenario: Scenario
    let topology: NetnsTopology
    let interrupt: InterruptGuard
    private var progress: TimelineProgress
    private var handles: [Handle]
    /// Replay entries started, by index (ReplayingRun plays them).
    var replays: [Int: ReplayProgress] = [:]
    /// `at:` and `after:` entries not started yet, by start time (monotonic).
    private var agenda: [(time: Instant, entry: Int)] = []
    private var clients: [String: UDHCPClient] = [:]
    /// iperf3 servers by "host:port".
    private var servers: [String: Subprocess] = [:]
    private var log: [(time: Instant, text: String)] = []
    private var start: Instant = .zero

    init(_ scenario: Scenario, topology: NetnsTopology, interrupt: InterruptGuard) {
        self.scenario = scenario
        self.topology = topology
        self.interrupt = interrupt
        let n = scenario.timeline.count
        progress = TimelineProgress(scenario.timeline)
        handles = Array(repeating: .none, count: n)
    }

    func note(_ text: String) { log.append((topology.now(), text)) }

    private var reactor: Reactor { topology.reactor }

    // MARK: Running

    func run() throws(RealBackendError) -> RunOutput {
        defer { stopChildren() }
        try prepareHosts()
        start = topology.now()
        note("run started (real time; capture time \(Self.wallClock(topology.captureTime(start))))")
        startDefaultDHCP()
        for entry in scenario.timeline {
            if case .at(let t) = entry.trigger { schedule(entry.index, at: start + t) }
        }
        let end = start + scenario.duration
        while true {
            if let s = interrupt.caught { throw RealBackendError("interrupted by signal \(s); everything was taken down") }
            let now = topology.now()
            if now >= end { break }
            while let first = agenda.first, first.time <= now {
                agenda.removeFirst()
                begin(first.entry)
            }
            updateClients()
            checkRunning()
            // Sleep until the next thing due, but look at the children at least every 20 ms.
            var wake = min(end, now + .milliseconds(20))
            if let a = agenda.first?.time { wake = min(wake, a) }
            if let t = topology.nextWake() { wake = min(wake, t) }
            try wait(until: wake, now: now)
            topology.service()
        }
        let finishedAt = topology.now()
        stopRunning()
        return finish(duration: finishedAt - start)
    }

    /// Serves the reactor until `wake`. epoll counts whole milliseconds (rounded up), which would
    /// make every frame on a delayed link late by up to a millisecond per hop: it is asked to wake
    /// a millisecond early, and the last stretch is slept in steps of at most 200 µs.
    private func wait(until wake: Instant, now: Instant) throws(RealBackendError) {
        let left = wake > now ? wake - now : .zero
        do {
            if left > .milliseconds(2) {
                try reactor.runOnce(timeout: left - .milliseconds(1))
            } else if try reactor.runOnce(timeout: .zero) == 0, left > .zero {
                usleep(UInt32(max(20, min(200, left.nanosecondsClamped / 1000))))
            }
        } catch {
            if error != .interrupted { throw RealBackendError("epoll: \(error)") }
        }
    }

    private func schedule(_ i: Int, at time: Instant) {
        let index = agenda.firstIndex { $0.time > time } ?? agenda.endIndex
        agenda.insert((time, i), at: index)
    }

    /// Namespaces are up; static addresses now, and an iperf3 server for every flow's receiver.
    private func prepareHosts() throws(RealBackendError) {
        for h in topology.hosts {
            guard case .static(let network, let gateway) = h.spec.address else { continue }
            try h.namespace.ip(["addr", "add", network.description, "dev", h.interface])
            if let gateway { try h.namespace.ip(["route", "add", "default", "via", gateway.description]) }
            h.address = network
            note("\(h.name): address \(network)" + (gateway.map { " via \($0)" } ?? "") + " (static)")
        }
        var ports: [(NetnsTopology.HostRuntime, Int)] = []
        for entry in scenario.timeline {
            guard case .udp(let u) = entry.action, let receiver = receiverHost(of: u) else { continue }
            if !ports.contains(where: { $0.0 === receiver && $0.1 == u.port }) { ports.append((receiver, u.port)) }
        }
        for entry in scenario.timeline {
            guard case .tcp(let t) = entry.action, case .node(let n, _) = t.to, let receiver = topology.host(named: n) else { continue }
            if !ports.contains(where: { $0.0 === receiver && $0.1 == t.port }) { ports.append((receiver, t.port)) }
        }
        for (host, port) in ports {
            let server = try Subprocess(host.namespace.command(IPerf3.server(port: port)))
            servers["\(host.name):\(port)"] = server
            try waitUntilListening(server, port: port, host: host.name)
            note("\(host.name): iperf3 server on port \(port)")
        }
    }

    /// Waits (at most 5 s) until `server` listens on TCP `port` (iperf3's control connection),
    /// reading its namespace's /proc/<pid>/net/tcp{,6}.
    private func waitUntilListening(_ server: Subprocess, port: Int, host: String) throws(RealBackendError) {
        let wanted = String(format: ":%04X ", port)
        let deadline = topology.now() + .seconds(5)
        while topology.now() < deadline {
            for file in ["tcp", "tcp6"] {
                let text = (try? String(contentsOfFile: "/proc/\(server.pid)/net/\(file)", encoding: .utf8)) ?? ""
                // local_address is the second column; state 0A is LISTEN.
                if text.split(separator: "\n").contains(where: { $0.contains(wanted) && $0.split(separator: " ").dropFirst(3).first == "0A" }) {
                    return
                }
            }
            if server.poll() { throw RealBackendError("\(host): iperf3 server exited: \(server.output)") }
            usleep(10_000)
        }
        throw RealBackendError("\(host): iperf3 server did not listen on port \(port) within 5 s: \(server.output)")
    }

    /// DHCP at 0s for `address: dhcp` hosts the timeline does not start itself.
    private func startDefaultDHCP() {
        for h in topology.hosts {
            guard case .dhcp = h.spec.address else { continue }
            if scenario.timelineStartsDHCP(on: h.name) { continue }
            note("\(h.name): DHCP client started (address: dhcp)")
            if let failure = startClient(h) { note("\(h.name): \(failure)") }
        }
    }

    /// Starts (or restarts) udhcpc for `host`; returns why not, if it could not.
    private func startClient(_ host: NetnsTopology.HostRuntime) -> String? {
        if let client = clients[host.name], client.process.exitCode == nil {
            // Running (perhaps released): SIGUSR1 starts it over.
            client.released = false
            client.process.send(SIGUSR1)
            return nil
        }
        let remembered = clients[host.name]?.currentLease?.address.address
        do {
            clients[host.name] = try UDHCPClient(host: host.name, namespace: host.namespace, interface: host.interface,
                                                 script: topology.scriptPath, requesting: remembered)
            return nil
        } catch {
            return "cannot start udhcpc: \(error)"
        }
    }

    /// Reads every client's new events and keeps the hosts' addresses current.
    private func updateClients() {
        for name in clients.keys.sorted() {
            let client = clients[name]!
            let fresh = client.update(now: topology.now(), obtainedAt: topology.captureTime)
            guard !fresh.isEmpty, let host = topology.host(named: name) else { continue }
            for (_, e) in fresh {
                switch e {
                case .bound(let lease, let renewed):
                    host.address = lease.address
                    note("\(name): \(renewed ? "renewed" : "bound") \(lease.address)" + (lease.routers.first.map { " router \($0)" } ?? "")
                         + (lease.leaseTime.map { ", lease \(Format.duration($0))" } ?? ""))
                case .deconfigured:
                    if host.address != nil { note("\(name): address removed") }
                    host.address = nil
                case .failed(let why):
                    note("\(name): udhcpc: \(why)")
                }
            }
        }
    }

    private func receiverHost(of u: UDPFlowAction) -> NetnsTopology.HostRuntime? {
        scenario.receiver(of: u).flatMap(topology.host(named:))
    }

    // MARK: Entries

    private func begin(_ i: Int) {
        let entry = scenario.timeline[i]
        let now = topology.now()
        let name = entry.displayName
        progress.start(i, at: now)
        switch entry.action {
        case .dhcp(let node):
            note("\(name): \(node) starts DHCP")
            handles[i] = .dhcp(host: node)
            if let failure = startClient(topology.host(named: node)!) { notStarted(i, failure) }
        case .release(let node):
            note("\(name): \(node) releases its lease")
            if let client = clients[node], client.process.exitCode == nil {
                client.released = true
                client.process.send(SIGUSR2)
            }
            complete(i)
        case .ping(let p):
            let (address, what) = topology.resolve(p.to, from: p.node)
            guard let address else { return notStarted(i, "\(what) at \(Format.time(Instant(nanoseconds: 0) + (now - start)))") }
            note("\(name): \(p.node) pings \(what), \(p.count) × \(Format.duration(p.interval))")
            var command = ["ping", "-D", "-n", "-c", "\(p.count)", "-i", Self.seconds(p.interval), "-W", Self.seconds(p.timeout),
                           "-s", "\(p.size)"]
            if let ttl = p.ttl { command += ["-t", "\(ttl)"] }
            command.append(address.description)
            do {
                handles[i] = .ping(try Subprocess(topology.host(named: p.node)!.namespace.command(command)), p, target: address)
            } catch {
                notStarted(i, "\(error)")
            }
        case .udp(let u):
            let (address, what) = topology.resolve(u.to, from: u.node)
            guard let address else { return notStarted(i, "\(what) at \(Format.time(Instant(nanoseconds: 0) + (now - start)))") }
            guard let receiver = receiverHost(of: u) ?? topology.hosts.first(where: { $0.address?.address == address }),
                  servers["\(receiver.name):\(u.port)"] != nil else {
                return notStarted(i, "no host of the scenario receives at \(what):\(u.port) (iperf3 needs a server)")
            }
            note("\(name): \(u.node) sends UDP to \(what):\(u.port) at \(u.rate) for \(Format.duration(u.duration)) (iperf3)")
            do {
                handles[i] = .udp(try Subprocess(topology.host(named: u.node)!.namespace.command(IPerf3.client(u, target: address))),
                                  u, target: address)
            } catch {
                notStarted(i, "\(error)")
            }
        case .tcp(let t):
            let (address, what) = topology.resolve(t.to, from: t.node)
            guard let address else { return notStarted(i, "\(what) at \(Format.time(Instant(nanoseconds: 0) + (now - start)))") }
            guard case .node(let n, _) = t.to, servers["\(n):\(t.port)"] != nil else {
                return notStarted(i, "no iperf3 server at \(what):\(t.port)")
            }
            note("\(name): \(t.node) opens \(t.streams) TCP stream(s) to \(what):\(t.port), \(t.amount), \(t.congestion.rawValue) (iperf3)")
            do {
                handles[i] = .tcp(try Subprocess(topology.host(named: t.node)!.namespace.command(IPerf3.client(t, target: address))), t)
            } catch {
                notStarted(i, "\(error)")
            }
        case .linkDown, .linkUp, .impair:
            topology.change(entry.action, entry: name, note: note)
            complete(i)
        case .replay(let r):
            startReplay(i, r)
        }
    }

    /// A duration as ping's seconds ("0.2").
    static func seconds(_ d: Duration) -> String {
        let ns = d.nanosecondsClamped
        return ns % 1_000_000_000 == 0 ? "\(ns / 1_000_000_000)" : String(format: "%.6f", Double(ns) / 1e9)
    }

    func notStarted(_ i: Int, _ why: String) {
        progress.notStarted(i, why)
        handles[i] = .none
        note("\(scenario.timeline[i].displayName): not started: \(why)")
    }

    /// Marks entry `i` finished now and schedules the entries waiting on it.
    func complete(_ i: Int) {
        for due in progress.finish(i, at: topology.now()) { schedule(due.entry.index, at: due.at) }
    }

    /// Has a running entry finished?
    private func checkRunning() {
        for i in progress.indices {
            guard let startedAt = progress.runningSince(i) else { continue }
            switch handles[i] {
            case .dhcp(let node):
                if let client = clients[node], client.events.contains(where: { t, e in
                    if case .bound = e { return t >= startedAt }; return false
                }) {
                    complete(i)
                }
            case .ping(let process, _, _), .udp(let process, _, _), .tcp(let process, _):
                if process.poll() { complete(i) }
            case .none:
                break
            }
        }
    }

    // MARK: Replays

    var now: Instant { topology.now() }

    /// Into a bridge segment through a port of its own, or written straight into a host's TAP.
    func replayInput(_ target: ReplayTarget, entry name: String) throws(ReplayRefusal) -> (CaptureRecord) -> Void {
        switch target {
        case .bridge(let segment):
            let bridge = topology.bridges[topology.bridgeIndex(segment.bridge)].bridge
            let port = try bridge.attachReplayPort(entry: name, segment: segment)
            return { [unowned bridge, unowned topology] record in
                record.bytes.withUnsafeBytes { bridge.receive($0, from: port, now: topology.now()) }
                topology.service()
            }
        case .host(let h):
            let host = topology.host(named: h)!
            return { [unowned topology] record in record.bytes.withUnsafeBytes { topology.inject($0, into: host) } }
        case .wan(let b):
            throw ReplayRefusal(why: "replay into \(b).wan runs on the sim backend only")
        }
    }

    func scheduleReplayFrame(of name: String, at time: Instant, _ body: @escaping () -> Void) {
        reactor.schedule(at: time, body)
    }

    // MARK: Ending

    /// At the end of the run: pings and flows still going are interrupted (they print what they
    /// saw), and their partial results kept.
    private func stopRunning() {
        for i in progress.indices {
            guard progress.runningSince(i) != nil else { continue }
            switch handles[i] {
            case .ping(let p, _, _), .udp(let p, _, _), .tcp(let p, _):
                p.stop(SIGINT, grace: .seconds(2))
            default:
                break
            }
        }
        updateClients()
    }

    /// Every child still running: DHCP clients (without releasing), iperf3 servers.
    private func stopChildren() {
        for name in clients.keys.sorted() { clients[name]!.process.stop(SIGTERM, grace: .seconds(1)) }
        for key in servers.keys.sorted() { servers[key]!.stop(SIGTERM, grace: .seconds(1)) }
        for i in handles.indices {
            switch handles[i] {
            case .ping(let p, _, _), .udp(let p, _, _), .tcp(let p, _): p.stop(SIGKILL)
            default: break
            }
        }
    }

    private func result(_ i: Int, finished: Bool) -> ActionResult? {
        guard let startedAt = progress.startedAt(i) else { return nil }
        let startedAtCapture = topology.captureTime(startedAt)
        switch handles[i] {
        case .dhcp(let node):
            guard let client = clients[node] else { return nil }
            let bound = client.events.first { t, e in if case .bound = e { return t >= startedAt }; return false }
            var lease: DHCPClientLease?
            if case .bound(let l, _)? = bound?.event { lease = l }
            var events: [HostEvent] = []
            var held: DHCPClientLease?
            for (t, e) in client.events {
                let time = topology.captureTime(t)
                let event: HostEvent
                switch e {
                case .bound(let l, let renewed):
                    event = HostEvent(time: time, kind: renewed ? .leaseRenewed(l) : .leaseAcquired(l))
                    held = l
                case .deconfigured:
                    // udhcpc deconfigures when it starts (INIT) and when it releases or loses a lease.
                    event = held.map { HostEvent(time: time, kind: .leaseLost($0, client.released ? .released : .expired)) }
                        ?? HostEvent(time: time, kind: .dhcpStateChanged(from: .stopped, to: .initial))
                    held = nil
                case .failed(let why):
                    event = HostEvent(time: time, kind: .dhcpNAK(server: nil, message: why))
                }
                if t >= startedAt { events.append(event) }
            }
            return .dhcp(DHCPActionResult(startedAt: startedAtCapture, lease: lease, boundAt: bound.map { topology.captureTime($0.time) },
                                          finalLease: client.released ? nil : client.currentLease, finalState: client.state, events: events))
        case .ping(let process, let action, let target):
            process.poll()
            let parser = PingOutput(dialect: .iputils, target: target, action: action, startedAt: startedAtCapture)
            let lines = process.lines.map { (time: Optional(topology.captureTime($0.time)), text: $0.text) }
            return .ping(PingActionResult(startedAt: startedAtCapture, result: parser.result(lines, finished: finished && process.exitCode != nil),
                                          interval: action.interval))
        case .udp(let process, let flow, let target):
            process.poll()
            do {
                let report = try IPerf3Report(json: process.output, flow: flow, target: target, startedAt: startedAtCapture)
                if let e = report.error { note("\(scenario.timeline[i].displayName): iperf3: \(e)") }
                return .udp(report.result)
            } catch {
                note("\(scenario.timeline[i].displayName): \(error)")
                return nil
            }
        case .tcp(let process, let flow):
            process.poll()
            do {
                let report = try IPerf3TCPReport(json: process.output, flow: flow, startedAt: startedAtCapture,
                                                 exitedCleanly: process.exitCode == 0)
                if let e = report.error { note("\(scenario.timeline[i].displayName): iperf3: \(e)") }
                return .tcp(report.result)
            } catch {
                note("\(scenario.timeline[i].displayName): \(error)")
                return nil
            }
        case .none:
            if let replay = replays[i] {
                return .replay(replay.result(startedAt: startedAtCapture, finishedAt: progress.finishedAt(i).map(topology.captureTime)))
            }
            return .done(at: startedAtCapture)
        }
    }

    private func finish(duration: Duration) -> RunOutput {
        let timeline = TimelineResults(scenario, result: { result($0.index, finished: progress.finishedAt($0.index) != nil) },
                                       whyNotRun: { progress.whyNotRun($0.index, otherwise: "no result (see the run log)") })
        // Results are taken: stop the children, then close the captures (flushed) and namespaces.
        stopChildren()
        topology.close()
        let captured = CapturedFrames(topology.captures, place: \.at.description)
        let lines = log.map { "\(Format.time(Instant(nanoseconds: 0) + ($0.time - start))) \($0.text)" }
        return RunOutput(observations: RunObservations(start: topology.captureTime(start), captures: captured.records,
                                                       results: timeline.named, notRun: timeline.notRun),
                         actions: timeline.actions, counters: topology.counters(), captures: captured.files, log: lines, duration: duration)
    }

    /// "2026-05-07 10:11:12.345 UTC".
    static func wallClock(_ captureTime: Instant) -> String {
        let date = Date(timeIntervalSince1970: Double(captureTime.nanoseconds) / 1e9)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS 'UTC'"
        return f.string(from: date)
    }
}
