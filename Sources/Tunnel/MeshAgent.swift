// The real driver of a MeshNode (`sluice mesh up`, docs/mesh.md "The agent"): a TUN device, one UDP socket and a
// control socket on the HostIO reactor, in the style of WireGuardTunnel.
//
//   TUN readable      → each inner IPv4 packet → node.send → datagrams to endpoints (sendto), or nothing (staged)
//   UDP readable      → each datagram → node.receive → datagrams (handshakes, relayed envelopes) and inner packets
//                       written to the TUN
//   node timer        → node.tick at node.nextDeadline() (retransmits, keepalives, failover, probes, routing)
//   control readable  → one connection: the status as JSON, then close (`sluice mesh status`)
//   signals           → SIGINT / SIGTERM: routes and the interface removed, the control socket unlinked; SIGHUP
//                       re-reads mesh.yml, registry.json and the revocations and applies them without dropping the
//                       sessions of peers that stay (`reload`)
//
// I/O is batched as in `sluice wg up`: datagrams leave by sendmmsg (runs to one endpoint as one UDP GSO message) and
// arrive by recvmmsg (UDP GRO), the TUN device has the virtio-net header (TCP super-packets read are segmented,
// TCP segments written are coalesced). The common case — an inner packet to or from a peer with a session on the
// direct path — is sealed and opened in place in the batch slots (MeshNode+InPlace.swift); everything else goes
// through the engine's general path, which takes and returns arrays.

import Basics
import Crypto
import Foundation
import Glibc
import HostIO
import Mesh
import Wire
import WireGuard

/// A mesh node on a TUN device in the current network namespace.
public final class MeshAgent {
    /// The configuration running; a reload replaces what it can apply live (`reload`).
    var configuration: MeshAgentConfiguration
    let node: MeshNode<MeshAgentRouting>
    let tun: TUNDevice
    let socket: UDPSocket
    let control: UnixListener
    let listenPort: UInt16
    let reactor: Reactor
    let clock: MonotonicClock
    let signals: SignalFD
    let log: (String) -> Void
    /// TUN reads (with offloads: the virtio-net header and up to 64 KiB) and recvmmsg/sendmmsg batches.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// One TCP segment cut from a super-packet; one packet behind a virtio-net header for a TUN write.
    let segmentBuffer: UnsafeMutableRawBufferPointer
    let deliverBuffer: UnsafeMutableRawBufferPointer
    let sendBatch: DatagramBatch
    let receiveBatch: DatagramBatch
    let coalescer = TCPCoalescer()
    var udpReceiveDrops: UInt64 = 0
    var tunOffloadDrops: UInt64 = 0
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
    var reloads: UInt64 = 0
    var reloadFailures: UInt64 = 0

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
                        routing: configuration.makeRouting(now: now))
        do { tun = try TUNDevice(name: configuration.tunName, offloads: configuration.tunOffload) } catch {
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
        readBuffer = .allocate(byteCount: TUNPacketHeader.size + 65536, alignment: 16)
        readBuffer.initializeMemory(as: UInt8.self, repeating: 0)
        // The largest segment cut from a super-packet (the MTU); its bytes are written straight into a send slot.
        segmentBuffer = .allocate(byteCount: configuration.mtu, alignment: 16)
        deliverBuffer = .allocate(byteCount: TUNPacketHeader.size + 65536, alignment: 16)
        // A slot holds the largest datagram the node makes at this MTU (inner packet, end-to-end transport, relay
        // envelope, hop transport); anything larger is sent on its own.
        sendBatch = DatagramBatch(capacity: Self.batchSize, slotSize: configuration.mtu + 256)
        receiveBatch = DatagramBatch(capacity: Self.batchSize, slotSize: 65536)
        if configuration.udpOffload {
            sendBatch.segmentationOffload = true
            socket.enableReceiveOffload()
        }
        do { try startAdmission(now: now) } catch { tun.close(); unlink(configuration.controlPath); throw error }
        do { try configureLink() } catch {
            tun.close()
            throw TunnelError("configuring \(tun.name): \(error)")
        }
    }

    deinit {
        readBuffer.deallocate()
        segmentBuffer.deallocate()
        deliverBuffer.deallocate()
    }

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
        let (wanted, warnings) = Self.routes(for: configuration)
        for w in warnings { log("warning: \(w)") }
        routes = wanted
        for route in routes { try LinkSetup.ip(["route", "replace", "\(route)", "dev", name]) }
    }

    /// The routes to the interface: every peer's IPv4 addresses (as /32) and prefixes outside the interface's own
    /// subnet, except one that covers a peer's endpoint (it would loop the mesh into itself: a warning).
    static func routes(for configuration: MeshAgentConfiguration) -> ([IPv4Network], [String]) {
        let a = configuration.address
        var routes: [IPv4Network] = []
        var warnings: [String] = []
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
                    warnings.append("route \(route) not installed: it covers the endpoint \(e) and would loop the mesh into itself")
                    continue
                }
                if !routes.contains(route) { routes.append(route) }
            }
        }
        return (routes, warnings)
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
            + "\(configuration.peers.count) peers, routing \(node.routing.kind.rawValue), "
            + "\(configuration.relays.count) relays, relay \(node.isRelay ? "on" : "off"), "
            + "routes \(routes.map(\.description).joined(separator: " ")), control \(configuration.controlPath), "
            + "key \(configuration.identity.staticKey.publicKey.base64)")
        // With Babel every peer with an endpoint is brought up now: routes (and relays) exist before traffic.
        if node.routing.kind == .babel { perform(node.connect(now: clock.now())) }
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

    /// Packets moved per descriptor per reactor round before the others get their turn.
    static let fairnessLimit = 256
    /// Datagrams per sendmmsg / recvmmsg.
    static let batchSize = 64

    func tunReadable() {
        let now = clock.now()
        let h = TransportHeader.size
        var moved = 0
        while moved < Self.fairnessLimit {
            let n: Int
            do {
                if tun.offloads {
                    guard let count = try tun.read(into: readBuffer) else { break }
                    n = count
                } else {
                    // Straight into the next send slot, behind room for the transport header.
                    let slot = sendBatch.nextSlot
                    guard let count = try tun.read(into: UnsafeMutableRawBufferPointer(rebasing: slot[h..<(slot.count - 32)])) else { break }
                    n = count
                }
            } catch {
                log("\(tun.name): read: \(error)")
                break
            }
            moved += 1
            if tun.offloads { sendOffloaded(count: n, now: now) } else { send(sendBatch.nextSlot, count: n, now: now) }
        }
        tunRead &+= UInt64(moved)
        finishRound()
    }

    /// Sends the inner packet at `slot[16..<16 + count]` (the next send slot): sealed in place and committed to the
    /// batch when the engine can (a session on the direct path), else through the engine's general path.
    @inline(__always)
    func send(_ slot: UnsafeMutableRawBufferPointer, count: Int, now: Instant) {
        if let (to, length) = node.sendInPlace(slot, count: count, now: now) {
            endpointBytes[to, default: (0, 0)].tx &+= UInt64(length)
            sendBatch.commit(length: length, to: to)
            if sendBatch.isFull { _ = sendBatch.send(on: socket) }
            let more = node.takeActions()
            if !more.isEmpty { perform(more) }
        } else {
            let h = TransportHeader.size
            perform(node.send(packet: [UInt8](UnsafeRawBufferPointer(rebasing: slot[h..<(h + count)])), now: now))
        }
    }

    /// A read with a virtio-net header: a TCP super-packet is cut into segments of the interface's MTU (each sent
    /// on its own), a partial checksum completed.
    func sendOffloaded(count n: Int, now: Instant) {
        guard n > TUNPacketHeader.size else { return }
        let header = TUNPacketHeader(UnsafeRawBufferPointer(readBuffer))
        let packet = UnsafeMutableRawBufferPointer(rebasing: readBuffer[TUNPacketHeader.size..<n])
        if header.gsoType & ~TUNPacketHeader.gsoECN == TUNPacketHeader.gsoTCPv4 {
            guard let segmentation = TCPSegmentation(packet: UnsafeRawBufferPointer(packet), gsoSize: Int(header.gsoSize)),
                  segmentation.headerLength + segmentation.segmentSize <= segmentBuffer.count else {
                tunOffloadDrops &+= 1
                return
            }
            for i in 0..<segmentation.count {
                let slot = sendBatch.nextSlot
                let h = TransportHeader.size
                let length = segmentation.write(segment: i, of: UnsafeRawBufferPointer(packet),
                                                to: UnsafeMutableRawBufferPointer(rebasing: slot[h..<(h + segmentBuffer.count)]))
                send(slot, count: length, now: now)
            }
        } else if header.gsoType == TUNPacketHeader.gsoNone {
            if header.flags & TUNPacketHeader.needsChecksum != 0,
               !TCPSegmentation.completeChecksum(packet, start: Int(header.checksumStart), offset: Int(header.checksumOffset)) {
                tunOffloadDrops &+= 1
                return
            }
            guard packet.count <= segmentBuffer.count else { tunOffloadDrops &+= 1; return }
            let slot = sendBatch.nextSlot
            (slot.baseAddress! + TransportHeader.size).copyMemory(from: packet.baseAddress!, byteCount: packet.count)
            send(slot, count: packet.count, now: now)
        } else {
            tunOffloadDrops &+= 1
        }
    }

    func socketReadable() {
        var moved = 0
        var errors = 0
        while moved < Self.fairnessLimit {
            let n: Int
            do { n = try receiveBatch.receive(on: socket) } catch {
                errors += 1
                if errors > 4 { break }
                continue
            }
            if n == 0 { break }
            moved += n
            let now = clock.now()
            for i in 0..<n {
                // UDP GRO may have joined several datagrams of one size: each goes to the node on its own.
                let whole = receiveBatch.forEachDatagram(inMessage: i) { datagram, source in
                    endpointBytes[source, default: (0, 0)].rx &+= UInt64(datagram.count)
                    // A join for the admission node (MeshAdmissionService.swift): not the engine's.
                    if let admission, admission.owns(UnsafeRawBufferPointer(datagram)) {
                        if let reply = admission.receive([UInt8](datagram), from: source, now: now) { perform([.send(reply, to: source)]) }
                        return
                    }
                    // Opened in place; an inner packet on the direct path is delivered from the receive slot.
                    if let range = node.receiveInPlace(datagram, count: datagram.count, from: source, now: now) {
                        deliver(UnsafeRawBufferPointer(rebasing: datagram[range]))
                    }
                    let more = node.takeActions()
                    if !more.isEmpty { perform(more) }
                }
                if !whole { udpReceiveDrops &+= 1 }
            }
            if n < receiveBatch.capacity { break }
        }
        finishRound()
    }

    func perform(_ actions: [MeshNodeAction]) {
        for action in actions {
            switch action {
            case .send(let bytes, let to):
                endpointBytes[to, default: (0, 0)].tx &+= UInt64(bytes.count)
                if bytes.count <= sendBatch.slotSize {
                    bytes.withUnsafeBytes { sendBatch.append($0, to: to) }
                    if sendBatch.isFull { _ = sendBatch.send(on: socket) }
                } else {
                    let sent = bytes.withUnsafeBytes { try? socket.send($0, to: .ipv4(to)) }
                    if sent == nil { udpSendErrors &+= 1 }
                }
            case .deliver(let packet):
                packet.withUnsafeBytes { deliver($0) }
            }
        }
    }

    /// Writes an inner packet to the TUN device; with offloads, runs of TCP segments are coalesced first.
    func deliver(_ packet: UnsafeRawBufferPointer) {
        guard tun.offloads else {
            writeToTUN(packet)
            return
        }
        if coalescer.append(packet) { return }
        if !coalescer.isEmpty { writeToTUN(coalescer.finish()) }
        if coalescer.start(packet) { return }
        // Alone: a virtio-net header in front, marked DATA_VALID.
        guard TUNPacketHeader.size + packet.count <= deliverBuffer.count else { tunWriteDrops &+= 1; return }
        TUNPacketHeader(flags: TUNPacketHeader.dataValid).write(to: deliverBuffer, at: 0)
        (deliverBuffer.baseAddress! + TUNPacketHeader.size).copyMemory(from: packet.baseAddress!, byteCount: packet.count)
        writeToTUN(UnsafeRawBufferPointer(rebasing: deliverBuffer[0..<(TUNPacketHeader.size + packet.count)]))
    }

    func writeToTUN(_ bytes: UnsafeRawBufferPointer) {
        let written = try? tun.write(bytes)
        if written != nil { tunWritten &+= 1 } else { tunWriteDrops &+= 1 }
    }

    /// The end of a reactor event: the coalesced TUN write and the batched datagrams go out, the timer is re-armed.
    func finishRound() {
        if !coalescer.isEmpty { writeToTUN(coalescer.finish()) }
        if !sendBatch.isEmpty { _ = sendBatch.send(on: socket) }
        armNodeTimer()
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
            finishRound()
        }
    }

    func signalled() {
        while let signal = signals.next() {
            switch signal {
            case SIGHUP:
                reload()
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
                p["sessionIndex"] = Int(session.localIndex)
            }
            if let r = s.lastDirectReceive { p["lastDirectReceiveSecondsAgo"] = Self.seconds(now - r) }
            let bytes = s.endpoint.flatMap { endpointBytes[$0] } ?? (0, 0)
            p["rxBytes"] = bytes.rx
            p["txBytes"] = bytes.tx
            if case .babel(let babel) = node.routing, let link = babel.link(s.key) {
                p["cost"] = Int(link.cost)
                if let rtt = link.rtt { p["rttMs"] = (Self.seconds(rtt) * 1e5).rounded() / 100 }
            }
            peers.append(p)
        }
        // The routes in use: Babel's selected routes (next hop and metric), or the static ones (via the peer).
        var routes: [[String: Any]] = []
        func name(_ key: PublicKey) -> String { names[key] ?? key.base64 }
        switch node.routing {
        case .babel(let babel):
            for r in babel.router.selectedRoutes {
                var e: [String: Any] = ["prefix": r.prefix.description, "metric": Int(r.metric), "routerID": r.routerID.description]
                if let n = r.nextHop { e["via"] = babel.key(of: n).map(name) ?? n.description } else { e["via"] = "local" }
                routes.append(e)
            }
        case .fixed(let fixed):
            for r in fixed.routes {
                let hop = fixed.down.contains(r.via) ? fixed.alternateHop(for: IPv4Address(rawValue: 0), avoiding: r.via) : r.via
                routes.append(["prefix": r.network.description, "via": hop.map(name) ?? "none", "owner": name(r.via)])
            }
        }
        var result: [String: Any] = [
            "interface": tun.name, "address": configuration.address.description, "listenPort": Int(listenPort),
            "key": configuration.identity.staticKey.publicKey.base64, "relay": node.isRelay,
            "uptimeSeconds": Self.seconds(now - started), "routing": node.routing.kind.rawValue, "routes": routes,
            "counters": ["packetsSent": c.packetsSent, "packetsDelivered": c.packetsDelivered, "relayed": c.relayed,
                         "keepalivesSent": c.keepalivesSent, "probesSent": c.probesSent, "failovers": c.failovers,
                         "failbacks": c.failbacks, "sessionsEstablished": h.sessionsEstablished,
                         "tunRead": tunRead, "tunWritten": tunWritten, "tunWriteDrops": tunWriteDrops,
                         "udpSendErrors": udpSendErrors &+ sendBatch.sendFailed &+ sendBatch.sendBlocked,
                         "udpReceiveDrops": udpReceiveDrops, "tunOffloadDrops": tunOffloadDrops, "reloads": reloads, "reloadFailures": reloadFailures],
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
