// The vhost-user server: the thin I/O layer around `VhostUserConnection`, on a HostIO reactor.
// It listens on a unix socket path, accepts any number of front ends (one guest NIC each), frames
// their messages, carries out the connection's actions, watches kick eventfds and writes call
// eventfds. A connection that breaks the protocol is closed and logged; the others keep running,
// and a front end can reconnect on the same path (its old mappings and descriptors are gone).

import Basics
import Glibc
import HostIO
import Virtio

/// Identifies one accepted front end (never reused by a server).
public struct VhostUserGuestID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "guest \(rawValue)" }
}

/// What the datapath hears from a `VhostUserServer`. Called on the reactor's thread.
public protocol VhostUserServerDelegate: AnyObject {
    /// A front end connected.
    func vhostUserGuestConnected(_ guest: VhostUserGuestID)
    /// Queue pair `pair` of `guest` runs: attach `nic` to the datapath (e.g. Bridge.attachGuest).
    func vhostUserQueuePairStarted(_ guest: VhostUserGuestID, pair: Int, nic: VirtioNetQueuePair<GuestMemoryRegions>)
    /// Queue pair `pair` stopped: detach it now and drop the `nic` (e.g. Bridge.detach).
    func vhostUserQueuePairStopped(_ guest: VhostUserGuestID, pair: Int)
    /// The guest kicked `queue` of a running pair: new transmit frames (e.g.
    /// Bridge.serviceGuestTransmit), or new receive buffers.
    func vhostUserKicked(_ guest: VhostUserGuestID, pair: Int, queue: VirtioNetQueueKind)
    /// The front end is gone (its pairs were stopped first).
    func vhostUserGuestDisconnected(_ guest: VhostUserGuestID, reason: VhostUserError)
}

extension VhostUserServerDelegate {
    public func vhostUserGuestConnected(_ guest: VhostUserGuestID) {}
    public func vhostUserGuestDisconnected(_ guest: VhostUserGuestID, reason: VhostUserError) {}
}

/// A vhost-user net back end listening on a unix socket, driven by a `Reactor`.
public final class VhostUserServer {
    /// The socket path front ends connect to.
    public let path: String
    /// The device every connection presents.
    public let configuration: VhostUserDeviceConfiguration
    /// Told about queue pairs, kicks and disconnects.
    public weak var delegate: (any VhostUserServerDelegate)?
    /// Where connection events and close reasons are logged.
    public var log: (String) -> Void = { line in
        let text = Array("vhost-user: \(line)\n".utf8)
        _ = text.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
    /// Log every message received (request name, flags, size, descriptor count).
    public var traceMessages = false
    /// Decides whether a new connection is served (e.g. its peer's credentials); a refused one
    /// is closed at once. Nil serves every connection the socket file's permissions let in.
    public var admit: ((UnixStream) -> Bool)?
    /// How often rings started without a kick fd ("polling should be used") are polled.
    public var pollInterval: Duration = .milliseconds(1)

    private final class Guest {
        let id: VhostUserGuestID
        let stream: UnixStream
        let connection: VhostUserConnection
        var registration: Reactor.Registration?
        var reader = VhostUserMessageReader()
        var kicks: [Int: Reactor.Registration] = [:]
        var outgoing: [UInt8] = []
        var closed = false

        init(id: VhostUserGuestID, stream: UnixStream, connection: VhostUserConnection) {
            self.id = id
            self.stream = stream
            self.connection = connection
        }
    }

    private let reactor: Reactor
    private var listener: UnixListener?
    private var listenerRegistration: Reactor.Registration?
    private var guests: [VhostUserGuestID: Guest] = [:]
    private var nextGuest: UInt64 = 1
    private var orphanedMemory: [MappedGuestMemory] = []
    private var pollTimer: Reactor.Timer?
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: VhostUserSpec.maxPayloadSize, alignment: 8)
    /// Messages handled per readiness event before other descriptors get a turn.
    private let messagesPerWakeup = 64

    /// Listens at `path` (a stale socket file is replaced) and serves on `reactor`.
    public init(path: String, configuration: VhostUserDeviceConfiguration = VhostUserDeviceConfiguration(),
                reactor: Reactor) throws(Errno) {
        self.configuration = configuration
        self.reactor = reactor
        let listener = try UnixListener(path: path)
        self.listener = listener
        self.path = path
        listenerRegistration = try reactor.register(listener.descriptor, interest: .read) { [unowned self] _ in
            self.acceptPending()
        }
    }

    deinit {
        // Dropped without close(): unhook from the reactor so no handler outlives the server.
        // Connections going with it keep memory a datapath still holds mapped (see
        // VhostUserConnection.deinit); call close() first to have the datapath told.
        if let r = listenerRegistration { reactor.deregister(r) }
        for guest in guests.values {
            for r in guest.kicks.values { reactor.deregister(r) }
            if let r = guest.registration { reactor.deregister(r) }
        }
        if let pollTimer { reactor.cancel(pollTimer) }
        for m in orphanedMemory where m.isReferencedElsewhere { _ = Unmanaged.passRetained(m) }
        scratch.deallocate()
    }

    // MARK: Public surface

    /// Connected front ends, oldest first.
    public var guestIDs: [VhostUserGuestID] { guests.keys.sorted() }

    /// The protocol state of `guest` (its running pairs, descriptors, memory regions).
    public func connection(of guest: VhostUserGuestID) -> VhostUserConnection? { guests[guest]?.connection }

    /// Interrupts `guest` for `queue` of `pair` (both queues when nil) by writing the call
    /// eventfd. Returns false when there was no call fd to write (the guest polls).
    @discardableResult
    public func notify(_ guest: VhostUserGuestID, pair: Int, queue: VirtioNetQueueKind? = nil) -> Bool {
        guard let connection = guests[guest]?.connection else { return false }
        var signalled = false
        if queue != .transmit, let call = connection.callDescriptor(queue: 2 * pair) {
            signalled = (try? EventFD.signal(call)) == true || signalled
        }
        if queue != .receive, let call = connection.callDescriptor(queue: 2 * pair + 1) {
            signalled = (try? EventFD.signal(call)) == true || signalled
        }
        return signalled
    }

    /// Signals the error eventfds of `pair` (a queue the guest broke); false when it has none.
    @discardableResult
    public func reportBroken(_ guest: VhostUserGuestID, pair: Int) -> Bool {
        guard let connection = guests[guest]?.connection else { return false }
        var signalled = false
        for q in [2 * pair, 2 * pair + 1] {
            if let fd = connection.errorDescriptor(queue: q), (try? EventFD.signal(fd)) == true { signalled = true }
        }
        return signalled
    }

    /// Closes `guest`'s connection (its pairs stop first).
    public func disconnect(_ guest: VhostUserGuestID, reason: VhostUserError) {
        guard let g = guests[guest] else { return }
        perform(g.connection.close(reason), for: g)
    }

    /// Stops listening and closes every connection. The socket file is removed.
    public func close() {
        if let r = listenerRegistration { reactor.deregister(r) }
        listenerRegistration = nil
        listener = nil
        for id in guestIDs { disconnect(id, reason: .serverClosed) }
        if let pollTimer { reactor.cancel(pollTimer) }
        pollTimer = nil
    }

    /// Unmaps guest memory of stopped pairs and closed connections that nothing references any
    /// more. Returns how many retired memory tables are still held (by a datapath that has not
    /// dropped a queue pair). Called after every event; call it after detaching pairs elsewhere.
    @discardableResult
    public func releaseUnusedMemory() -> Int {
        orphanedMemory.removeAll { !$0.isReferencedElsewhere }
        var held = orphanedMemory.count
        for id in guestIDs { held += guests[id]!.connection.releaseUnusedMemory() }
        return held
    }

    // MARK: Accepting

    private func acceptPending() {
        while let listener {
            let stream: UnixStream
            do {
                guard let accepted = try listener.accept() else { return }
                stream = accepted
                if let admit, !admit(stream) { continue }
            } catch {
                log("accept on \(path) failed: \(error)")
                return
            }
            let id = VhostUserGuestID(rawValue: nextGuest)
            nextGuest += 1
            let guest = Guest(id: id, stream: stream, connection: VhostUserConnection(configuration: configuration))
            do {
                guest.registration = try reactor.register(stream.descriptor, interest: .read) { [unowned self, unowned guest] events in
                    self.service(guest, events: events)
                }
            } catch {
                log("\(id): cannot watch the connection: \(error)")
                continue
            }
            guests[id] = guest
            log("\(id) connected on \(path)")
            delegate?.vhostUserGuestConnected(id)
        }
    }

    // MARK: Reading and writing

    private func service(_ guest: Guest, events: Reactor.Events) {
        if events.contains(.writable) { flush(guest) }
        guard !guest.closed else { return }
        var handled = 0
        while !guest.closed, handled < messagesPerWakeup {
            let wanted = guest.reader.bytesWanted
            let received: UnixReceived
            do {
                guard let r = try guest.stream.receive(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<wanted]),
                                                       maxDescriptors: VhostUserSpec.maxDescriptorsPerMessage) else { break }
                received = r
            } catch {
                perform(guest.connection.close(Self.closeReason(error)), for: guest)
                break
            }
            if received.count == 0 {
                perform(guest.connection.close(guest.reader.endOfStream()), for: guest)
                break
            }
            if received.descriptorsTruncated {
                perform(guest.connection.close(.tooManyDescriptors(received: VhostUserSpec.maxDescriptorsPerMessage)), for: guest)
                break
            }
            do {
                let bytes = UnsafeRawBufferPointer(rebasing: scratch[0..<received.count])
                guard let (message, descriptors) = try guest.reader.append(bytes, descriptors: received.descriptors) else { continue }
                handled += 1
                if traceMessages {
                    let name = message.header.knownRequest?.description ?? "request \(message.header.request)"
                    log("\(guest.id): \(name) flags 0x\(String(message.header.flags, radix: 16)) size \(message.header.size) fds \(descriptors.count)")
                }
                perform(guest.connection.handle(message, descriptors: descriptors), for: guest)
            } catch {
                perform(guest.connection.close(error), for: guest)
            }
        }
        releaseUnusedMemory()
    }

    private func send(_ bytes: [UInt8], to guest: Guest) {
        guest.outgoing += bytes
        flush(guest)
    }

    private func flush(_ guest: Guest) {
        while !guest.outgoing.isEmpty {
            let sent: Int?
            do {
                sent = try guest.outgoing.withUnsafeBytes { (raw) throws(Errno) in try guest.stream.send(raw) }
            } catch {
                guest.outgoing = []
                if !guest.closed { perform(guest.connection.close(Self.closeReason((error as? Errno) ?? Errno(rawValue: EIO))), for: guest) }
                return
            }
            guard let sent else { break }
            guest.outgoing.removeFirst(sent)
        }
        if let registration = guest.registration, !guest.closed {
            try? reactor.modify(registration, interest: guest.outgoing.isEmpty ? .read : [.read, .write])
        }
    }

    /// A socket error as a close reason: a peer that vanished (reset, broken pipe) simply left.
    private static func closeReason(_ error: Errno) -> VhostUserError {
        error == .connectionReset || error == .brokenPipe ? .peerClosed : .io(error)
    }

    // MARK: Actions

    private func perform(_ actions: [VhostUserAction], for guest: Guest) {
        for action in actions {
            switch action {
            case .send(let bytes):
                send(bytes, to: guest)
            case .startQueuePair(let pair, let nic):
                delegate?.vhostUserQueuePairStarted(guest.id, pair: pair, nic: nic)
                // Catch up on what happened before the pair ran: an interrupt the guest may have
                // missed (harmless if not), and frames it may already have queued.
                notify(guest.id, pair: pair)
                if guest.connection.queuePair(pair) != nil {
                    delegate?.vhostUserKicked(guest.id, pair: pair, queue: .transmit)
                }
                schedulePollingIfNeeded()
            case .stopQueuePair(let pair):
                delegate?.vhostUserQueuePairStopped(guest.id, pair: pair)
            case .watchKick(let queue, let descriptor):
                watchKick(guest, queue: queue, descriptor: descriptor)
            case .close(let reason):
                tearDown(guest, reason: reason)
            }
        }
    }

    private func watchKick(_ guest: Guest, queue: Int, descriptor: FileDescriptor?) {
        if let old = guest.kicks.removeValue(forKey: queue) { reactor.deregister(old) }
        guard let descriptor else {
            schedulePollingIfNeeded()
            return
        }
        let pair = queue / 2
        let kind: VirtioNetQueueKind = queue % 2 == 0 ? .receive : .transmit
        do {
            guest.kicks[queue] = try reactor.register(descriptor, interest: .read) { [unowned self, unowned guest] _ in
                _ = try? EventFD.drain(descriptor)
                guard !guest.closed, guest.connection.queuePair(pair) != nil else { return }
                self.delegate?.vhostUserKicked(guest.id, pair: pair, queue: kind)
            }
        } catch {
            perform(guest.connection.close(.io(error)), for: guest)
        }
    }

    private func tearDown(_ guest: Guest, reason: VhostUserError) {
        guard !guest.closed else { return }
        guest.closed = true
        for queue in guest.kicks.keys.sorted() { reactor.deregister(guest.kicks[queue]!) }
        guest.kicks = [:]
        if let registration = guest.registration { reactor.deregister(registration) }
        guest.registration = nil
        guest.stream.shutdown()
        guests[guest.id] = nil
        orphanedMemory += guest.connection.takeRetiredMemory()
        if reason == .peerClosed || reason == .serverClosed {
            log("\(guest.id) disconnected: \(reason)")
        } else {
            log("\(guest.id) closed: \(reason)")
        }
        delegate?.vhostUserGuestDisconnected(guest.id, reason: reason)
        releaseUnusedMemory()
    }

    // MARK: Polling

    /// "This signals that polling should be used instead of waiting for the kick."
    private func schedulePollingIfNeeded() {
        guard pollTimer == nil, anyPolledQueue() else { return }
        pollTimer = reactor.schedule(after: pollInterval) { [weak self] in
            guard let self else { return }
            self.pollTimer = nil
            for id in self.guestIDs {
                guard let guest = self.guests[id] else { continue }
                for pair in guest.connection.runningQueuePairs {
                    for kind in [VirtioNetQueueKind.transmit, .receive]
                    where guest.connection.isPolled(queue: kind.queue(inPair: pair)) {
                        self.delegate?.vhostUserKicked(id, pair: pair, queue: kind)
                    }
                }
            }
            self.schedulePollingIfNeeded()
        }
    }

    private func anyPolledQueue() -> Bool {
        for guest in guests.values {
            for pair in guest.connection.runningQueuePairs
            where guest.connection.isPolled(queue: 2 * pair) || guest.connection.isPolled(queue: 2 * pair + 1) {
                return true
            }
        }
        return false
    }
}
