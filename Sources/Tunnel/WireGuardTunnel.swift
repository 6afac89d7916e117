// The real driver of a WireGuardDevice (wireguard-go's device/ with tun/ and conn/, on one thread): a TUN device
// and a UDP socket on the HostIO reactor.
//
//   TUN readable  → read packets into send slots (at offset 16) → device.send encrypts in place → sendmmsg
//   UDP readable  → recvmmsg into receive slots → device.receive decrypts in place → write each packet to the TUN
//   device timer  → device.poll at device.nextDeadline(); handshakes, keepalives and cookie replies go out by sendto
//   signals       → SIGINT / SIGTERM stop the loop (the interface goes away with its descriptor); SIGUSR1 prints status
//   UAPI socket   → wg(8)'s get/set on /var/run/wireguard/NAME.sock (ConfigurationSocket.swift)
//
// Each readable descriptor is drained in batches until it would block (or a fairness cap is reached), so one
// epoll round moves many packets. The per-packet path allocates nothing.

import Basics
import Crypto
import Glibc
import HostIO
import Wire
import WireGuard

/// Why the tunnel could not start or stopped.
public struct TunnelError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Packet counts of the driver itself (the device counts protocol events and drops).
struct TunnelCounters: Sendable, Equatable {
    /// Packets read from the TUN device.
    var tunRead: UInt64 = 0
    /// Packets written to the TUN device.
    var tunWritten: UInt64 = 0
    /// Decrypted packets the TUN device refused (queue full or error).
    var tunWriteDrops: UInt64 = 0
    /// Datagrams sent and received on the UDP socket.
    var udpSent: UInt64 = 0
    var udpReceived: UInt64 = 0
    /// Datagrams received that were truncated or not IPv4.
    var udpReceiveDrops: UInt64 = 0
}

/// How the interface is set up.
public enum TunnelMode: Sendable {
    /// `sluice wg up FILE`: addresses, MTU and routes from the file; keys and peers from the file.
    case file
    /// `sluice wg NAME` (wg-quick's userspace implementation): a bare TUN device and no key or peers; `wg` and
    /// `ip` configure it through the UAPI socket, as they do wireguard-go.
    case userspace
}

/// A WireGuard interface on a TUN device in the current network namespace.
public final class WireGuardTunnel {
    let configuration: TunnelConfiguration
    let mode: TunnelMode
    let device: WireGuardDevice
    let tun: TUNDevice
    /// Replaced when the UAPI sets a new listen_port.
    var socket: UDPSocket
    /// The UDP port the socket is bound to.
    var listenPort: UInt16
    /// The SO_MARK of the socket (UAPI fwmark; 0: none).
    var fwmark: UInt32 = 0
    /// The UAPI socket (nil when it could not be created in `.file` mode; see the warning).
    var configurationServer: ConfigurationServer?
    var socketRegistration: Reactor.Registration?
    private(set) var counters = TunnelCounters()

    let reactor: Reactor
    let clock: MonotonicClock
    let signals: SignalFD
    let log: (String) -> Void
    let sendBatch: DatagramBatch
    let receiveBatch: DatagramBatch
    let readCapacity: Int
    /// With offloads: where TUN reads land (virtio-net header + up to 64 KiB), before segmentation.
    let offloadReadBuffer: UnsafeMutableRawBufferPointer
    let coalescer = TCPCoalescer()
    var registrations: [Reactor.Registration] = []
    var deviceTimer: Reactor.Timer?
    var deviceTimerDeadline: Instant?
    var lastStatus: Instant
    var lastForcedHandshake: Instant
    var lastWallClock: Instant

    /// Packets moved per descriptor per reactor round before the other descriptor gets its turn.
    static let fairnessLimit = 256
    /// Datagrams per sendmmsg / recvmmsg.
    static let batchSize = 64

    /// Creates interface `name`, configures it (`.file`) and binds the socket, then opens the UAPI socket
    /// `/var/run/wireguard/NAME.sock`; `log` receives status and warnings. In `.userspace` mode the configuration
    /// only supplies the [Sluice] settings and MTU-independent buffers: the key and peers come through the UAPI.
    public init(configuration: TunnelConfiguration, name: String, mode: TunnelMode = .file,
                log: @escaping (String) -> Void) throws(TunnelError) {
        self.configuration = configuration
        self.mode = mode
        self.log = log
        do { signals = try SignalFD([SIGINT, SIGTERM, SIGUSR1]) } catch { throw TunnelError("signalfd: \(error)") }
        do { tun = try TUNDevice(name: name, offloads: configuration.sluice.tunOffload) } catch {
            throw TunnelError("cannot create TUN device '\(name)': \(error)"
                              + (error == .notPermitted ? " — run as root (CAP_NET_ADMIN)" : ""))
        }
        if mode == .file {
            let (routes, skipped) = LinkSetup.routes(for: configuration)
            for s in skipped { log("warning: \(s)") }
            do { try LinkSetup.configure(tun.name, configuration: configuration, routes: routes) } catch {
                throw TunnelError("configuring \(tun.name): \(error)")
            }
        }
        do {
            socket = try UDPSocket(bindingTo: .ipv4(SocketAddressV4(address: .any, port: configuration.interface.listenPort ?? 0)))
            guard case .ipv4(let local) = try socket.localAddress() else { throw Errno.invalidArgument }
            listenPort = local.port
        } catch {
            throw TunnelError("cannot bind UDP port \(configuration.interface.listenPort ?? 0): \(error)")
        }
        socket.growBuffers(bytes: 4 << 20)
        let udpOffload = configuration.sluice.udpOffload

        // The real driver hands the device the system's CSPRNG and real-time clock (re-read every minute).
        var deviceConfiguration = configuration.deviceConfiguration
        // wg-quick sets the MTU after the device exists (and may change it): pad to multiples of 16 only, and read
        // packets of any size the TUN device may hand over.
        if mode == .userspace { deviceConfiguration.mtu = nil }
        device = WireGuardDevice(configuration: deviceConfiguration, random: SystemRandom(),
                                 keySource: SystemRandom(), wallClock: .system(at: MonotonicClock().now()))
        if mode == .userspace { device.setPrivateKey(nil) }
        for peer in configuration.peers { device.addPeer(peer) }

        readCapacity = (mode == .userspace ? 65535 : configuration.mtu) + 64
        sendBatch = DatagramBatch(capacity: Self.batchSize, slotSize: readCapacity + 64)
        // Datagrams from a peer with a larger MTU still fit: a slot holds the largest UDP payload.
        receiveBatch = DatagramBatch(capacity: Self.batchSize, slotSize: 65536)
        if udpOffload {
            sendBatch.segmentationOffload = true
            socket.enableReceiveOffload()
        }
        offloadReadBuffer = .allocate(byteCount: TUNPacketHeader.size + 65536, alignment: 16)
        offloadReadBuffer.initializeMemory(as: UInt8.self, repeating: 0)
        do { reactor = try Reactor() } catch { throw TunnelError("epoll: \(error)") }
        clock = reactor.clock
        let now = clock.now()
        lastStatus = now
        lastForcedHandshake = now
        lastWallClock = now
        setWallClock(now: now)
        do { try openConfigurationSocket() } catch {
            if mode == .userspace { throw error }
            log("warning: \(error); wg(8) will not see \(tun.name)")
        }
    }

    // MARK: Running

    /// Runs until SIGINT or SIGTERM, then removes the interface.
    public func run() throws(TunnelError) {
        do {
            registrations.append(try reactor.register(tun.descriptor, interest: .read) { [unowned self] _ in tunReadable() })
            socketRegistration = try reactor.register(socket.descriptor, interest: .read) { [unowned self] _ in socketReadable() }
            registrations.append(try reactor.register(signals.descriptor, interest: .read) { [unowned self] _ in signalled() })
        } catch { throw TunnelError("epoll: \(error)") }
        let addresses = configuration.interface.addresses.map(\.description).joined(separator: ", ")
        log("\(tun.name): up, \(addresses.isEmpty ? "no address" : addresses), mtu \(configuration.mtu), listening on UDP \(listenPort), "
            + "\(configuration.peers.count) peer\(configuration.peers.count == 1 ? "" : "s"), "
            + (device.hasPrivateKey ? "public key \(device.publicKey)" : "no private key (configure it with wg)"))

        // Like wireguard-go: a peer with a persistent keepalive and an endpoint is contacted at once.
        let now = clock.now()
        for id in device.peerIDs {
            let status = device.status(of: id)
            if status.endpoint != nil, configuration.peers[id.rawValue].persistentKeepalive != nil {
                device.initiateHandshake(with: id, now: now)
            }
        }
        flushOutgoing()
        armDeviceTimer()
        scheduleTick()
        do { try reactor.run() } catch { throw TunnelError("epoll: \(error)") }
        shutdown()
    }

    deinit { offloadReadBuffer.deallocate() }

    func shutdown() {
        for r in registrations { reactor.deregister(r) }
        registrations = []
        if let socketRegistration { reactor.deregister(socketRegistration) }
        socketRegistration = nil
        closeConfigurationSocket()
        if let deviceTimer { reactor.cancel(deviceTimer) }
        tun.close()
        try? socket.descriptor.close()
        signals.close()
        log("\(tun.name): down")
    }

    // MARK: TUN → UDP

    func tunReadable() {
        if tun.offloads { tunReadableWithOffloads(); return }
        let now = clock.now()
        let h = TransportHeader.size
        var moved = 0
        while moved < Self.fairnessLimit {
            let slot = sendBatch.nextSlot
            let n: Int
            do {
                guard let count = try tun.read(into: UnsafeMutableRawBufferPointer(rebasing: slot[h..<(h + readCapacity)])) else { break }
                n = count
            } catch {
                tunFailed(error)
                break
            }
            moved += 1
            encrypt(slot, count: n, now: now)
        }
        counters.tunRead &+= UInt64(moved)
        finishSending()
    }

    /// Reads with a virtio-net header: super-packets are segmented into send slots, partial checksums completed.
    func tunReadableWithOffloads() {
        let now = clock.now()
        let h = TransportHeader.size
        let buffer = offloadReadBuffer
        var moved = 0
        while moved < Self.fairnessLimit {
            let n: Int
            do {
                guard let count = try tun.read(into: buffer) else { break }
                n = count
            } catch {
                tunFailed(error)
                break
            }
            moved += 1
            guard n > TUNPacketHeader.size else { continue }
            let header = TUNPacketHeader(UnsafeRawBufferPointer(buffer))
            let packet = UnsafeMutableRawBufferPointer(rebasing: buffer[TUNPacketHeader.size..<n])
            if header.gsoType & ~TUNPacketHeader.gsoECN == TUNPacketHeader.gsoTCPv4 {
                guard let segmentation = TCPSegmentation(packet: UnsafeRawBufferPointer(packet), gsoSize: Int(header.gsoSize)),
                      segmentation.headerLength + segmentation.segmentSize <= readCapacity else { continue }
                for i in 0..<segmentation.count {
                    let slot = sendBatch.nextSlot
                    let length = segmentation.write(segment: i, of: UnsafeRawBufferPointer(packet),
                                                    to: UnsafeMutableRawBufferPointer(rebasing: slot[h...]))
                    encrypt(slot, count: length, now: now)
                }
            } else if header.gsoType == TUNPacketHeader.gsoNone, packet.count <= readCapacity {
                if header.flags & TUNPacketHeader.needsChecksum != 0,
                   !TCPSegmentation.completeChecksum(packet, start: Int(header.checksumStart), offset: Int(header.checksumOffset)) {
                    continue
                }
                let slot = sendBatch.nextSlot
                (slot.baseAddress! + h).copyMemory(from: packet.baseAddress!, byteCount: packet.count)
                encrypt(slot, count: packet.count, now: now)
            }
        }
        counters.tunRead &+= UInt64(moved)
        finishSending()
    }

    /// Encrypts the packet at `slot[16..<16 + count]` (the next send slot) and adds it to the batch.
    @inline(__always)
    func encrypt(_ slot: UnsafeMutableRawBufferPointer, count: Int, now: Instant) {
        switch device.send(packet: slot, count: count, now: now) {
        case .transmit(_, let endpoint, let length):
            sendBatch.commit(length: length, to: endpoint)
            if sendBatch.isFull { counters.udpSent &+= UInt64(sendBatch.send(on: socket)) }
        case .queued, .dropped:
            break
        }
    }

    func finishSending() {
        if !sendBatch.isEmpty { counters.udpSent &+= UInt64(sendBatch.send(on: socket)) }
        flushOutgoing()
        armDeviceTimer()
    }

    // MARK: UDP → TUN

    func socketReadable() {
        var moved = 0
        var errors = 0
        while moved < Self.fairnessLimit {
            let n: Int
            do { n = try receiveBatch.receive(on: socket) } catch {
                // ICMP errors (port unreachable from a peer that went away) surface here once each; not fatal.
                if error.rawValue != ECONNREFUSED { log("\(tun.name): UDP receive: \(error)") }
                errors += 1
                if errors > 4 { break }
                continue
            }
            if n == 0 { break }
            moved += n
            counters.udpReceived &+= UInt64(n)
            let now = clock.now()
            for i in 0..<n {
                // UDP GRO may have joined several datagrams of one size; each is decrypted in place on its own.
                let whole = receiveBatch.forEachDatagram(inMessage: i) { datagram, source in
                    if case .deliver(_, let range) = device.receive(datagram: datagram, count: datagram.count, from: source, now: now) {
                        deliver(datagram, range)
                    }
                }
                if !whole { counters.udpReceiveDrops &+= 1 }
            }
            if !coalescer.isEmpty { writeToTUN(coalescer.finish()) }
            flushOutgoing()
            if n < receiveBatch.capacity { break }
        }
        armDeviceTimer()
    }

    /// Writes a decrypted packet to the TUN device; with offloads, runs of TCP segments are coalesced first.
    @inline(__always)
    func deliver(_ slot: UnsafeMutableRawBufferPointer, _ range: Range<Int>) {
        guard tun.offloads else {
            writeToTUN(UnsafeRawBufferPointer(rebasing: slot[range]))
            return
        }
        let packet = UnsafeRawBufferPointer(rebasing: slot[range])
        if coalescer.append(packet) { return }
        if !coalescer.isEmpty { writeToTUN(coalescer.finish()) }
        if coalescer.start(packet) { return }
        // Alone: a virtio-net header in front (the transport header's bytes are free), marked DATA_VALID.
        let start = range.lowerBound - TUNPacketHeader.size
        TUNPacketHeader(flags: TUNPacketHeader.dataValid).write(to: slot, at: start)
        writeToTUN(UnsafeRawBufferPointer(rebasing: slot[start..<range.upperBound]))
    }

    @inline(__always)
    func writeToTUN(_ bytes: UnsafeRawBufferPointer) {
        let written = try? tun.write(bytes)
        if written != nil { counters.tunWritten &+= 1 } else { counters.tunWriteDrops &+= 1 }
    }

    // MARK: Handshakes, keepalives, timers

    /// Sends what the device queued (handshake messages, keepalives, staged packets): the cold path.
    func flushOutgoing() {
        let outgoing = device.takeOutgoing()
        guard !outgoing.isEmpty else { return }
        send(outgoing)
    }

    @inline(never)
    func send(_ datagrams: [OutgoingDatagram]) {
        for d in datagrams {
            let address = SocketAddress.ipv4(d.endpoint)
            let sent = d.bytes.withUnsafeBytes { try? socket.send($0, to: address) }
            if sent != nil { counters.udpSent &+= 1 }
        }
    }

    /// Keeps one reactor timer at the device's earliest deadline.
    func armDeviceTimer() {
        guard let deadline = device.nextDeadline() else { return }
        if let current = deviceTimerDeadline, current <= deadline { return }
        if let deviceTimer { reactor.cancel(deviceTimer) }
        deviceTimerDeadline = deadline
        deviceTimer = reactor.schedule(at: deadline) { [unowned self] in
            deviceTimer = nil
            deviceTimerDeadline = nil
            let outgoing = device.poll(now: clock.now())
            if !outgoing.isEmpty { send(outgoing) }
            armDeviceTimer()
        }
    }

    /// Once a second: the wall clock, the periodic status line, the forced handshakes of [Sluice].
    func scheduleTick() {
        reactor.schedule(after: .seconds(1)) { [unowned self] in
            let now = clock.now()
            if now - lastWallClock >= .seconds(60) { setWallClock(now: now) }
            // `ip link delete` (wg-quick down) removes the interface under us: stop, as wireguard-go does.
            if if_nametoindex(tun.name) == 0 {
                log("\(tun.name): the interface was deleted, stopping")
                reactor.stop()
                return
            }
            if let interval = configuration.sluice.statusInterval, now - lastStatus >= interval { printStatus(now: now) }
            if let interval = configuration.sluice.handshakeInterval, now - lastForcedHandshake >= interval {
                lastForcedHandshake = now
                for id in device.peerIDs where device.status(of: id).endpoint != nil { device.initiateHandshake(with: id, now: now) }
                flushOutgoing()
                armDeviceTimer()
            }
            scheduleTick()
        }
    }

    /// A TUN read failed. EBADFD means the interface was deleted (`ip link delete`, wg-quick down): stop, as
    /// wireguard-go does. Anything else is logged and the loop goes on.
    func tunFailed(_ error: Errno) {
        guard error.rawValue == EBADFD else { log("\(tun.name): read: \(error)"); return }
        log("\(tun.name): the interface was deleted, stopping")
        reactor.stop()
    }

    func setWallClock(now: Instant) {
        device.setWallClock(.system(at: now))
        lastWallClock = now
    }

    func signalled() {
        while let signal = signals.next() {
            switch signal {
            case SIGUSR1: printStatus(now: clock.now())
            default:
                log("\(tun.name): signal \(signal), stopping")
                reactor.stop()
            }
        }
    }

    // MARK: Status

    func printStatus(now: Instant) {
        lastStatus = now
        for line in statusLines(now: now) { log(line) }
    }

    /// The interface line, then one line per peer (the format `sluice wg up` prints on SIGUSR1).
    func statusLines(now: Instant) -> [String] {
        var lines = ["\(tun.name): port \(listenPort), tun read \(counters.tunRead) written \(counters.tunWritten), "
                     + device.counters.summary]
        for id in device.peerIDs {
            let s = device.status(of: id)
            let handshake = s.lastHandshake.map { "\(Self.seconds(now - $0)) s ago" } ?? "none"
            lines.append("  peer \(s.publicKey) endpoint \(s.endpoint.map(\.description) ?? "(none)") "
                         + "latest handshake \(handshake), rx \(s.receivedBytes) B, tx \(s.sentBytes) B")
        }
        return lines
    }

    static func seconds(_ d: Duration) -> Int64 { d.components.seconds }
}
