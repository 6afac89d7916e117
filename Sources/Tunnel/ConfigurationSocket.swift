// The UAPI socket: WireGuard's cross-platform configuration protocol (WireGuard/ConfigurationProtocol.swift) served
// on a unix socket at /var/run/wireguard/NAME.sock, where wg(8) looks for userspace implementations. As
// wireguard-go's ipc/uapi_unix.go: the directory is created with mode 0755, the socket is bound under umask 077
// (so only root may connect: srwx------), a stale socket nobody answers on is replaced, a live one is an error;
// the file is removed on exit.
//
// `ConfigurationServer` accepts clients on a reactor and frames their operations (ConfigurationSession); what a get
// returns and what a set does belong to its owner: `sluice wg` (below) and the bridge's WireGuard WAN.

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

/// The UAPI socket of one interface, served on a reactor.
public final class ConfigurationServer {
    /// One connected wg(8) client.
    final class Client {
        let stream: UnixStream
        var session = ConfigurationSession()
        var registration: Reactor.Registration?
        init(stream: UnixStream) { self.stream = stream }
    }

    /// What the owner does for the operations.
    public struct Handlers {
        /// The `get=1` reply's lines (without errno).
        public var get: () -> String
        /// Checks and applies a set; nil on success. Must change nothing when it fails.
        public var set: (ConfigurationSet) -> ConfigurationProtocolError?
        public init(get: @escaping () -> String, set: @escaping (ConfigurationSet) -> ConfigurationProtocolError?) {
            self.get = get; self.set = set
        }
    }

    public let interface: String
    let reactor: Reactor
    let log: (String) -> Void
    let handlers: Handlers
    var listener: UnixListener?
    var registration: Reactor.Registration?
    var clients: [UInt64: Client] = [:]
    var nextClient: UInt64 = 0

    /// Creates the directory, listens on `interface`'s socket and registers it with `reactor`.
    public init(interface: String, reactor: Reactor, handlers: Handlers, log: @escaping (String) -> Void) throws(TunnelError) {
        self.interface = interface
        self.reactor = reactor
        self.handlers = handlers
        self.log = log
        let path = ConfigurationSocketPath.path(for: interface)
        if mkdir(ConfigurationSocketPath.directory, 0o755) != 0, errno != EEXIST {
            throw TunnelError("cannot create \(ConfigurationSocketPath.directory): \(Errno(rawValue: errno))")
        }
        let old = umask(0o077)
        defer { umask(old) }
        do { listener = try UnixListener(path: path) } catch {
            throw TunnelError("cannot listen on \(path): \(error)"
                              + (error == .addressInUse ? " — another process serves this interface" : ""))
        }
        do {
            registration = try reactor.register(listener!.descriptor, interest: .read) { [unowned self] _ in acceptClients() }
        } catch {
            listener = nil
            throw TunnelError("epoll: \(error)")
        }
    }

    /// The socket's path.
    public var path: String { ConfigurationSocketPath.path(for: interface) }

    /// Closes every client and the socket, and removes the socket file.
    public func close() {
        for (_, client) in clients {
            if let r = client.registration { reactor.deregister(r) }
            try? client.stream.descriptor.close()
        }
        clients = [:]
        if let registration { reactor.deregister(registration) }
        registration = nil
        listener = nil  // UnixListener's deinit removes the socket file
    }

    deinit { close() }

    func acceptClients() {
        guard let listener else { return }
        while let stream = try? listener.accept() {
            let id = nextClient
            nextClient &+= 1
            let client = Client(stream: stream)
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
    }

    func dropClient(_ id: UInt64) {
        guard let client = clients.removeValue(forKey: id) else { return }
        if let r = client.registration { reactor.deregister(r) }
        try? client.stream.descriptor.close()
    }

    /// Answers one request; false when the connection is to be closed.
    func serve(_ request: ConfigurationRequest, to client: Client) -> Bool {
        switch request {
        case .get:
            return reply(handlers.get() + ConfigurationSession.reply(nil), to: client)
        case .set(let set):
            let error = handlers.set(set)
            if let error { log("\(interface): UAPI set refused: \(error)") }
            return reply(ConfigurationSession.reply(error), to: client)
        case .rejected(let error):
            log("\(interface): UAPI set refused: \(error)")
            return reply(ConfigurationSession.reply(error), to: client)
        case .close(let error):
            if let error {
                log("\(interface): UAPI: \(error)")
                _ = reply(ConfigurationSession.reply(error), to: client)
            }
            return false
        }
    }

    func reply(_ text: String, to client: Client) -> Bool {
        let bytes = Array(text.utf8)
        do { try bytes.withUnsafeBytes { try client.stream.sendAll($0) } } catch { return false }
        return true
    }
}

extension WireGuardTunnel {
    /// Serves the interface's UAPI socket.
    func openConfigurationSocket() throws(TunnelError) {
        configurationServer = try ConfigurationServer(
            interface: tun.name, reactor: reactor,
            handlers: .init(get: { [unowned self] in
                device.configurationText(socket: InterfaceSocketSettings(listenPort: listenPort, fwmark: fwmark), now: clock.now())
            }, set: { [unowned self] set in
                let error = applyConfiguration(set, now: clock.now())
                flushOutgoing()
                armDeviceTimer()
                return error
            }), log: log)
    }

    func closeConfigurationSocket() {
        configurationServer?.close()
        configurationServer = nil
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
