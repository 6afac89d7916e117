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

final class SimScenarioRun: ReplayingRun {
    enum Handle {
        case none
        case dhcp(host: String)
        case ping(host: String, PingID, interval: Duration)
        case udp(host: String, UDPFloodID, receiver: String?, port: UInt16)
        case tcp(TCPFlowRun)
    }

    /// A running `do: tcp`: its connections on the node (which opened them) and, for `reverse`,
    /// the ones the target accepted and sends on.
    final class TCPFlowRun {
        let flow: TCPFlowAction
        let target: String
        let startedAt: Instant
        /// Bytes each stream carries (byte-count flows).
        let shares: [UInt64]
        /// The node's connections, one per stream.
        var opened: [TCPConnectionID]
        /// Reverse: the target's accepted connections, in accept order.
        var accepted: [TCPConnectionID] = []
        /// Set when the flow is done (every byte acknowledged, or its time is up): the streams then.
        var final: [TCPFlowResult.Stream]?
        var finishedAt: Instant?
        var throughput: [ThroughputSample] = []
        var cwnd: [(time: Instant, bytes: Int)] = []
        /// The hosts of `flow.node` and of the target (looked up once: the flow is checked after
        /// every event that touches either).
        let nodeHost: HostStack.Host, targetHost: HostStack.Host

        init(flow: TCPFlowAction, target: String, startedAt: Instant, shares: [UInt64], opened: [TCPConnectionID],
             nodeHost: HostStack.Host, targetHost: HostStack.Host) {
            self.flow = flow; self.target = target; self.startedAt = startedAt; self.shares = shares; self.opened = opened
            self.nodeHost = nodeHost; self.targetHost = targetHost
        }

        /// The sending host and its connections.
        var senders: (host: String, ids: [TCPConnectionID]) { flow.reverse ? (target, accepted) : (flow.node, opened) }
        var senderHost: HostStack.Host { flow.reverse ? targetHost : nodeHost }
    }

    let scenario: Scenario
    let topology: SimTopology
    var simulation: Simulation { topology.simulation }
    private var progress: TimelineProgress
    private var handles: [Handle]
    /// Replay entries started, by index (ReplayingRun plays them).
    var replays: [Int: ReplayProgress] = [:]
    /// Replays into WANs (for the frames they could not hand over).
    private var wanInputs: [ReplayWANInput] = []
    private var boundAt: [Instant?]
    private var boundLease: [DHCPClientLease?]
    private var throughput: [[ThroughputSample]]
    private var log: [(time: Instant, text: String)] = []
    /// Running entries that finish on their host's state (DHCP, ping, flow), by the host's index
    /// in `topology.hosts`: after an event only the hosts it touched are looked at.
    private var watching: [[Int]]
    private var ended = false

    init(_ scenario: Scenario, topology: SimTopology) {
        self.scenario = scenario
        self.topology = topology
        let n = scenario.timeline.count
        progress = TimelineProgress(scenario.timeline)
        handles = Array(repeating: .none, count: n)
        boundAt = Array(repeating: nil, count: n)
        boundLease = Array(repeating: nil, count: n)
        throughput = Array(repeating: [], count: n)
        watching = Array(repeating: [], count: topology.hosts.count)
    }

    func note(_ text: String) { log.append((simulation.now, text)) }

    // MARK: Running

    /// Runs the timeline to the end; `ran` is called when the last event has run (before the
    /// results are gathered: `sluice bench sim` times the two apart).
    func run(ran: () -> Void = {}) throws(SimulationError) -> RunOutput {
        let end = Instant.zero + scenario.duration
        prepareHosts()
        for entry in scenario.timeline {
            if case .at(let t) = entry.trigger {
                let i = entry.index
                simulation.schedule(at: .zero + t, label: "timeline:\(entry.displayName)") { [unowned self] in self.start(i) }
            }
        }
        simulation.schedule(at: end, label: "end of run") { [unowned self] in self.ended = true }
        var touched: [Int] = []
        while !ended {
            guard try simulation.step() else { break }
            touched.removeAll(keepingCapacity: true)
            for node in simulation.touchedByLastEvent {
                if let h = topology.hostIndex(ofNode: node) { touched += watching[h] }
            }
            if !touched.isEmpty { checkRunning(touched) }
        }
        ran()
        return finish(at: end)
    }

    /// Static addresses, flow receivers, and DHCP at 0s for `address: dhcp` hosts the timeline
    /// does not start itself.
    private func prepareHosts() {
        for h in topology.hosts {
            switch h.spec.ipv6 {
            case nil: break
            case .auto: h.guest.withHost { host, now in host.startIPv6(now: now) }
            case .static(let network): h.guest.withHost { host, now in host.addIPv6Address(network, now: now) }
            }
            switch h.spec.address {
            case .static(let network, let gateway):
                h.guest.withHost { host, now in host.configureStatic(address: network, gateway: gateway, now: now) }
            case .dhcp:
                if !scenario.timelineStartsDHCP(on: h.name) {
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
        // A TCP flow's target listens on the flow's port from the start: a sink, or (reverse) a
        // sender the run hands each accepted connection to.
        for entry in scenario.timeline {
            guard case .tcp(let t) = entry.action, case .node(let n, _) = t.to, let target = topology.host(named: n) else { continue }
            target.guest.withHost { host, _ in
                host.tcpListen(port: UInt16(t.port), receiveMode: t.reverse ? .buffer : .sink, congestionControl: Self.algorithm(t.congestion))
            }
        }
    }

    static func algorithm(_ c: TCPFlowCongestion) -> TCPCongestionControlAlgorithm {
        switch c {
        case .cubic: .cubic
        case .newreno: .newReno
        }
    }

    /// The scenario host that counts a flow's datagrams, if the target is one.
    private func receiverHost(of u: UDPFlowAction) -> SimTopology.HostRuntime? {
        scenario.receiver(of: u).flatMap(topology.host(named:))
    }

    private func guest(_ name: String) -> SimulatedGuest { topology.host(named: name)!.guest }

    // MARK: Entries

    private func start(_ i: Int) {
        let entry = scenario.timeline[i]
        let now = simulation.now
        let name = entry.displayName
        progress.start(i, at: now)
        switch entry.action {
        case .dhcp(let node):
            note("\(name): \(node) starts DHCP")
            handles[i] = .dhcp(host: node)
            watch(i, on: node)
            guest(node).withHost { host, now in host.startDHCP(now: now) }
        case .release(let node):
            note("\(name): \(node) releases its lease")
            guest(node).withHost { host, now in host.releaseDHCP(now: now) }
            complete(i)
        case .ping(let p) where p.ipv6:
            // family: ipv6 — the target host's global address if the sender has a route to it (an
            // address in its prefix, or a default router), else its link-local address.
            guard case .node(let target, _) = p.to, let peer = topology.host(named: target) else {
                return notStarted(i, "\(p.to) is not a host (family: ipv6) at \(Format.time(now))")
            }
            let sender = guest(p.node).host
            let global = peer.guest.host.ipv6GlobalAddress.flatMap { sender.ipv6Reaches($0) ? $0 : nil }
            guard let address = global ?? peer.guest.host.ipv6LinkLocal else {
                return notStarted(i, "\(target) has no usable IPv6 address (ipv6: missing, DAD pending or failed) at \(Format.time(now))")
            }
            note("\(name): \(p.node) pings \(target) at \(address), \(p.count) × \(Format.duration(p.interval))")
            let id = guest(p.node).withHost { host, now in
                host.ping6(address, count: p.count, interval: p.interval, size: p.size, timeout: p.timeout,
                           hopLimit: p.ttl.map { UInt8($0) }, now: now)
            }
            handles[i] = .ping(host: p.node, id, interval: p.interval)
            watch(i, on: p.node)
        case .ping(let p):
            let (address, what) = topology.resolve(p.to, from: p.node)
            guard let address else { return notStarted(i, "\(what) at \(Format.time(now))") }
            note("\(name): \(p.node) pings \(what), \(p.count) × \(Format.duration(p.interval))")
            let id = guest(p.node).withHost { host, now in
                host.ping(address, count: p.count, interval: p.interval, size: p.size, timeout: p.timeout,
                          timeToLive: p.ttl.map { UInt8($0) }, now: now)
            }
            handles[i] = .ping(host: p.node, id, interval: p.interval)
            watch(i, on: p.node)
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
            watch(i, on: u.node)
            if receiver != nil { sample(i, every: .nanoseconds(max(10_000_000, u.duration.nanosecondsClamped / 100)), bytes: 0, until: now + u.duration + .seconds(1)) }
        case .tcp(let t):
            startTCP(i, t)
        case .linkDown, .linkUp, .impair:
            topology.change(entry.action, entry: name, note: note)
            complete(i)
        case .replay(let r):
            startReplay(i, r)
        }
    }

    private func startTCP(_ i: Int, _ t: TCPFlowAction) {
        let now = simulation.now
        let (address, what) = topology.resolve(t.to, from: t.node)
        guard let address, case .node(let target, _) = t.to else { return notStarted(i, "\(what) at \(Format.time(now))") }
        note("\(scenario.timeline[i].displayName): \(t.node) opens \(t.streams) TCP stream(s) to \(what):\(t.port), \(t.amount)\(t.reverse ? ", \(target) sending" : ""), \(t.congestion.rawValue)")
        var shares: [UInt64] = []
        if case .bytes(let total) = t.amount {
            let n = UInt64(t.streams)
            shares = (0..<n).map { total / n + ($0 < total % n ? 1 : 0) }
        }
        let algorithm = Self.algorithm(t.congestion)
        var ids: [TCPConnectionID] = []
        for s in 0..<t.streams {
            let id = guest(t.node).withHost { host, now -> TCPConnectionID? in
                guard let id = host.tcpConnect(to: address, port: UInt16(t.port), congestionControl: algorithm,
                                               receiveMode: t.reverse ? .sink : .buffer, now: now) else { return nil }
                if !t.reverse { host.tcpSendBulk(id, bytes: shares.isEmpty ? UInt64.max / 2 : shares[s], close: !shares.isEmpty, now: now) }
                return id
            }
            guard let id else { return notStarted(i, "\(t.node) has no address at \(Format.time(now))") }
            ids.append(id)
        }
        let run = TCPFlowRun(flow: t, target: target, startedAt: now, shares: shares, opened: ids,
                             nodeHost: guest(t.node).host, targetHost: guest(target).host)
        handles[i] = .tcp(run)
        let interval: Duration
        if case .duration(let d) = t.amount {
            interval = .nanoseconds(max(10_000_000, d.nanosecondsClamped / 100))
            simulation.schedule(after: d, label: "tcp-stop:\(scenario.timeline[i].displayName)") { [unowned self] in self.stopTCP(i) }
        } else {
            interval = .milliseconds(100)
        }
        sampleTCP(i, every: interval, bytes: 0)
        // Done is decided on both ends (bytes delivered at the receiver, acknowledged at the sender).
        watch(i, on: t.node)
        watch(i, on: target)
    }

    /// Bytes stream `s` delivered: what the receiving connection got in order (reverse: the
    /// node's sink), or what the peer acknowledged to the sender.
    private func tcpStreams(_ run: TCPFlowRun) -> [TCPFlowResult.Stream] {
        let senders = run.senders
        let senderHost = run.senderHost
        var streams: [TCPFlowResult.Stream] = []
        for s in 0..<run.flow.streams {
            let stats = s < senders.ids.count ? senderHost.tcpStats(senders.ids[s]) : nil
            let delivered = delivered(run, stream: s, senderStats: stats)
            streams.append(TCPFlowResult.Stream(bytesReceived: delivered, retransmissions: stats?.segmentsRetransmitted ?? 0,
                                                finishedAt: nil, minimumRTT: stats?.minimumRTT.map { .nanoseconds($0) },
                                                maximumRTT: stats?.maximumRTT.map { .nanoseconds($0) }))
        }
        return streams
    }

    /// Bytes stream `s` of `run` delivered: what the node's sink received (reverse), or what the
    /// receiver acknowledged to the sender.
    private func delivered(_ run: TCPFlowRun, stream s: Int, senderStats: TCPConnectionStats?) -> UInt64 {
        run.flow.reverse ? run.nodeHost.tcpStats(run.opened[s])?.bytesReceived ?? 0 : senderStats?.bytesAcknowledged ?? 0
    }

    /// Reverse flows: hands newly accepted connections the bulk to send.
    private func acceptTCP(_ run: TCPFlowRun) {
        guard run.flow.reverse, run.final == nil else { return }
        guest(run.target).withHost { host, now in
            while run.accepted.count < run.flow.streams, let id = host.tcpAccept(port: UInt16(run.flow.port)) {
                let s = run.accepted.count
                run.accepted.append(id)
                host.tcpSendBulk(id, bytes: run.shares.isEmpty ? UInt64.max / 2 : run.shares[s], close: !run.shares.isEmpty, now: now)
            }
        }
    }

    /// A byte-count flow is done when every stream's share is delivered.
    private func checkTCP(_ i: Int, _ run: TCPFlowRun) {
        acceptTCP(run)
        guard run.final == nil, !run.shares.isEmpty else { return }
        // Checked after every event at either end: only the byte counts, before the full streams.
        let senders = run.senders
        for s in 0..<run.shares.count {
            let stats = s < senders.ids.count ? run.senderHost.tcpStats(senders.ids[s]) : nil
            guard delivered(run, stream: s, senderStats: stats) >= run.shares[s] else { return }
        }
        let streams = tcpStreams(run)
        run.final = streams
        run.finishedAt = simulation.now
        note("\(scenario.timeline[i].displayName): TCP flow done, \(streams.reduce(0) { $0 &+ $1.bytesReceived }) bytes")
        complete(i)
    }

    /// A timed flow's time is up: what was delivered counts; the senders close (their buffered
    /// data still drains, as iperf3's does).
    private func stopTCP(_ i: Int) {
        guard case .tcp(let run) = handles[i], run.final == nil else { return }
        run.final = tcpStreams(run)
        run.finishedAt = simulation.now
        let senders = run.senders
        guest(senders.host).withHost { host, now in for id in senders.ids { host.tcpClose(id, now: now) } }
        note("\(scenario.timeline[i].displayName): TCP flow's time is up, \(run.final!.reduce(0) { $0 &+ $1.bytesReceived }) bytes")
        complete(i)
    }

    /// Samples a TCP flow's delivered bytes and first sender's cwnd every `interval` until it is done.
    private func sampleTCP(_ i: Int, every interval: Duration, bytes last: UInt64) {
        simulation.schedule(after: interval, label: "sample:\(scenario.timeline[i].displayName)") { [unowned self] in
            guard case .tcp(let run) = self.handles[i] else { return }
            let streams = self.tcpStreams(run)
            let bytes = streams.reduce(0) { $0 &+ $1.bytesReceived }
            let seconds = Double(interval.nanosecondsClamped) / 1e9
            run.throughput.append(ThroughputSample(time: self.simulation.now, bitsPerSecond: Double(bytes &- last) * 8 / seconds))
            let senders = run.senders
            if let first = senders.ids.first, let info = self.guest(senders.host).host.tcpInfo(first) {
                run.cwnd.append((self.simulation.now, info.cwnd))
            }
            if run.final == nil { self.sampleTCP(i, every: interval, bytes: bytes) }
        }
    }

    func notStarted(_ i: Int, _ why: String) {
        progress.notStarted(i, why)
        note("\(scenario.timeline[i].displayName): not started: \(why)")
    }

    /// Marks entry `i` finished now and starts the entries waiting on it.
    func complete(_ i: Int) {
        for due in progress.finish(i, at: simulation.now) {
            let j = due.entry.index
            simulation.schedule(at: due.at, label: "timeline:\(due.entry.displayName)") { [unowned self] in self.start(j) }
        }
    }

    /// Entry `i` finishes on `host`'s state: look at it after each event that touches the host
    /// (and once after this one, which touched it by starting the action).
    private func watch(_ i: Int, on host: String) {
        guard let h = topology.host(named: host).flatMap({ topology.hostIndex(ofNode: $0.guest.node) }) else { return }
        watching[h].append(i)
    }

    /// After an event: have the running entries watched on the hosts it touched (`candidates`, in
    /// any order, maybe repeated) finished? Checked in timeline order, as a scan of every entry would.
    private func checkRunning(_ candidates: [Int]) {
        for i in candidates.count == 1 ? candidates : Set(candidates).sorted() {
            guard progress.runningSince(i) != nil else {
                unwatch(i)
                continue
            }
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
            case .tcp(let run):
                checkTCP(i, run)
            case .none:
                break
            }
            if progress.runningSince(i) == nil { unwatch(i) }
        }
    }

    private func unwatch(_ i: Int) {
        let hosts: [String]
        switch handles[i] {
        case .dhcp(let h), .ping(let h, _, _), .udp(let h, _, _, _): hosts = [h]
        case .tcp(let run): hosts = [run.flow.node, run.target]
        case .none: return
        }
        for host in hosts {
            guard let h = topology.host(named: host).flatMap({ topology.hostIndex(ofNode: $0.guest.node) }) else { continue }
            watching[h].removeAll { $0 == i }
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

    // MARK: Replays

    var now: Instant { simulation.now }

    /// Into a bridge segment through a port of its own (touching the bridge's node), or straight
    /// into a guest's stack.
    func replayInput(_ target: ReplayTarget, entry name: String) throws(ReplayRefusal) -> (CaptureRecord) -> Void {
        switch target {
        case .bridge(let segment):
            let b = topology.bridgeIndex(segment.bridge)
            let bridge = topology.bridges[b].bridge, node = topology.bridges[b].node
            let port = try bridge.attachReplayPort(entry: name, segment: segment)
            return { [unowned bridge, unowned simulation] record in
                record.bytes.withUnsafeBytes { bridge.receive($0, from: port, now: simulation.now) }
                simulation.touch(node)
            }
        case .host(let h):
            let g = guest(h)
            return { [unowned g] record in g.withHost { host, now in host.receive(record.bytes, now: now) } }
        case .wan(let b):
            let index = topology.bridgeIndex(b)
            let bridge = topology.bridges[index].bridge, node = topology.bridges[index].node
            guard bridge.wan != nil else { throw ReplayRefusal(why: "\(b) has no WAN") }
            // From the WAN's peer: the other end of its WAN link, if it has one (a link's two ends
            // are added to `wanEnds` side by side).
            let peer = topology.wanEnds.firstIndex { $0.bridge === bridge }.map { topology.wanEnds[$0 ^ 1].local }
            let input = ReplayWANInput(bridge: bridge, peer: peer)
            wanInputs.append(input)
            return { [unowned input, unowned simulation] record in
                record.bytes.withUnsafeBytes { input.receive($0, now: simulation.now) }
                simulation.touch(node)
            }
        }
    }

    /// Every guest on the bridge that frames entering at `target` reach first (all its segments:
    /// the router forwards between them) has a receive buffer posted. A host target takes frames
    /// straight into its stack.
    func replayReceiversReady(_ target: ReplayTarget) -> Bool {
        let b: Int
        switch target {
        case .bridge(let segment): b = topology.bridgeIndex(segment.bridge)
        case .wan(let name): b = topology.bridgeIndex(name)
        case .host: return true
        }
        let bridge = topology.bridges[b].bridge
        for port in topology.bridges[b].guests.keys {
            guard var queue = bridge.nic(of: port)?.receiveQueue else { continue }
            if !queue.isBroken && !queue.hasAvailable() { return false }
        }
        return true
    }

    func scheduleReplayFrame(of name: String, at time: Instant, _ body: @escaping () -> Void) {
        simulation.schedule(at: time, label: "replay:\(name)", body)
    }

    // MARK: Results

    private func finish(at end: Instant) -> RunOutput {
        let timeline = TimelineResults(scenario, result: { result($0.index) },
                                       whyNotRun: { progress.whyNotRun($0.index, otherwise: "no result") })
        topology.closeCaptures()
        let captured = CapturedFrames(topology.captures, place: \.placeDescription)
        return RunOutput(observations: RunObservations(start: .zero, captures: captured.records, results: timeline.named, notRun: timeline.notRun),
                         actions: timeline.actions, counters: counters(), captures: captured.files, log: logLines(),
                         duration: simulation.now - .zero)
    }

    private func result(_ i: Int) -> ActionResult? {
        guard let startedAt = progress.startedAt(i) else { return nil }
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
        case .tcp(let run):
            let streams = run.final ?? tcpStreams(run)
            let senders = run.senders
            var rtts: [Duration] = []
            for id in senders.ids {
                guard let info = guest(senders.host).host.tcpInfo(id) else { continue }
                for sample in info.samples where run.finishedAt.map({ sample.time <= $0 }) ?? true {
                    if let r = sample.latestRTT { rtts.append(.nanoseconds(r)) }
                }
            }
            return .tcp(TCPFlowResult(startedAt: startedAt, finishedAt: run.finishedAt, endedAt: run.finishedAt ?? simulation.now,
                                      streams: streams, rttSamples: rtts, throughput: run.throughput, congestionWindow: run.cwnd))
        case .none:
            if let replay = replays[i] { return .replay(replay.result(startedAt: startedAt, finishedAt: progress.finishedAt(i))) }
            return .done(at: startedAt)
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
            // IPv6 hosts only (ipv6:), so IPv4-only reports are unchanged.
            if h.guest.host.ipv6Started {
                rows += h.guest.host.ipv6Counters.fields.filter { $0.value != 0 }.map { CounterTable.Row("ipv6.\($0.name)", $0.value) }
            }
            tables.append(CounterTable(title: "host \(h.name)", rows: rows))
        }
        for b in topology.bridges { tables += CounterTable.ports(of: b.bridge, named: b.name) }
        for b in topology.bridges { if let table = wanCounterTable(b.name, b.bridge) { tables.append(table) } }
        for l in topology.links { tables += l.counterTables }
        for c in topology.captures { tables.append(c.counterTable) }
        if !replays.isEmpty {
            tables.append(ReplayOutcome.table(played: replays.values.reduce(0) { $0 + $1.played },
                                              bridges: topology.bridges.map { ($0.name, $0.bridge) },
                                              notDatagrams: wanInputs.reduce(0) { $0 &+ $1.notDatagrams }))
        }
        return tables
    }
}
