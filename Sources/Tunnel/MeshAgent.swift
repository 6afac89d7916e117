// The real driver of a MeshNode (`sluice mesh up`, docs/mesh.md "The agent"): a TUN device, one UDP socket and a
// control socket on the HostIO reactor, in the style of WireGuardTunnel.
//
//   TUN readable      → each inner IPv4 packet → node.send → datagrams to endpoints (sendto), or nothing (staged)
//   UDP readable      → each datagram → node.receive → datagrams (handshakes, relayed envelopes) and inner packets
//                       written to the TUN
//   node timer        → node.tick at node.nextDeadline() (retransmits, keepalives, failover, probes, routing)
//   control readable  → one connection: the status as JSON, then close (`sluice mesh status`)
//   signals           → SIGINT / SIGTERM: routes and the interface removed, the control socket unlinked; SIGHUP
//                       logs that reloading is not done yet
//
// The engine takes and returns arrays (one allocation per packet): the agent is the correct, simple driver, not yet
// the batched one `sluice wg up` has (no GSO/GRO, no sendmmsg).

import Basics
import Crypto
import Foundation
import Glibc
import HostIO
import Mesh
import Wire

/// The routing the agent runs. The one place it is chosen: Babel (Sources/Mesh/Babel) plugs in here once the
/// node engine drives it through `MeshRouting`.
public typealias MeshAgentRouting = StaticMeshRouting

extension MeshAgentConfiguration {
    func makeRouting() -> MeshAgentRouting { StaticMeshRouting(peers: peers, relays: relays) }
}

/// A mesh node on a TUN device in the current network namespace.
public final class MeshAgent {
    let configuration: MeshAgentConfiguration
    let node: MeshNode<MeshAgentRouting>
    let tun: TUNDevice
    let socket: UDPSocket
    let control: UnixListener
    let listenPort: UInt16
    let reactor: Reactor
    let clock: MonotonicClock
    let signals: SignalFD
    let log: (String) -> Void
    let readBuffer: UnsafeMutableRawBufferPointer
    var registrations: [Reactor.Registration] = []
    var nodeTimer: Reactor.Timer?
    var nodeTimerDeadline: Instant?
    var routes: [IPv4Network] = []
    let started: Instant
    /// UDP bytes exchanged with each endpoint (a peer's, or a relay's).
    var endpointBytes: [SocketAddressV4: (rx: UInt64, tx: UInt64)] = [:]
    var tunRead: UInt64 = 0
    var tunWritten: UInt64 = 0
    var tunWriteDrops: UInt64 = 0
    var udpSendErrors: UInt64 = 0
    /// The admission node (mesh.yml's admission keys), if this agent admits new nodes: MeshAdmissionService.swift.
    var admission: MeshAdmissionService?

    public init(configuration: MeshAgentConfiguration, log: @escaping (String) -> Void) throws(TunnelError) {
        self.configuration = configuration
        self.log = log
        do { signals = try SignalFD([SIGINT, SIGTERM, SIGHUP]) } catch { throw TunnelError("signalfd: \(error)") }
        do { reactor = try Reactor() } catch { throw TunnelError("epoll: \(error)") }
        clock = reactor.clock
        let now = clock.now()
        started = now
        let handshaker = MeshHandshaker(identity: configuration.identity, verifier: configuration.verifier,
                                        random: SystemRandom(), wallClock: .system(at: now))
        node = MeshNode(handshaker: handshaker,
                        configuration: MeshNodeConfiguration(peers: configuration.peers, relay: configuration.relay),
                        routing: configuration.makeRouting())
        do { tun = try TUNDevice(name: configuration.tunName) } catch {
            throw TunnelError("cannot create TUN device '\(configuration.tunName)': \(error)"
                              + (error == .notPermitted ? " — run as root (CAP_NET_ADMIN)" : ""))
        }
        do {
            socket = try UDPSocket(bindingTo: .ipv4(SocketAddressV4(address: .any, port: configuration.listenPort)))
            guard case .ipv4(let local) = try socket.localAddress() else { throw Errno.invalidArgument }
            listenPort = local.port
        } catch {
            tun.close()
            throw TunnelError("cannot bind UDP port \(configuration.listenPort): \(error)")
        }
        socket.growBuffers(bytes: 4 << 20)
        do { control = try UnixListener(path: configuration.controlPath) } catch {
            tun.close()
            throw TunnelError("cannot listen on the control socket \(configuration.controlPath): \(error)"
                              + (error == .addressInUse ? " — another agent serves it" : ""))
        }
        readBuffer = .allocate(byteCount: 65536, alignment: 16)
        do { try startAdmission(now: now) } catch { tun.close(); unlink(configuration.controlPath); throw error }
        do { try configureLink() } catch {
            tun.close()
            throw TunnelError("configuring \(tun.name): \(error)")
        }
    }

    deinit { readBuffer.deallocate() }

    /// MTU, address, up, and a route for every peer address and prefix outside the interface's own subnet that
    /// does not cover a peer's endpoint.
    func configureLink() throws(LinkSetupError) {
        let name = tun.name
        do { try NetworkInterface.setMTU(name, configuration.mtu) } catch {
            throw LinkSetupError(step: "set MTU \(configuration.mtu) on \(name)", reason: "\(error)")
        }
        let a = configuration.address
        do { try NetworkInterface.setIPv4Address(name, address: a.address.rawValue, prefixLength: a.prefixLength) } catch {
            throw LinkSetupError(step: "assign \(a) to \(name)", reason: "\(error)")
        }
        LinkSetup.disableIPv6(name)
        do { try NetworkInterface.setUp(name) } catch { throw LinkSetupError(step: "bring \(name) up", reason: "\(error)") }
        let endpoints = configuration.peers.compactMap(\.endpoint)
        for peer in configuration.peers {
            for network in peer.addresses + peer.prefixes where network.family == 4 {
                guard let ip = network.ipv4,
                      let n = IPv4Network(address: ip, prefixLength: Int(network.prefixLength)) else { continue }
                // An address is routed as a single host; a prefix as itself.
                let route = peer.addresses.contains(network) ? IPv4Network(address: ip, prefixLength: 32)!
                    : IPv4Network(address: n.networkAddress, prefixLength: n.prefixLength)!
                if a.prefixLength <= route.prefixLength && a.contains(route.address) { continue }
                if let e = endpoints.first(where: { route.contains($0.address) }) {
                    log("warning: route \(route) not installed: it covers the endpoint \(e) and would loop the mesh into itself")
                    continue
                }
                if !routes.contains(route) { routes.append(route) }
            }
        }
        for route in routes { try LinkSetup.ip(["route", "replace", "\(route)", "dev", name]) }
    }

    // MARK: Running

    /// Runs until SIGINT or SIGTERM, then removes routes, the interface and the control socket.
    public func run() throws(TunnelError) {
        do {
            registrations.append(try reactor.register(tun.descriptor, interest: .read) { [unowned self] _ in tunReadable() })
            registrations.append(try reactor.register(socket.descriptor, interest: .read) { [unowned self] _ in socketReadable() })
            registrations.append(try reactor.register(control.descriptor, interest: .read) { [unowned self] _ in controlReadable() })
            registrations.append(try reactor.register(signals.descriptor, interest: .read) { [unowned self] _ in signalled() })
            if let admission {
                registrations.append(try reactor.register(admission.control.descriptor, interest: .read) { [unowned self] _ in
                    for (bytes, to) in admission.controlReadable(now: clock.now()) { perform([.send(bytes, to: to)]) }
                })
            }
        } catch { throw TunnelError("epoll: \(error)") }
        log("\(tun.name): up, \(configuration.address), mtu \(configuration.mtu), listening on UDP \(listenPort), "
            + "\(configuration.peers.count) peers, \(configuration.relays.count) relays, relay \(node.isRelay ? "on" : "off"), "
            + "routes \(routes.map(\.description).joined(separator: " ")), control \(configuration.controlPath), "
            + "key \(configuration.identity.staticKey.publicKey.base64)")
        armNodeTimer()
        do { try reactor.run() } catch { throw TunnelError("epoll: \(error)") }
        shutdown()
    }

    func shutdown() {
        for r in registrations { reactor.deregister(r) }
        registrations = []
        if let nodeTimer { reactor.cancel(nodeTimer) }
        for route in routes { try? LinkSetup.ip(["route", "del", "\(route)", "dev", tun.name]) }
        tun.close()
        try? socket.descriptor.close()
        signals.close()
        unlink(configuration.controlPath)
        admission?.close()
        log("\(tun.name): down")
    }

    // MARK: Packets

    func tunReadable() {
        var moved = 0
        while moved < 256 {
            let n: Int
            do {
                guard let count = try tun.read(into: readBuffer) else { break }
                n = count
            } catch {
                log("\(tun.name): read: \(error)")
                break
            }
            moved += 1
            let packet = [UInt8](UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
            perform(node.send(packet: packet, now: clock.now()))
        }
        tunRead &+= UInt64(moved)
        armNodeTimer()
    }

    func socketReadable() {
        var moved = 0
        var errors = 0
        while moved < 256 {
            let received: UDPDatagram
            do {
                guard let d = try socket.receive(into: readBuffer) else { break }
                received = d
            } catch {
                errors += 1
                if errors > 4 { break }
                continue
            }
            moved += 1
            guard !received.truncated, case .ipv4(let source) = received.source else { continue }
            endpointBytes[source, default: (0, 0)].rx &+= UInt64(received.count)
            let datagram = [UInt8](UnsafeRawBufferPointer(rebasing: readBuffer[0..<received.count]))
            if let admission, admission.owns(datagram) {
                if let reply = admission.receive(datagram, from: source, now: clock.now()) { perform([.send(reply, to: source)]) }
                continue
            }
            perform(node.receive(datagram: datagram, from: source, now: clock.now()))
        }
        armNodeTimer()
    }

    func perform(_ actions: [MeshNodeAction]) {
        for action in actions {
            switch action {
            case .send(let bytes, let to):
                let sent = bytes.withUnsafeBytes { try? socket.send($0, to: .ipv4(to)) }
                if sent != nil { endpointBytes[to, default: (0, 0)].tx &+= UInt64(bytes.count) } else { udpSendErrors &+= 1 }
            case .deliver(let packet):
                let written = packet.withUnsafeBytes { try? tun.write($0) }
                if written != nil { tunWritten &+= 1 } else { tunWriteDrops &+= 1 }
            }
        }
    }

    /// Keeps one reactor timer at the node's earliest deadline.
    func armNodeTimer() {
        guard let deadline = node.nextDeadline() else { return }
        if let current = nodeTimerDeadline, current <= deadline { return }
        if let nodeTimer { reactor.cancel(nodeTimer) }
        nodeTimerDeadline = deadline
        nodeTimer = reactor.schedule(at: deadline) { [unowned self] in
            nodeTimer = nil
            nodeTimerDeadline = nil
            perform(node.tick(now: clock.now()))
            armNodeTimer()
        }
    }

    func signalled() {
        while let signal = signals.next() {
            switch signal {
            case SIGHUP:
                log("\(tun.name): SIGHUP: reloading peers is not supported yet; restart the agent to apply registry changes")
            default:
                log("\(tun.name): signal \(signal), stopping")
                reactor.stop()
            }
        }
    }

    // MARK: Status

    func controlReadable() {
        while let stream = try? control.accept() {
            let data = (try? JSONSerialization.data(withJSONObject: status(now: clock.now()), options: [.sortedKeys])) ?? Data()
            let bytes = [UInt8](data) + [10]
            bytes.withUnsafeBytes { b in _ = try? stream.sendAll(b) }
            stream.shutdown()
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The status `sluice mesh status` prints: the node, its counters and drops by reason, and every peer.
    func status(now: Instant) -> [String: Any] {
        var names: [PublicKey: String] = [:]
        for p in configuration.peers { names[p.key] = p.name }
        let c = node.counters
        let h = node.handshaker.counters
        var drops: [String: UInt64] = [:]
        for d in h.drops.nonzero { drops["\(d.reason)"] = d.count }
        for d in h.certificateRejections.nonzero { drops["certificate \(d.reason)"] = d.count }
        var peers: [[String: Any]] = []
        for s in node.peerStatus {
            var p: [String: Any] = ["name": s.name, "key": s.key.base64, "session": s.hasSession,
                                    "directPathDown": s.directPathDown, "staged": s.stagedPackets]
            p["endpoint"] = s.endpoint.map(\.description) ?? NSNull()
            switch s.path {
            case .direct(let e): p["path"] = "direct"; p["via"] = e.description
            case .relayed(let via): p["path"] = "relayed"; p["via"] = names[via] ?? via.base64
            case .unreachable: p["path"] = "unreachable"
            }
            if let session = node.currentSession(with: s.key) {
                p["lastHandshakeSecondsAgo"] = Self.seconds(now - session.keypair.created)
            }
            if let r = s.lastDirectReceive { p["lastDirectReceiveSecondsAgo"] = Self.seconds(now - r) }
            let bytes = s.endpoint.flatMap { endpointBytes[$0] } ?? (0, 0)
            p["rxBytes"] = bytes.rx
            p["txBytes"] = bytes.tx
            peers.append(p)
        }
        var result: [String: Any] = [
            "interface": tun.name, "address": configuration.address.description, "listenPort": Int(listenPort),
            "key": configuration.identity.staticKey.publicKey.base64, "relay": node.isRelay,
            "uptimeSeconds": Self.seconds(now - started),
            "counters": ["packetsSent": c.packetsSent, "packetsDelivered": c.packetsDelivered, "relayed": c.relayed,
                         "keepalivesSent": c.keepalivesSent, "probesSent": c.probesSent, "failovers": c.failovers,
                         "failbacks": c.failbacks, "sessionsEstablished": h.sessionsEstablished,
                         "tunRead": tunRead, "tunWritten": tunWritten, "tunWriteDrops": tunWriteDrops,
                         "udpSendErrors": udpSendErrors],
            "drops": drops,
            "peers": peers,
        ]
        if let admission { result["admission"] = admission.status(now: now) }
        return result
    }

    /// `sluice mesh status`: connects to an agent's control socket and returns the JSON it writes.
    public static func queryStatus(controlPath: String) throws(TunnelError) -> Data {
        let stream: UnixStream
        do { stream = try UnixStream(connectingTo: controlPath, nonBlocking: false) } catch {
            throw TunnelError("cannot connect to \(controlPath): \(error) — is `sluice mesh up` running?")
        }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = buffer.withUnsafeMutableBytes { b in try? stream.receive(into: b) }
            guard let r = got, r.count > 0 else { break }
            out.append(contentsOf: buffer[0..<r.count])
            if out.count > 16 << 20 { break }
        }
        return out
    }
}
