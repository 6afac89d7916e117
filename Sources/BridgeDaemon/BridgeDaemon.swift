// Room: BridgeDaemon — layer 5. The real driver of a Bridge (`sluice bridge`): one epoll reactor
// thread serving vhost-user sockets (many guests each), TAP ports, the bridge's timers, a control
// socket (`--stats`, `--metrics`, `--reload`; RequestServer.swift), an HTTP metrics listener,
// live reload on SIGHUP (Reload.swift), a swift-log event log (EventLog.swift), and clean
// shutdown on SIGINT/SIGTERM. It owns every fd and
// file (the captures bridge.yml asks for, ConfiguredCaptures.swift); the Bridge it drives stays
// sans-IO and is driven only through the driver contract (Engine's Driver.swift,
// docs/driver-contract.md): outputs connected once, `afterEvent` after every event.
import Basics
import Capture
import Datapath
import Engine
import Foundation
import HostIO
import Logging
import VhostUser
import Virtio

public final class BridgeDaemon {
    /// The running configuration (replaced by a reload).
    var config: BridgeConfig
    /// The file the configuration came from (re-read by a reload); nil cannot reload.
    let configPath: String?
    let captureDirectory: String
    /// The wall-clock time of `Instant.zero`, for capture files opened later.
    let captureEpoch: UInt64
    public let bridge: Bridge
    public let reactor: Reactor
    private(set) var servers: [VhostUserServer] = []
    var taps: [(device: TAPDevice, port: PortID, registration: Reactor.Registration)] = []
    var wanUplink: WANUplink?
    var control: UnixListener?
    var controlRegistration: Reactor.Registration?
    var metricsListener: TCPListener?
    var metricsRegistration: Reactor.Registration?
    /// Open connections to the control socket and the metrics listener (RequestServer.swift).
    var requestConnections: [ObjectIdentifier: RequestConnection] = [:]
    var vhostConnections: UInt64 = 0
    var vhostDisconnections: UInt64 = 0
    var reloadsApplied: UInt64 = 0
    var reloadsRefused: UInt64 = 0
    var metricsScrapes: UInt64 = 0
    var requestsRefused: UInt64 = 0
    var timer: Reactor.Timer?
    var timerDeadline: Instant?
    let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_600, alignment: 64)

    /// A guest's queue pairs and its bridge port (pair 0 is the port's receive side).
    struct GuestPorts {
        var port: PortID?
        var pairs: [Int: GuestNIC] = [:]
    }
    /// Guests by (server index, guest id).
    var guests: [GuestKey: GuestPorts] = [:]
    struct GuestKey: Hashable { var server: Int; var guest: VhostUserGuestID }
    /// Port → guest, for interrupts.
    var guestOfPort: [PortID: GuestKey] = [:]

    /// One per server, in server order (servers hold their delegate weakly).
    var serverDelegates: [ServerDelegate] = []

    /// Where finished log lines go.
    var log: (String) -> Void
    /// The event log (EventLog.swift): one line per event, through `log`.
    var logger: Logger
    var limiter = EventRateLimiter()
    /// SIGINT, SIGTERM and SIGHUP, read on the reactor's thread so shutdown runs there like every other event.
    var signals: SignalFD?
    var signalRegistration: Reactor.Registration?
    /// Lease database, service manager (BridgeDaemon+Service.swift).
    var service = DaemonServiceState()
    /// Seeds the port impairments' random streams (PortImpairments.swift): the system's CSPRNG.
    var random = SystemRandom()
    /// A fixed seed for the port impairments' random streams instead (the lab's qemu backend
    /// passes the scenario's seed, so its links draw as on sim); set it before guests attach.
    public var impairmentSeed: UInt64?
    /// The impairments put on each new guest of a vhost-user socket, by server index: the file's
    /// `impair:`, or what the last `impair <socket>` set.
    var guestImpairments: [PortImpairment?] = []

    /// Builds the bridge and opens every socket and TAP port in `config`.
    /// - Parameters:
    ///   - configPath: the file `config` was read from, re-read on reload (nil: no reload).
    ///   - stateDirectory: with `leases:` left automatic, the DHCP leases are kept in `<stateDirectory>/<name>/leases`.
    ///   - logOptions: level and format of the lines handed to `log`.
    public init(config: BridgeConfig, configPath: String? = nil, captureDirectory: String = ".", stateDirectory: String? = nil,
                logOptions: LogOptions? = nil,
                log: @escaping (String) -> Void = { print($0) }) throws {
        self.config = config
        self.configPath = configPath
        self.captureDirectory = captureDirectory
        self.log = log
        let options = logOptions ?? LogOptions()!
        let sink = LineSink(log)
        logger = Logger(label: "sluice.bridge") { _ in EventLogHandler(logLevel: options.loggerLevel, format: options.format, sink: sink) }
        logger[metadataKey: "bridge"] = "\(config.name)"
        reactor = try Reactor()
        // First, before any helper thread exists (an `ip` command runs through Foundation's
        // Process): SIGINT/SIGTERM/SIGHUP blocked process-wide arrive on the reactor instead of killing us.
        signals = try? SignalFD([SIGINT, SIGTERM, SIGHUP])
        let epoch = UInt64(Date().timeIntervalSince1970 * 1e9) &- reactor.clock.now().nanoseconds
        captureEpoch = epoch
        bridge = try Bridge(config: config.resolvingAutomaticProbes(), wanSetup: Self.wanSetup(for: config))
        // Only a bridge with a DHCP server has leases to keep.
        if bridge.dhcpServers.contains(where: { $0 != nil }), let path = config.leaseDatabasePath(stateDirectory: stateDirectory) {
            openLeaseDatabase(path)
        }
        // bridge.yml's captures: opened here, closed by `shutdown` (with every other tap).
        _ = try bridge.openConfiguredCaptures(directory: captureDirectory, epochOffsetNanoseconds: epoch)
        var outputs = BridgeOutputs(notifyGuest: { [unowned self] port in self.interrupt(port) },
                                    commitLeases: { [unowned self] segment in self.writeLeases(segment: segment) })
        var device = VhostUserDeviceConfiguration(queuePairs: config.virtio.queues)
        if !config.virtio.mergeableRxBuffers { device.features.remove(.netMergeableRxBuffers) }
        if !config.virtio.eventIndex { device.features.remove(.ringEventIndex) }
        // One pair: offer neither MQ nor the MQ protocol feature, so the guest sees a plain NIC.
        if config.virtio.queues == 1 {
            device.features.remove(.netMQ)
            device.protocolFeatures.remove(.multipleQueues)
        }
        guestImpairments = config.vhostUser.map(\.impair)
        for (i, socket) in config.vhostUser.enumerated() {
            let server = try makeSocket(socket.path, socket.access) {
                try VhostUserServer(path: socket.path, configuration: device, reactor: reactor)
            }
            if socket.access.checksPeers {
                server.admit = { [unowned self] stream in self.admits(stream, socket.access, socket: socket.path) }
            }
            // Guest ids are numbered per server: each server gets a delegate that says which it is.
            let delegate = ServerDelegate(daemon: self, server: i)
            serverDelegates.append(delegate)
            server.delegate = delegate
            server.traceMessages = ProcessInfo.processInfo.environment["SLUICE_TRACE_VHOST"] == "1"
            // The server's own lines: its failures as warnings; the rest (connects and disconnects,
            // which the daemon also logs, and SLUICE_TRACE_VHOST's message trace) at debug.
            server.log = { [unowned self] line in
                let failure = line.contains("failed") || line.contains("cannot")
                self.note(failure ? .warning : .debug, "vhost-user", ["segment": "\(socket.segment)", "socket": "\(socket.path)", "reason": "\(line)"],
                          guestCaused: true)
            }
            servers.append(server)
            note(.info, "listening for vhost-user guests",
                 ["segment": "\(socket.segment)", "socket": "\(socket.path)", "queue_pairs": "\(config.virtio.queues)"])
        }
        for tap in config.taps { try openTap(tap) }
        try openWAN(into: &outputs)
        bridge.connect(outputs)
        bridge.start(now: reactor.clock.now())
        wanUplink?.flush()   // the first handshake initiation goes now, not at the end of the first round
        if let path = config.control { try openControl(path) }
        if let metrics = config.metrics { try openMetricsListener(metrics) }
        afterEvent(now: reactor.clock.now())
        notifyReady()
        if let signals {
            signalRegistration = try? reactor.register(signals.descriptor, interest: .read) { [unowned self] _ in
                while let signal = self.signals?.next() {
                    if signal == SIGHUP {
                        self.note(.notice, "SIGHUP: reloading", ["file": "\(self.configPath ?? "-")"])
                        self.reload()
                        continue
                    }
                    self.note(.notice, "shutting down", ["reason": signal == SIGINT ? "SIGINT" : "SIGTERM"])
                    self.shutdown()
                }
            }
        }
    }

    deinit { frame.deallocate() }

    // MARK: Running

    /// Serves until `stop()` or SIGINT/SIGTERM.
    public func run() throws {
        defer {
            if let signalRegistration { reactor.deregister(signalRegistration) }
            signalRegistration = nil
        }
        try reactor.run()
    }

    /// Stops serving: closes every socket (guests see a disconnect), flushes captures.
    public func shutdown() {
        notifyStopping()
        for s in servers { s.close() }
        for t in taps { reactor.deregister(t.registration) }
        taps.removeAll()
        closeWAN()
        if let r = controlRegistration { reactor.deregister(r) }
        if let path = config.control { unlink(path) }
        controlRegistration = nil
        if let r = metricsRegistration { reactor.deregister(r) }
        metricsRegistration = nil
        metricsListener = nil
        for id in Array(requestConnections.keys) { closeRequest(id) }
        flushSuppressed()
        // Every tap on the bridge: the configured captures and any a caller added (the lab's).
        for tap in bridge.removeTaps() { try? tap.close() }
        reactor.stop()
    }

    /// After every event (a batch of them, read at `now`): the contract's `service(now:)` runs
    /// the bridge's due timers, the log's rate limiter reports the windows that ended, and the
    /// reactor's one timer is re-armed at the earlier of the two deadlines.
    func afterEvent(now: Instant) {
        let deadline = bridge.service(now: now)
        reportSuppressed(now: now)
        guard let summary = limiter.deadline else { return rearm(at: deadline) }
        rearm(at: deadline.map { min($0, summary) } ?? summary)
    }

    func rearm(at deadline: Instant?) {
        guard deadline != timerDeadline else { return }
        if let timer { reactor.cancel(timer) }
        timer = nil
        timerDeadline = deadline
        guard let deadline else { return }
        timer = reactor.schedule(at: deadline) { [unowned self] in
            self.timer = nil
            self.timerDeadline = nil
            self.afterEvent(now: self.reactor.clock.now())
        }
    }

    /// A frame from outside the daemon's own fds (the lab's replays) entering through `port`
    /// (an `attachExternal` port): an event like any other.
    public func receive(_ frame: UnsafeRawBufferPointer, from port: PortID) {
        let now = reactor.clock.now()
        bridge.receive(frame, from: port, now: now)
        afterEvent(now: now)
    }

    // MARK: vhost-user (called by each server's ServerDelegate, which knows the server's index)

    func guestConnected(_ guest: VhostUserGuestID, server: Int) {
        vhostConnections &+= 1
        note(.info, "guest connected", ["guest": "\(guest.rawValue)", "segment": "\(config.vhostUser[server].segment)"], guestCaused: true)
    }

    func queuePairStarted(_ guest: VhostUserGuestID, pair: Int, nic: GuestNIC, server: Int) {
        let key = GuestKey(server: server, guest: guest)
        var entry = guests[key] ?? GuestPorts()
        entry.pairs[pair] = nic
        if pair == 0 {
            let name = "vhost\(server)-\(guest.rawValue)"
            do {
                let port = try bridge.attachGuest(name: name, nic: nic, segment: config.vhostUser[server].segment)
                entry.port = port
                guestOfPort[port] = key
                note(.info, "guest attached", ["guest": "\(guest.rawValue)", "port": "\(name)", "segment": "\(config.vhostUser[server].segment)"],
                     guestCaused: true)
                if let impairment = guestImpairments[server] { applyImpairment(impairment, to: port, name: name) }
            } catch {
                note(.error, "guest not attached", ["guest": "\(guest.rawValue)", "segment": "\(config.vhostUser[server].segment)", "reason": "\(error)"],
                     guestCaused: true)
            }
        }
        guests[key] = entry
        // Frames may already be waiting.
        afterEvent(now: serviceTransmit(key, pair: pair))
    }

    func queuePairStopped(_ guest: VhostUserGuestID, pair: Int, server: Int) {
        let key = GuestKey(server: server, guest: guest)
        guard var entry = guests[key] else { return }
        entry.pairs[pair] = nil
        if pair == 0, let port = entry.port {
            let name = bridge.ports[port]?.name ?? "\(port)"
            bridge.detach(port)
            guestOfPort[port] = nil
            entry.port = nil
            note(.info, "guest detached", ["guest": "\(guest.rawValue)", "port": "\(name)", "segment": "\(config.vhostUser[server].segment)"],
                 guestCaused: true)
        }
        guests[key] = entry
        servers[server].releaseUnusedMemory()
    }

    func kicked(_ guest: VhostUserGuestID, pair: Int, queue: VirtioNetQueueKind, server: Int) {
        // New receive buffers need no action: frames are delivered when they arrive.
        let now = queue == .transmit ? serviceTransmit(GuestKey(server: server, guest: guest), pair: pair) : reactor.clock.now()
        afterEvent(now: now)
    }

    func guestDisconnected(_ guest: VhostUserGuestID, reason: VhostUserError, server: Int) {
        guests[GuestKey(server: server, guest: guest)] = nil
        vhostDisconnections &+= 1
        note(.info, "guest disconnected", ["guest": "\(guest.rawValue)", "segment": "\(config.vhostUser[server].segment)", "reason": "\(reason)"],
             guestCaused: true)
    }

    /// Drains a pair's transmit queue until it is empty (a guest does not kick again for frames
    /// it already announced). Returns the time the frames were taken at.
    @discardableResult
    func serviceTransmit(_ key: GuestKey, pair: Int) -> Instant {
        let now = reactor.clock.now()
        guard let entry = guests[key], let port = entry.port, let nic = entry.pairs[pair] else { return now }
        while true {
            let (frames, notify) = bridge.serviceTransmit(of: nic, on: port, now: now, limit: 256)
            if notify { servers[key.server].notify(key.guest, pair: pair, queue: .transmit) }
            if nic.transmitQueue.isBroken {
                servers[key.server].reportBroken(key.guest, pair: pair)
                note(.warning, "guest broke its transmit queue",
                     ["guest": "\(key.guest.rawValue)", "port": "\(bridge.ports[port]?.name ?? "\(port)")", "segment": "\(config.vhostUser[key.server].segment)",
                      "reason": "\(nic.transmitQueue.brokenReason.map { "\($0)" } ?? "")", "queue_pair": "\(pair)"], guestCaused: true)
                break
            }
            if frames < 256 { break }
        }
        return now
    }

    /// The bridge asks to interrupt a guest (used receive or transmit buffers it asked about).
    func interrupt(_ port: PortID) {
        if let key = guestOfPort[port] { servers[key.server].notify(key.guest, pair: 0) }
    }

    // MARK: TAP ports

    func openTap(_ tap: TapConfig) throws {
        let device = try TAPDevice(name: tap.name)
        if let ns = tap.namespace {
            try runCommand("/usr/sbin/ip", ["link", "set", device.name, "netns", ns])
        } else {
            try device.setUp()
        }
        let port = try bridge.attachExternal(name: "tap:\(device.name)", kind: .tap, segment: tap.segment) { [unowned device] frame in
            _ = try? device.write(frame)
        }
        let registration = try reactor.register(device.descriptor, interest: .read) { [unowned self, unowned device] _ in
            let now = self.reactor.clock.now()
            for _ in 0..<256 {
                guard let n = try? device.read(into: self.frame), n > 0 else { break }
                self.bridge.receive(UnsafeRawBufferPointer(rebasing: self.frame[0..<n]), from: port, now: now)
            }
            self.afterEvent(now: now)
        }
        taps.append((device, port, registration))
        var fields: Logger.Metadata = ["port": "tap:\(device.name)", "segment": "\(tap.segment)"]
        if let ns = tap.namespace { fields["namespace"] = "\(ns)" }
        note(.info, "TAP port opened", fields)
        if let impairment = tap.impair { applyImpairment(impairment, to: port, name: "tap:\(device.name)") }
    }

    // MARK: Statistics and control

    /// Counters of every port, the router and the DHCP leases, as text.
    public func statistics() -> String {
        var lines = ["bridge \(config.name): \(servers.reduce(0) { $0 + $1.guestIDs.count }) guest(s) connected"]
        for port in bridge.ports {
            let c = port.counters
            var line = "port \(port.name) (\(port.kind)): rx \(c.rxPackets) pkts \(c.rxBytes) B, tx \(c.txPackets) pkts \(c.txBytes) B"
            let drops = c.drops.nonzero
            if !drops.isEmpty { line += ", drops " + drops.map { "\($0.reason)=\($0.count)" }.joined(separator: " ") }
            lines.append(line)
        }
        lines += impairmentStatistics()
        lines += wanStatistics()
        if let r = bridge.router {
            lines.append("router: forwarded \(r.counters.forwarded), echo replies \(r.counters.echoRepliesSent), ICMP errors \(r.counters.icmpErrorsSent), ARP requests sent \(r.counters.arp.requestsSent), drops \(r.counters.drops.total)")
        }
        for (i, server) in bridge.dhcpServers.enumerated() {
            guard let server else { continue }
            lines.append("dhcp \(bridge.segments[i].name): probes sent \(server.counters.probesSent), address conflicts \(server.counters.conflicts)")
            for lease in server.leases {
                lines.append("dhcp \(bridge.segments[i].name): \(lease.address) \(lease.state) \(lease.client)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads the statistics of a bridge running with `control: path`.
    public static func readStatistics(controlSocket path: String) throws -> String {
        try ask(controlSocket: path, .stats)
    }
}

/// Runs `path arguments…`, throwing with its output when it fails.
func runCommand(_ path: String, _ arguments: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let err = Pipe(); p.standardError = err; p.standardOutput = err
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        throw DaemonError.command("\(path) \(arguments.joined(separator: " ")): \(text)")
    }
}

public enum DaemonError: Error, CustomStringConvertible {
    case command(String)
    /// A socket that cannot be made as bridge.yml asks (path, why).
    case socket(String, String)
    public var description: String {
        switch self {
        case .command(let s): "command failed: \(s)"
        case .socket(let path, let why): "socket \(path): \(why)"
        }
    }
}

/// Forwards one server's callbacks to the daemon with the server's index: `VhostUserGuestID`s are
/// numbered per server, so with two sockets "guest 1" exists twice and the id alone cannot say
/// which segment a guest belongs to.
final class ServerDelegate: VhostUserServerDelegate {
    unowned let daemon: BridgeDaemon
    let server: Int

    init(daemon: BridgeDaemon, server: Int) { self.daemon = daemon; self.server = server }

    func vhostUserGuestConnected(_ guest: VhostUserGuestID) { daemon.guestConnected(guest, server: server) }
    func vhostUserQueuePairStarted(_ guest: VhostUserGuestID, pair: Int, nic: GuestNIC) {
        daemon.queuePairStarted(guest, pair: pair, nic: nic, server: server)
    }
    func vhostUserQueuePairStopped(_ guest: VhostUserGuestID, pair: Int) { daemon.queuePairStopped(guest, pair: pair, server: server) }
    func vhostUserKicked(_ guest: VhostUserGuestID, pair: Int, queue: VirtioNetQueueKind) {
        daemon.kicked(guest, pair: pair, queue: queue, server: server)
    }
    func vhostUserGuestDisconnected(_ guest: VhostUserGuestID, reason: VhostUserError) {
        daemon.guestDisconnected(guest, reason: reason, server: server)
    }
}
