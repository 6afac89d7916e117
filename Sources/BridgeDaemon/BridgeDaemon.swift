// Room: BridgeDaemon — layer 5. The real driver of a Bridge (`sluice bridge`): one epoll reactor
// thread serving vhost-user sockets (many guests each), TAP ports, the bridge's timers, a control
// socket for `sluice bridge --stats`, and clean shutdown on SIGINT/SIGTERM. It owns every fd and
// file (the captures bridge.yml asks for, ConfiguredCaptures.swift); the Bridge it drives stays
// sans-IO and is driven only through the driver contract (Engine's Driver.swift,
// docs/driver-contract.md): outputs connected once, `afterEvent` after every event.
import Basics
import Capture
import Datapath
import Engine
import Foundation
import HostIO
import VhostUser
import Virtio

public final class BridgeDaemon {
    let config: BridgeConfig
    public let bridge: Bridge
    public let reactor: Reactor
    private(set) var servers: [VhostUserServer] = []
    var taps: [(device: TAPDevice, port: PortID, registration: Reactor.Registration)] = []
    var wanUplink: WANUplink?
    var control: UnixListener?
    var controlRegistration: Reactor.Registration?
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

    var log: (String) -> Void
    /// SIGINT and SIGTERM, read on the reactor's thread so shutdown runs there like every other event.
    var signals: SignalFD?
    var signalRegistration: Reactor.Registration?
    /// Lease database, service manager (BridgeDaemon+Service.swift).
    var service = DaemonServiceState()

    /// Builds the bridge and opens every socket and TAP port in `config`. With `stateDirectory`,
    /// `leases:` left automatic keeps the DHCP leases in `<stateDirectory>/<name>/leases`.
    public init(config: BridgeConfig, captureDirectory: String = ".", stateDirectory: String? = nil,
                log: @escaping (String) -> Void = { print($0) }) throws {
        self.config = config
        self.log = log
        reactor = try Reactor()
        // First, before any helper thread exists (an `ip` command runs through Foundation's
        // Process): SIGINT/SIGTERM blocked process-wide arrive on the reactor instead of killing us.
        signals = try? SignalFD([SIGINT, SIGTERM])
        let epoch = UInt64(Date().timeIntervalSince1970 * 1e9) &- reactor.clock.now().nanoseconds
        bridge = try Bridge(config: config.resolvingAutomaticProbes(), wanSetup: Self.wanSetup(for: config))
        // Only a bridge with a DHCP server has leases to keep.
        if bridge.dhcpServers.contains(where: { $0 != nil }), let path = config.leaseDatabasePath(stateDirectory: stateDirectory) {
            openLeaseDatabase(path)
        }
        // bridge.yml's captures: opened here, closed by `shutdown` (with every other tap).
        _ = try bridge.openConfiguredCaptures(directory: captureDirectory, epochOffsetNanoseconds: epoch)
        var outputs = BridgeOutputs(notifyGuest: { [unowned self] port in self.interrupt(port) },
                                    commitLeases: { [unowned self] _ in self.writeLeases() })
        var device = VhostUserDeviceConfiguration(queuePairs: config.virtio.queues)
        if !config.virtio.mergeableRxBuffers { device.features.remove(.netMergeableRxBuffers) }
        if !config.virtio.eventIndex { device.features.remove(.ringEventIndex) }
        // One pair: offer neither MQ nor the MQ protocol feature, so the guest sees a plain NIC.
        if config.virtio.queues == 1 {
            device.features.remove(.netMQ)
            device.protocolFeatures.remove(.multipleQueues)
        }
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
            server.log = { [unowned self] in self.log("vhost-user \(socket.path): \($0)") }
            servers.append(server)
            log("listening for vhost-user guests on \(socket.path) (segment \(socket.segment), \(config.virtio.queues) queue pair(s))")
        }
        for tap in config.taps { try openTap(tap) }
        try openWAN(into: &outputs)
        bridge.connect(outputs)
        bridge.start(now: reactor.clock.now())
        wanUplink?.flush()   // the first handshake initiation goes now, not at the end of the first round
        if let path = config.control { try openControl(path) }
        afterEvent(now: reactor.clock.now())
        notifyReady()
        if let signals {
            signalRegistration = try? reactor.register(signals.descriptor, interest: .read) { [unowned self] _ in
                while let signal = self.signals?.next() {
                    self.log("\(signal == SIGINT ? "SIGINT" : "SIGTERM"): shutting down")
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
        // Every tap on the bridge: the configured captures and any a caller added (the lab's).
        for tap in bridge.removeTaps() { try? tap.close() }
        reactor.stop()
    }

    /// After every event (a batch of them, read at `now`): the contract's `service(now:)` runs
    /// the bridge's due timers, and the reactor's one timer is re-armed at the deadline it returns.
    func afterEvent(now: Instant) {
        rearm(at: bridge.service(now: now))
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
        log("\(guest) connected")
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
                log("\(guest) queue pair 0 running: port \(name) on \(config.vhostUser[server].segment)")
            } catch {
                log("\(guest): cannot attach: \(error)")
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
            bridge.detach(port)
            guestOfPort[port] = nil
            entry.port = nil
            log("\(guest) queue pair 0 stopped: port detached")
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
        log("\(guest) disconnected: \(reason)")
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
                log("\(key.guest) broke its transmit queue \(pair): \(nic.transmitQueue.brokenReason.map { "\($0)" } ?? "")")
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
        log("TAP \(device.name) on segment \(tap.segment)" + (tap.namespace.map { " (in namespace \($0))" } ?? ""))
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

    func openControl(_ path: String) throws {
        let listener = try makeSocket(path, config.controlAccess) { try UnixListener(path: path) }
        control = listener
        controlRegistration = try reactor.register(listener.descriptor, interest: .read) { [unowned self] _ in
            while let stream = try? self.control?.accept() {
                guard self.admits(stream, self.config.controlAccess, socket: path) else { stream.shutdown(); continue }
                let text = Array(self.statistics().utf8)
                text.withUnsafeBytes { _ = try? stream.sendAll($0) }
                stream.shutdown()
            }
        }
    }

    /// Reads the statistics of a bridge running with `control: path`.
    public static func readStatistics(controlSocket path: String) throws -> String {
        let stream = try UnixStream(connectingTo: path, nonBlocking: false)
        var out: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        while let got = try stream.receive(into: buffer), got.count > 0 { out += buffer[0..<got.count] }
        return String(decoding: out, as: UTF8.self)
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
