// The real I/O of a bridge's WAN: a UDP socket on the reactor for wireguard and udp WANs (bound
// to the listen port), a TAP device for a tap WAN, names resolved before the bridge starts, and
// the wall clock handed to WireGuard for its handshake timestamps.
import Basics
import Engine
import Foundation
import Glibc
import HostIO
import Wire

/// What the daemon holds open for the WAN.
final class WANUplink {
    var socket: UDPSocket?
    var tap: TAPDevice?
    var registration: Reactor.Registration?
    /// Datagrams or frames the kernel would not take (send buffer or TAP queue full), and send errors.
    var sendBlocked: UInt64 = 0
    var sendErrors: UInt64 = 0
    /// Datagrams received from other than IPv4 sources, or truncated.
    var receiveSkipped: UInt64 = 0
    var description = ""
}

extension BridgeDaemon {
    /// The WAN setup for `config`: the peer's endpoint resolved (a name through getaddrinfo).
    static func wanSetup(for config: BridgeConfig) throws -> WANSetup {
        let endpoint: Endpoint?
        switch config.wan {
        case .wireguard(let w)?: endpoint = w.endpoint
        case .udp(let u)?: endpoint = u.endpoint
        case .tap?, nil: endpoint = nil
        }
        guard let endpoint else { return WANSetup() }
        if let literal = WANEndpoint(endpoint) { return WANSetup(endpoint: literal) }
        return WANSetup(endpoint: try resolve(endpoint))
    }

    /// The first IPv4 address of `endpoint.host`.
    static func resolve(_ endpoint: Endpoint) throws -> WANEndpoint {
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
        return WANEndpoint(address: IPv4Address(rawValue: UInt32(bigEndian: sin.sin_addr.s_addr)), port: endpoint.port)
    }

    /// Opens the WAN's socket or TAP device; its output closure goes into `outputs` (for
    /// `Bridge.connect`), its input is handed to the bridge as events.
    func openWAN(into outputs: inout BridgeOutputs) throws {
        guard let wan = bridge.wan, let config = config.wan else { return }
        let uplink = WANUplink()
        // WireGuard's TAI64N timestamps come from the wall clock; everything else from the monotonic one.
        let now = reactor.clock.now()
        wan.setWallClock(unixNanoseconds: UInt64(Date().timeIntervalSince1970 * 1e9), at: now)
        switch config {
        case .wireguard(let w): try openDatagramSocket(wan, uplink, listenPort: w.listenPort, outputs: &outputs)
        case .udp(let u): try openDatagramSocket(wan, uplink, listenPort: u.listenPort, outputs: &outputs)
        case .tap(let t): try openTapUplink(wan, uplink, t, outputs: &outputs)
        }
        wanUplink = uplink
        let mode = self.config.router?.nat == true ? "masquerading behind \(wan.address.address)" : "routed"
        log("WAN \(wan.kind.rawValue): \(uplink.description), \(wan.address), \(mode)")
    }

    func openDatagramSocket(_ wan: WAN, _ uplink: WANUplink, listenPort: Int?, outputs: inout BridgeOutputs) throws {
        let socket = try UDPSocket(bindingTo: .ipv4(address: 0, port: UInt16(listenPort ?? 0)))
        socket.growBuffers(bytes: 4 << 20)   // bursts (and floods) wait in the kernel, not on the floor
        uplink.socket = socket
        outputs.sendWANDatagram = { [unowned uplink, unowned socket] bytes, to in
            do {
                if try socket.send(bytes, to: .ipv4(address: to.address.rawValue, port: to.port)) == nil { uplink.sendBlocked &+= 1 }
            } catch {
                uplink.sendErrors &+= 1
            }
        }
        uplink.registration = try reactor.register(socket.descriptor, interest: .read) { [unowned self, unowned socket, unowned uplink] _ in
            let now = self.reactor.clock.now()
            for _ in 0..<256 {
                guard let got = try? socket.receive(into: self.frame) else { break }
                guard case .ipv4(let address, let port) = got.source, !got.truncated else { uplink.receiveSkipped &+= 1; continue }
                self.bridge.receiveWANDatagram(self.frame, count: got.count,
                                               from: WANEndpoint(address: IPv4Address(rawValue: address), port: port), now: now)
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
        outputs.transmitWANFrame = { [unowned uplink, unowned device] frame in
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
        if let r = wanUplink?.registration { reactor.deregister(r) }
        wanUplink = nil
    }

    /// The WAN's counters, as lines for `statistics()`.
    func wanStatistics() -> [String] {
        guard let wan = bridge.wan else { return [] }
        let c = wan.counters
        var line = "wan \(wan.kind.rawValue): tx \(c.txPackets) pkts \(c.txBytes) B (\(c.txDatagrams) datagrams \(c.txDatagramBytes) B), "
            + "rx \(c.rxPackets) pkts \(c.rxBytes) B (\(c.rxDatagrams) datagrams \(c.rxDatagramBytes) B)"
        if c.drops.total > 0 { line += ", drops " + c.drops.nonzero.map { "\($0.reason)=\($0.count)" }.joined(separator: " ") }
        if let u = wanUplink, u.sendBlocked + u.sendErrors + u.receiveSkipped > 0 {
            line += ", send blocked \(u.sendBlocked) errors \(u.sendErrors), receive skipped \(u.receiveSkipped)"
        }
        var lines = [line]
        if let t = wan.tunnel, let peer = t.peerIDs.first {
            let s = t.status(of: peer)
            let handshake = s.lastHandshake.map { "\(Double((reactor.clock.now() - $0).components.seconds))s ago" } ?? "never"
            lines.append("wireguard: peer \(s.publicKey) endpoint \(s.endpoint.map(\.description) ?? "none"), session \(s.hasSession), "
                         + "last handshake \(handshake), sent \(s.sentBytes) B, received \(s.receivedBytes) B")
            lines.append("wireguard: " + t.counters.summary)
        }
        if let nat = wan.nat {
            lines.append("nat: \(nat.mappingCount) mappings, \(nat.sessionCount) sessions, out \(nat.counters.outboundTranslated), in \(nat.counters.inboundTranslated), drops "
                         + (nat.counters.drops.nonzero.isEmpty ? "0" : nat.counters.drops.nonzero.map { "\($0.0)=\($0.1)" }.joined(separator: " ")))
        }
        return lines
    }
}
