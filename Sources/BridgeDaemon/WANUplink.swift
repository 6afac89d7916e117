// The real I/O of a bridge's WAN: a UDP socket on the reactor for wireguard and udp WANs (bound
// to the listen port), a TAP device for a tap WAN, names resolved before the bridge starts, and
// the wall clock handed to WireGuard for its handshake timestamps.
//
// The UDP socket moves datagrams in batches, as `sluice wg up` does (HostIO's DatagramBatch):
//   readable   → recvmmsg up to 64 datagrams (UDP GRO may join a flow's datagrams; they are cut
//                apart again) → the bridge, each decrypted in place in its receive slot
//   WAN output → each datagram the bridge emits is copied into a send slot; the batch goes out with
//                one sendmmsg (runs to one endpoint as one UDP GSO message) when it is full and at
//                the end of every reactor round, before the reactor sleeps.
import Basics
import Engine
import Foundation
import Glibc
import HostIO
import Tunnel
import Wire

/// What the daemon holds open for the WAN.
final class WANUplink {
    var socket: UDPSocket?
    var tap: TAPDevice?
    var registration: Reactor.Registration?
    /// The UDP socket's batches (wireguard and udp WANs).
    var sendBatch: DatagramBatch?
    var receiveBatch: DatagramBatch?
    /// Flushes `sendBatch` at the end of every reactor round.
    var roundHandler: Reactor.RoundHandler?
    /// Datagrams or frames the kernel would not take (send buffer or TAP queue full), and send errors
    /// (the batches count their own: see `blocked` and `errors`).
    var sendBlocked: UInt64 = 0
    var sendErrors: UInt64 = 0
    /// Datagrams received from other than IPv4 sources, or truncated.
    var receiveSkipped: UInt64 = 0
    var description = ""
    /// Set when the daemon closed the WAN: the bridge may still emit (a timer after shutdown), into
    /// nothing rather than into a closed socket. The output closures hold the uplink for that check.
    var closed = false
    /// The WireGuard WAN's UAPI socket (WANConfigurationSocket.swift) and the mark it set.
    var configurationServer: ConfigurationServer?
    var fwmark: UInt32 = 0

    /// Datagrams per sendmmsg / recvmmsg (wireguard-go and `sluice wg up` use the same).
    static let batchSize = 64
    /// Datagrams taken from the socket per readiness before other descriptors get their turn.
    static let fairnessLimit = 256
    /// A send slot: a full-size Ethernet MTU packet with WireGuard's overhead and room to spare;
    /// larger datagrams are sent on their own.
    static let sendSlotSize = 2048

    /// Sends the batched datagrams now.
    func flush() {
        guard let sendBatch, !sendBatch.isEmpty, let socket else { return }
        sendBatch.send(on: socket)
    }

    var blocked: UInt64 { sendBlocked &+ (sendBatch?.sendBlocked ?? 0) }
    var errors: UInt64 { sendErrors &+ (sendBatch?.sendFailed ?? 0) }
}

extension BridgeDaemon {
    /// The WAN setup for `config`: the peer's endpoint resolved (a name through getaddrinfo), the
    /// system's CSPRNG and real-time clock.
    static func wanSetup(for config: BridgeConfig) throws -> WANSetup {
        var setup = WANSetup(random: SystemRandom(), wallClock: .system(at: MonotonicClock().now()))
        let endpoint: Endpoint?
        switch config.wan {
        case .wireguard(let w)?: endpoint = w.endpoint
        case .udp(let u)?: endpoint = u.endpoint
        case .tap?, nil: endpoint = nil
        }
        guard let endpoint else { return setup }
        setup.endpoint = try endpoint.socketAddress ?? resolve(endpoint)
        return setup
    }

    /// The first IPv4 address of `endpoint.host`.
    static func resolve(_ endpoint: Endpoint) throws -> SocketAddressV4 {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0, let first = list, let sa = first.pointee.ai_addr else {
            throw DaemonError.command("cannot resolve WAN endpoint \(endpoint): \(String(cString: gai_strerror(status)))")
        }
        let sin = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self)
        return SocketAddressV4(address: IPv4Address(rawValue: UInt32(bigEndian: sin.sin_addr.s_addr)), port: endpoint.port)
    }

    /// Opens the WAN's socket or TAP device; its output closure goes into `outputs` (for
    /// `Bridge.connect`), its input is handed to the bridge as events.
    func openWAN(into outputs: inout BridgeOutputs) throws {
        guard let wan = bridge.wan, let config = config.wan else { return }
        let uplink = WANUplink()
        // WireGuard's TAI64N timestamps come from the wall clock (read again here, as the bridge starts).
        wan.setWallClock(.system(at: reactor.clock.now()))
        switch config {
        case .wireguard(let w):
            try openDatagramSocket(wan, uplink, listenPort: w.listenPort, outputs: &outputs)
            openWANConfigurationSocket(wan, uplink, w)
        case .udp(let u): try openDatagramSocket(wan, uplink, listenPort: u.listenPort, outputs: &outputs)
        case .tap(let t): try openTapUplink(wan, uplink, t, outputs: &outputs)
        }
        wanUplink = uplink
        let mode = self.config.router?.nat == true ? "masquerading behind \(wan.address.address)" : "routed"
        note(.info, "WAN open", ["wan": "\(wan.kind.rawValue)", "uplink": "\(uplink.description)", "address": "\(wan.address)", "mode": "\(mode)"])
    }

    func openDatagramSocket(_ wan: WAN, _ uplink: WANUplink, listenPort: Int?, outputs: inout BridgeOutputs) throws {
        let socket = try UDPSocket(bindingTo: .ipv4(SocketAddressV4(address: .any, port: UInt16(listenPort ?? 0))))
        socket.growBuffers(bytes: 4 << 20)   // bursts (and floods) wait in the kernel, not on the floor
        uplink.socket = socket
        let sendBatch = DatagramBatch(capacity: WANUplink.batchSize, slotSize: WANUplink.sendSlotSize)
        sendBatch.segmentationOffload = true   // turns itself off where the kernel refuses UDP GSO
        // A receive slot holds the largest UDP payload (a peer with a larger MTU, or GRO's joined datagrams).
        let receiveBatch = DatagramBatch(capacity: WANUplink.batchSize, slotSize: 65536)
        socket.enableReceiveOffload()
        uplink.sendBatch = sendBatch
        uplink.receiveBatch = receiveBatch
        outputs.sendWANDatagram = { [uplink, unowned socket, unowned sendBatch] bytes, to in
            guard !uplink.closed else { return }
            if bytes.count <= sendBatch.slotSize {
                sendBatch.append(bytes, to: to)
                if sendBatch.isFull { sendBatch.send(on: socket) }
                return
            }
            uplink.flush()   // keep the order
            do {
                if try socket.send(bytes, to: .ipv4(to)) == nil { uplink.sendBlocked &+= 1 }
            } catch {
                uplink.sendErrors &+= 1
            }
        }
        uplink.roundHandler = reactor.atEndOfEveryRound { [unowned uplink] in uplink.flush() }
        uplink.registration = try reactor.register(socket.descriptor, interest: .read) { [unowned self, unowned uplink, unowned socket, unowned receiveBatch] _ in
            var moved = 0
            var now = self.reactor.clock.now()
            while moved < WANUplink.fairnessLimit {
                // ICMP errors (port unreachable from a peer that went away) surface here once; the next round retries.
                guard let n = try? receiveBatch.receive(on: socket), n > 0 else { break }
                moved += n
                now = self.reactor.clock.now()
                for i in 0..<n {
                    // UDP GRO may have joined several datagrams of one size; each goes to the bridge on its own.
                    let whole = receiveBatch.forEachDatagram(inMessage: i) { datagram, source in
                        self.bridge.receiveWANDatagram(datagram, count: datagram.count,
                                                       from: source, now: now)
                    }
                    if !whole { uplink.receiveSkipped &+= 1 }
                }
                if n < receiveBatch.capacity { break }
            }
            self.afterEvent(now: now)
        }
        let local = (try? socket.localAddress()).map { "\($0)" } ?? "?"
        uplink.description = "UDP \(local) → \(wan.endpoint.map(\.description) ?? "(the peer's first datagram)")"
    }

    func openTapUplink(_ wan: WAN, _ uplink: WANUplink, _ t: TapWANConfig, outputs: inout BridgeOutputs) throws {
        let device = try TAPDevice(name: t.device)
        if let ns = t.namespace {
            try runCommand("/usr/sbin/ip", ["link", "set", device.name, "netns", ns])
        } else {
            try device.setUp()
        }
        uplink.tap = device
        outputs.transmitWANFrame = { [uplink, unowned device] frame in
            guard !uplink.closed else { return }
            do {
                if try device.write(frame) == nil { uplink.sendBlocked &+= 1 }
            } catch {
                uplink.sendErrors &+= 1
            }
        }
        uplink.registration = try reactor.register(device.descriptor, interest: .read) { [unowned self, unowned device] _ in
            let now = self.reactor.clock.now()
            for _ in 0..<256 {
                guard let n = try? device.read(into: self.frame), n > 0 else { break }
                self.bridge.receiveWANFrame(self.frame.slice(0..<n), now: now)
            }
            self.afterEvent(now: now)
        }
        uplink.description = "TAP \(device.name)" + (t.namespace.map { " (in namespace \($0))" } ?? "") + " gateway \(t.gateway)"
    }

    /// Closes the WAN's socket or device.
    func closeWAN() {
        wanUplink?.flush()
        wanUplink?.closed = true
        if let h = wanUplink?.roundHandler { reactor.remove(h) }
        if let r = wanUplink?.registration { reactor.deregister(r) }
        // The fds close now (the bridge's output closures keep only the closed uplink).
        wanUplink?.configurationServer?.close()
        wanUplink?.configurationServer = nil
        wanUplink?.socket = nil
        wanUplink?.tap = nil
        wanUplink = nil
    }

    /// The WAN's counters, as lines for `statistics()`.
    func wanStatistics() -> [String] {
        guard let wan = bridge.wan else { return [] }
        let c = wan.counters
        var line = "wan \(wan.kind.rawValue): tx \(c.txPackets) pkts \(c.txBytes) B (\(c.txDatagrams) datagrams \(c.txDatagramBytes) B), "
            + "rx \(c.rxPackets) pkts \(c.rxBytes) B (\(c.rxDatagrams) datagrams \(c.rxDatagramBytes) B)"
        if c.drops.total > 0 { line += ", drops " + c.drops.nonzero.map { "\($0.reason)=\($0.count)" }.joined(separator: " ") }
        if let u = wanUplink, u.blocked &+ u.errors &+ u.receiveSkipped > 0 {
            line += ", send blocked \(u.blocked) errors \(u.errors), receive skipped \(u.receiveSkipped)"
        }
        var lines = [line]
        for peer in wan.tunnel?.peerIDs ?? [] {
            let s = wan.tunnel!.status(of: peer)
            let handshake = s.lastHandshake.map { "\(Double((reactor.clock.now() - $0).components.seconds))s ago" } ?? "never"
            lines.append("wireguard: peer \(s.publicKey) endpoint \(s.endpoint.map(\.description) ?? "none"), session \(s.hasSession), "
                         + "last handshake \(handshake), sent \(s.sentBytes) B, received \(s.receivedBytes) B")
        }
        if let t = wan.tunnel { lines.append("wireguard: " + t.counters.summary) }
        if let nat = wan.nat {
            lines.append("nat: \(nat.mappingCount) mappings, \(nat.sessionCount) sessions, out \(nat.counters.outboundTranslated), in \(nat.counters.inboundTranslated), drops "
                         + (nat.counters.drops.nonzero.isEmpty ? "0" : nat.counters.drops.nonzero.map { "\($0.0)=\($0.1)" }.joined(separator: " ")))
        }
        return lines
    }
}
