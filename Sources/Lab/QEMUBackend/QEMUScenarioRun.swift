// Runs a scenario with QEMU guests: a BridgeDaemon (the production driver: vhost-user servers,
// the Engine bridge, its timers) whose reactor this thread turns, the guests booted with their
// commands (QEMUGuestPlan), and the run over when every guest has powered off. Results are read
// from each guest's console (SLUICE-* markers, busybox ping's output) and from the DHCPACKs the
// bridge itself saw; captures are the bridge's own taps, as on the other backends.
import Basics
import BridgeDaemon
import Capture
import struct Datapath.PortID
import Engine
import Foundation
import HostIO
import HostStack
import QEMU
import Wire

/// Console lines with the monotonic time each arrived (filled on QEMU's reader thread).
final class TimedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(time: Instant, text: String)] = []
    private let clock = MonotonicClock()

    func append(_ line: String) {
        let now = clock.now()
        lock.lock(); items.append((now, line)); lock.unlock()
    }

    var all: [(time: Instant, text: String)] { lock.lock(); defer { lock.unlock() }; return items }
}

final class QEMUScenarioRun {
    struct RunningGuest {
        let plan: QEMUGuestPlan.Guest
        let process: QEMUProcess
        let console: TimedLines
    }

    let scenario: Scenario
    let testGuest: TestGuest
    let captureDirectory: String
    let interrupt: InterruptGuard
    private var log: [(time: Instant, text: String)] = []
    private let clock = MonotonicClock()
    private var epochOffset: UInt64 = 0
    /// Replays (the only bridge-side action here) by entry: frames, bytes and frames played.
    private var replays: [Int: (progress: ReplayProgress, startedAt: Instant, finishedAt: Instant?)] = [:]
    private var notRun: [Int: String] = [:]
    /// Link changes carried out (link-down, link-up, impair), by entry.
    private var linkResults: [Int: ActionResult] = [:]

    /// Boot, commands and power-off of the slowest guest must fit in this (TCG on a shared machine).
    static let bootAllowance: Duration = .seconds(300)

    /// The run's seed: the guests' links draw from it (their ports' impairments), as on sim.
    let seed: UInt64

    init(_ scenario: Scenario, seed: UInt64 = 0, guest: TestGuest, captureDirectory: String, interrupt: InterruptGuard) {
        self.scenario = scenario
        self.seed = seed
        self.testGuest = guest
        self.captureDirectory = captureDirectory
        self.interrupt = interrupt
    }

    func note(_ text: String) { log.append((clock.now(), text)) }

    func captureTime(_ monotonic: Instant) -> Instant { Instant(nanoseconds: monotonic.nanoseconds &+ epochOffset) }

    func run() throws(RealBackendError) -> RunOutput {
        let work = NSTemporaryDirectory() + "sluice-lab-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: captureDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        } catch {
            throw RealBackendError("cannot create \(captureDirectory) or \(work): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: work) }
        let plan = try QEMUGuestPlan(scenario, socketDirectory: work)
        if plan.guests.contains(where: { $0.commands.contains { $0.text.contains("sluice-flow ") } }), let why = Self.lacksIPerf3(testGuest) {
            throw RealBackendError(why)
        }
        notRun = plan.notRun
        for n in plan.notes { note(n) }

        // The daemon blocks SIGINT and SIGTERM on this thread for its signalfd; the interrupt
        // guard takes them back, and this thread's mask is restored when the run ends.
        var mask = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &mask)
        defer { pthread_sigmask(SIG_SETMASK, &mask, nil) }
        let daemon: BridgeDaemon
        do {
            daemon = try BridgeDaemon(config: plan.bridgeConfig, captureDirectory: captureDirectory) { [unowned self] in
                self.note("bridge: \($0)")
            }
        } catch {
            throw RealBackendError("bridge \(plan.bridgeName): \(error)")
        }
        daemon.impairmentSeed = seed
        interrupt.takeSignals()
        defer { daemon.shutdown() }
        let reactor = daemon.reactor, bridge = daemon.bridge
        epochOffset = UInt64(Date().timeIntervalSince1970 * 1e9) &- reactor.clock.now().nanoseconds

        // Captures, and a tap in memory per guest segment for the DHCPACKs (the leases' details).
        var captures: [CaptureRuntime] = []
        for spec in scenario.captures {
            do {
                let capture = try CaptureRuntime(spec, directory: captureDirectory, epochOffset: epochOffset)
                captures.append(capture)
                try bridge.addTap(capture.tap, segment: spec.at.segment)
            } catch {
                throw RealBackendError("capture \(spec.name): \(error)")
            }
        }
        var dhcpTaps: [CaptureTap] = []
        var tapped: [String] = []  // one per segment (a socket per guest)
        for socket in plan.bridgeConfig.vhostUser where !tapped.contains(socket.segment) {
            tapped.append(socket.segment)
            let tap = CaptureTap(name: "dhcp:\(socket.segment)", filter: try? BPFFilter("udp src port 67"), sink: .memory(capacity: 1024))
            do { try bridge.addTap(tap, segment: socket.segment) } catch { throw RealBackendError("\(error)") }
            dhcpTaps.append(tap)
        }

        let start = clock.now()
        note("run started (capture time \(NetnsScenarioRun.wallClock(captureTime(start)))); \(plan.guests.count) guest(s) under TCG")
        var running: [RunningGuest] = []
        defer { for g in running where g.process.exitStatus == nil { g.process.stop(grace: .seconds(3)) } }
        for entry in scenario.timeline { if case .replay(let r) = entry.action { scheduleReplay(entry, r, on: daemon, start: start) } }
        var cables = GuestCables(scenario, plan: plan)

        // Boot guests as their targets become ready; serve until every guest is done (lingering
        // or powered off), then stop them.
        var pending = plan.guests
        let limit = start + Self.bootAllowance * max(1, plan.guests.count) + scenario.duration
        func done(_ g: RunningGuest) -> Bool {
            g.process.exitStatus != nil || (g.plan.lingers && g.console.all.contains { $0.text.hasSuffix("SLUICE-RUN linger") })
        }
        while !pending.isEmpty || running.contains(where: { !done($0) }) {
            if let s = interrupt.caught { throw RealBackendError("interrupted by signal \(s); the guests were stopped") }
            let now = clock.now()
            if now >= limit {
                note("limit reached (\(Format.duration(limit - start))); stopping the guests")
                break
            }
            while let next = nextToBoot(pending, running: running, done: done) {
                let g = pending.remove(at: next)
                try boot(g, into: &running, bridgeName: plan.bridgeName)
            }
            for change in cables.due(now: now, running: running) {
                daemon.setGuestImpairment(change.impairment, socket: change.socket)
                note(change.note)
                linkResults[change.entry] = .done(at: captureTime(now))
            }
            // The daemon arms the bridge's timer on the reactor (replayed frames go through it too).
            do { try reactor.runOnce(timeout: .milliseconds(20)) } catch { if error != .interrupted { throw RealBackendError("epoll: \(error)") } }
        }
        // Replays still due within the scenario's duration.
        while clock.now() < start + scenario.duration, replays.values.contains(where: { $0.progress.played < $0.progress.frames }) {
            do { try reactor.runOnce(timeout: .milliseconds(20)) } catch { break }
        }
        let end = clock.now()
        // QEMU stops its vhost-user device on the way out (GET_VRING_BASE) and waits for the
        // answer: keep serving while the guests shut down, then kill what is left.
        for g in running where g.process.exitStatus == nil { kill(g.process.pid, SIGTERM) }
        let grace = clock.now() + .seconds(10)
        while clock.now() < grace, running.contains(where: { $0.process.exitStatus == nil }) {
            do { try reactor.runOnce(timeout: .milliseconds(20)) } catch { break }
        }
        for g in running {
            let exit = g.process.exitStatus ?? g.process.stop(grace: .seconds(1))
            note("\(g.plan.host): QEMU \(exit)")
        }
        daemon.shutdown()
        let acks = dhcpTaps.flatMap(\.records).compactMap { r in FrameDecoding.dhcpMessage(r).map { (r.time, $0) } }
            .filter { $0.1.messageType == .ack }
        return finish(running, acks: acks, captures: captures, counters: counters(bridge, captures), start: start, end: end)
    }

    /// Why `guest` cannot run flows, when its guest.env (beside the initramfs, written by
    /// ci/build-test-guest.sh) says it was built without iperf3; nil when it has it or there is
    /// no guest.env to tell.
    static func lacksIPerf3(_ guest: TestGuest) -> String? {
        let env = URL(fileURLWithPath: guest.initramfs).deletingLastPathComponent().appendingPathComponent("guest.env").path
        guard let text = try? String(contentsOfFile: env, encoding: .utf8) else { return nil }
        if text.split(separator: "\n").contains(where: { $0.hasPrefix("IPERF3=") }) { return nil }
        return "the test guest at \(URL(fileURLWithPath: env).deletingLastPathComponent().path) has no iperf3 (built before tcp and udp flows ran on qemu); rebuild it: bash ci/build-test-guest.sh"
    }

    /// The pending guest to boot now: one whose targets across the router are all ready; when
    /// none is and nothing else is still booting (guests that wait on each other), the first.
    private func nextToBoot(_ pending: [QEMUGuestPlan.Guest], running: [RunningGuest], done: (RunningGuest) -> Bool) -> Int? {
        guard !pending.isEmpty else { return nil }
        if let i = pending.firstIndex(where: { g in
            g.waitsFor.allSatisfy { t in running.contains { $0.plan.host == t && done($0) } }
        }) { return i }
        return running.contains { !done($0) } ? nil : 0
    }

    private func boot(_ g: QEMUGuestPlan.Guest, into running: inout [RunningGuest], bridgeName: String) throws(RealBackendError) {
        let machine = testGuest.machine(memoryMiB: 256, cmdline: g.cmdline,
                                            networks: [NetworkAttachment(socket: g.socket, mac: g.spec.mac.description, reconnect: 0)])
            let console = TimedLines()
            do {
                try QEMULauncher.preflight(machine)
                let process = try QEMULauncher.start(QEMUCommandLine(machine: machine), console: .transcript(ConsoleTranscript(onLine: { console.append($0) })))
                running.append(RunningGuest(plan: g, process: process, console: console))
                note("\(g.host): QEMU pid \(process.pid), \(g.spec.mac) on \(bridgeName).\(g.spec.attachment.segment); commands: "
                     + (g.commands.isEmpty ? "none" : g.commands.map { "\($0.name)=\"\($0.text)\"" }.joined(separator: "; ")))
            } catch {
                throw RealBackendError("guest \(g.host): \(error)")
            }
    }

    // MARK: Replay

    private func scheduleReplay(_ entry: TimelineEntry, _ r: ReplayAction, on daemon: BridgeDaemon, start: Instant) {
        let bridge = daemon.bridge, reactor = daemon.reactor
        guard case .at(let t) = entry.trigger else {
            notRun[entry.index] = "on qemu a replay starts at a time (at:), not after a guest's action"
            return
        }
        guard case .bridge(let segment) = r.into else {
            notRun[entry.index] = if case .wan = r.into { "replay into a WAN (sim only)" } else { "replay into a guest" }
            return
        }
        let schedule: ReplaySchedule
        do { schedule = try ReplaySchedule(r) } catch { notRun[entry.index] = "\(error)"; return }
        let port: PortID
        do throws(ReplayRefusal) { port = try bridge.attachReplayPort(entry: entry.displayName, segment: segment) } catch {
            notRun[entry.index] = error.why
            return
        }
        let i = entry.index
        let begin = start + t
        replays[i] = (ReplayProgress(frames: schedule.total), begin, schedule.frames.isEmpty ? begin : nil)
        guard !schedule.frames.isEmpty else { return }
        for (offset, record) in schedule.deliveries {
            reactor.schedule(at: begin + offset) { [unowned self, unowned daemon] in
                let now = self.clock.now()
                record.bytes.withUnsafeBytes { daemon.receive($0, from: port) }
                guard var state = self.replays[i] else { return }
                if state.progress.play(record) { state.finishedAt = now }
                self.replays[i] = state
            }
        }
        note("\(entry.displayName): replaying \(r.pcap) (\(schedule.frames.count) frames × \(r.loop)) into \(r.into) at \(Format.duration(t))")
    }

    // MARK: Results

    private func finish(_ guests: [RunningGuest], acks: [(Instant, DHCPMessage)],
                        captures: [CaptureRuntime], counters: [CounterTable],
                        start: Instant, end: Instant) -> RunOutput {
        var results: [Int: ActionResult] = [:]
        for g in guests {
            let lines = g.console.all
            for (t, text) in lines { log.append((t, "\(g.plan.host)| \(text)")) }
            if let entry = g.plan.dhcpEntry { results[entry] = dhcpResult(g, lines, acks: acks) ?? results[entry] }
            if let entry = g.plan.dhcpEntry, results[entry] == nil { notRun[entry] = notRun[entry] ?? "\(g.plan.host) never brought up eth0" }
            for command in g.plan.commands {
                guard let entry = command.entry, let target = command.target else { continue }
                guard let run = lines.firstIndex(where: { $0.text.hasSuffix("SLUICE-RUN \(command.name)") }) else {
                    notRun[entry] = "\(g.plan.host) did not get to it (last console line: \(lines.last?.text ?? "none"))"
                    continue
                }
                let after = lines[(run + 1)...]
                let done = after.firstIndex { $0.text.contains("SLUICE-RESULT \(command.name) ") }
                if let flow = flowResult(entry, lines[(run + 1)..<(done ?? lines.endIndex)], target: target,
                                         exit: done.flatMap { GuestMarker(line: lines[$0].text) }) {
                    results[entry] = flow
                    continue
                }
                guard case .ping(let p) = scenario.timeline[entry].action else { continue }
                let go = after.firstIndex { $0.text.hasSuffix(QEMUGuestPlan.pingStartMarker) } ?? run
                let output = lines[(go + 1)..<(done ?? lines.endIndex)].map { (time: Optional(captureTime($0.time)), text: $0.text) }
                let startedAt = captureTime(lines[go].time)
                let parser = PingOutput(dialect: .busybox, target: target, action: p, startedAt: startedAt)
                results[entry] = .ping(PingActionResult(startedAt: startedAt, result: parser.result(output, finished: done != nil), interval: p.interval))
            }
        }
        for (i, r) in linkResults { results[i] = r }
        for (i, r) in replays {
            results[i] = .replay(r.progress.result(startedAt: captureTime(r.startedAt), finishedAt: r.finishedAt.map(captureTime)))
        }

        let timeline = TimelineResults(scenario, result: { results[$0.index] },
                                       whyNotRun: { notRun[$0.index] ?? "no result (see the run log)" },
                                       annotation: { $0.action.node != nil ? " (in the guest, after boot)" : "" })
        let captured = CapturedFrames(captures, place: \.at.description)
        log.sort { $0.time < $1.time }
        let lines = log.map { "\(Format.time(Instant(nanoseconds: 0) + ($0.time - min($0.time, start)))) \($0.text)" }
        // Capture windows count from the guests' timeline (the earliest guest's 0s; link changes
        // are timed from each guest's own, GuestCables.origin).
        let starts = QEMUGuestPlan.estimatedStarts(scenario)
        let origin = guests.compactMap { g in GuestCables.origin(of: g.plan, lines: g.console.all, starts: starts)?.time }.min() ?? start
        return RunOutput(observations: RunObservations(start: captureTime(origin), captures: captured.records,
                                                       results: timeline.named, notRun: timeline.notRun),
                         actions: timeline.actions, counters: counters, captures: captured.files, log: lines, duration: end - start)
    }

    /// A tcp or udp flow's result from sluice-flow's output: the last SLUICE-FLOW-START (the
    /// attempt that counted) starts it; iperf3's JSON follows. Nil for other actions; a flow
    /// without JSON is noted and left without a result (reported as not run).
    private func flowResult(_ entry: Int, _ output: ArraySlice<(time: Instant, text: String)>, target: IPv4Address,
                            exit: GuestMarker?) -> ActionResult? {
        let action = scenario.timeline[entry].action
        switch action { case .tcp, .udp: break; default: return nil }
        let name = scenario.timeline[entry].displayName
        guard let go = output.lastIndex(where: { $0.text.hasSuffix(QEMUGuestPlan.flowStartMarker) }) else {
            notRun[entry] = "the guest never started iperf3 (see the run log)"
            return nil
        }
        let startedAt = captureTime(output[go].time)
        // Other markers (a DHCP renewal) may land between the JSON's lines on the console.
        let json = output[(go + 1)...].map(\.text).filter { !$0.contains(GuestMarker.prefix) }.joined(separator: "\n")
        var exitedCleanly = false
        if case .result(_, let code)? = exit { exitedCleanly = code == 0 }
        do {
            switch action {
            case .tcp(let t):
                let report = try IPerf3TCPReport(json: json, flow: t, startedAt: startedAt, exitedCleanly: exitedCleanly)
                if let e = report.error { note("\(name): iperf3: \(e)") }
                return .tcp(report.result)
            case .udp(let u):
                let report = try IPerf3Report(json: json, flow: u, target: target, startedAt: startedAt)
                if let e = report.error { note("\(name): iperf3: \(e)") }
                return .udp(report.result)
            default:
                return nil
            }
        } catch {
            note("\(name): \(error)")
            notRun[entry] = "\(error)"
            return nil
        }
    }

    /// The boot lease: from eth0 coming up (udhcpc starts then) to SLUICE-DHCP-OK, with the
    /// lease's details from the DHCPACK the bridge sent to this guest's MAC.
    private func dhcpResult(_ g: RunningGuest, _ lines: [(time: Instant, text: String)], acks: [(Instant, DHCPMessage)]) -> ActionResult? {
        guard let up = lines.first(where: { if case .networkUp? = GuestMarker(line: $0.text) { return true }; return false }) else { return nil }
        let startedAt = captureTime(up.time)
        let ok = lines.first { if case .dhcpBound? = GuestMarker(line: $0.text) { return true }; return false }
        var lease: DHCPClientLease?
        if ok != nil, let (time, ack) = acks.first(where: { $0.1.clientMAC == g.plan.spec.mac && $0.0 >= up.time }) {
            lease = Self.lease(from: ack, at: captureTime(time))
        } else if let ok, case .dhcpBound(let text)? = GuestMarker(line: ok.text), let network = IPv4Network(text) {
            lease = DHCPClientLease(address: network, serverIdentifier: IPv4Address(rawValue: 0), leaseTime: nil, renewalTime: nil,
                              rebindingTime: nil, obtainedAt: captureTime(ok.time))
        }
        let boundAt = ok.map { captureTime($0.time) }
        let events = lease.map { [HostEvent(time: boundAt ?? startedAt, kind: .leaseAcquired($0))] } ?? []
        return .dhcp(DHCPActionResult(startedAt: startedAt, lease: lease, boundAt: boundAt, finalLease: lease,
                                      finalState: lease != nil ? .bound : .selecting, events: events))
    }

    /// The lease a DHCPACK grants (RFC 2131 §4.4.1; T1 and T2 default to ½ and ⅞ of the lease).
    static func lease(from ack: DHCPMessage, at time: Instant) -> DHCPClientLease? {
        let o = ack.options
        let prefix = o.subnetMask.map { $0.rawValue.nonzeroBitCount } ?? 24
        guard let network = IPv4Network(address: ack.yiaddr, prefixLength: prefix) else { return nil }
        let lease = o.leaseTime.flatMap { $0 == DHCP.infiniteLeaseTime ? nil : Duration.seconds(Int64($0)) }
        return DHCPClientLease(address: network, serverIdentifier: o.serverIdentifier ?? ack.siaddr, routers: o.routers ?? [],
                         dnsServers: o.domainNameServers ?? [], domainName: o.domainName, leaseTime: lease,
                         renewalTime: o.renewalTime.map { .seconds(Int64($0)) } ?? lease.map { $0 / 2 },
                         rebindingTime: o.rebindingTime.map { .seconds(Int64($0)) } ?? lease.map { $0 * 7 / 8 }, obtainedAt: time)
    }

    private func counters(_ bridge: Bridge, _ captures: [CaptureRuntime]) -> [CounterTable] {
        CounterTable.ports(of: bridge, named: bridge.config.name) + GuestCables.counterTables(bridge, scenario: scenario)
            + captures.map(\.counterTable)
    }
}
