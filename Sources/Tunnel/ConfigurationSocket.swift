// The UAPI socket: WireGuard's cross-platform configuration protocol (WireGuard/ConfigurationProtocol.swift) served
// on a unix socket at /var/run/wireguard/NAME.sock, where wg(8) looks for userspace implementations. As
// wireguard-go's ipc/uapi_unix.go: the directory is created with mode 0755, the socket is bound under umask 077
// (so only root may connect: srwx------), a stale socket nobody answers on is replaced, a live one is an error;
// the file is removed on exit.
//
// Clients are served on the reactor's thread between packets; a set is parsed and checked whole, the socket is
// rebound first when listen_port changes (EADDRINUSE leaves everything as it was), then the device applies it.

import Basics
import Glibc
import HostIO
import Wire
import WireGuard

/// Where wg(8) looks for userspace interfaces (wireguard-go's socketDirectory).
public enum ConfigurationSocketPath {
    public static let directory = "/var/run/wireguard"
    public static func path(for interface: String) -> String { "\(directory)/\(interface).sock" }
}

/// One connected wg(8) client.
final class ConfigurationClient {
    let stream: UnixStream
    var session = ConfigurationSession()
    var registration: Reactor.Registration?
    init(stream: UnixStream) { self.stream = stream }
}

extension WireGuardTunnel {
    /// Creates the directory and listens on the interface's socket.
    func openConfigurationSocket() throws(TunnelError) {
        let path = ConfigurationSocketPath.path(for: tun.name)
        if mkdir(ConfigurationSocketPath.directory, 0o755) != 0, errno != EEXIST {
            throw TunnelError("cannot create \(ConfigurationSocketPath.directory): \(Errno(rawValue: errno))")
        }
        let old = umask(0o077)
        defer { umask(old) }
        do { uapi = try UnixListener(path: path) } catch {
            throw TunnelError("cannot listen on \(path): \(error)"
                              + (error == .addressInUse ? " — another process serves this interface" : ""))
        }
    }

    func closeConfigurationSocket() {
        for (_, client) in clients {
            if let r = client.registration { reactor.deregister(r) }
            try? client.stream.descriptor.close()
        }
        clients = [:]
        if let uapiRegistration { reactor.deregister(uapiRegistration) }
        uapiRegistration = nil
        uapi = nil  // UnixListener's deinit removes the socket file
    }

    func acceptClients() {
        guard let uapi else { return }
        while let stream = try? uapi.accept() {
            let id = nextClient
            nextClient &+= 1
            let client = ConfigurationClient(stream: stream)
            do {
                client.registration = try reactor.register(stream.descriptor, interest: .read) { [unowned self] _ in
                    clientReadable(id)
                }
            } catch {
                try? stream.descriptor.close()
                continue
            }
            clients[id] = client
        }
    }

    func clientReadable(_ id: UInt64) {
        guard let client = clients[id] else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var open = true
        while open {
            let received: UnixReceived?
            do { received = try buffer.withUnsafeMutableBytes { try client.stream.receive(into: $0) } } catch {
                open = false
                break
            }
            guard let received else { break }
            if received.count == 0 { _ = client.session.finish(); open = false; break }
            let requests = buffer.withUnsafeBytes { client.session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<received.count])) }
            for request in requests where open { open = serve(request, to: client) }
        }
        if !open { dropClient(id) }
        flushOutgoing()
        armDeviceTimer()
    }

    func dropClient(_ id: UInt64) {
        guard let client = clients.removeValue(forKey: id) else { return }
        if let r = client.registration { reactor.deregister(r) }
        try? client.stream.descriptor.close()
    }

    /// Answers one request; false when the connection is to be closed.
    func serve(_ request: ConfigurationRequest, to client: ConfigurationClient) -> Bool {
        let now = clock.now()
        switch request {
        case .get:
            let text = device.configurationText(socket: InterfaceSocketSettings(listenPort: listenPort, fwmark: fwmark), now: now)
            return reply(text + ConfigurationSession.reply(nil), to: client)
        case .set(let set):
            let error = applyConfiguration(set, now: now)
            if let error { log("\(tun.name): UAPI set refused: \(error)") }
            return reply(ConfigurationSession.reply(error), to: client)
        case .rejected(let error):
            log("\(tun.name): UAPI set refused: \(error)")
            return reply(ConfigurationSession.reply(error), to: client)
        case .close(let error):
            if let error {
                log("\(tun.name): UAPI: \(error)")
                _ = reply(ConfigurationSession.reply(error), to: client)
            }
            return false
        }
    }

    func reply(_ text: String, to client: ConfigurationClient) -> Bool {
        let bytes = Array(text.utf8)
        do { try bytes.withUnsafeBytes { try client.stream.sendAll($0) } } catch { return false }
        return true
    }

    /// Checks `set` against the device, rebinds the UDP socket for a new port or mark, then applies it. Nothing
    /// changes when it returns an error.
    func applyConfiguration(_ set: ConfigurationSet, now: Instant) -> ConfigurationProtocolError? {
        do { try device.check(set) } catch { return error }
        var newSocket: UDPSocket?
        var newPort = listenPort
        // listen_port=0 asks for any port: the one bound already is one (wireguard-go would pick another).
        if let port = set.listenPort, port != 0, port != listenPort {
            do {
                let s = try UDPSocket(bindingTo: .ipv4(SocketAddressV4(address: .any, port: port)))
                guard case .ipv4(let local) = try s.localAddress() else { throw Errno.invalidArgument }
                newSocket = s
                newPort = local.port
            } catch {
                return .portInUse("cannot bind UDP port \(port): \(error)")
            }
        }
        let mark = set.fwmark ?? fwmark
        // SO_MARK on the socket that will carry the traffic: a new one gets any mark; the current one a changed mark.
        let marked = newSocket.map { _ in mark != 0 } ?? (mark != fwmark)
        if marked {
            do { try (newSocket ?? socket).setMark(mark) } catch {
                return .portInUse("cannot set fwmark \(mark): \(error)")
            }
        }
        if let newSocket { replaceSocket(newSocket, port: newPort) }
        fwmark = mark
        device.apply(set, now: now)
        for change in set.peers where change.ignoredIPv6 > 0 {
            log("\(tun.name): peer \(change.publicKey): \(change.ignoredIPv6) IPv6 allowed IP(s) accepted but not routed (IPv4 only)")
        }
        return nil
    }

    /// Moves the datapath to `socket` (bound to `port`), closing the old one.
    func replaceSocket(_ new: UDPSocket, port: UInt16) {
        new.growBuffers(bytes: 4 << 20)
        if configuration.sluice.udpOffload { new.enableReceiveOffload() }
        if let socketRegistration { reactor.deregister(socketRegistration) }
        socketRegistration = nil
        try? socket.descriptor.close()
        socket = new
        listenPort = port
        socketRegistration = try? reactor.register(new.descriptor, interest: .read) { [unowned self] _ in socketReadable() }
        log("\(tun.name): listening on UDP \(port)")
    }
}
