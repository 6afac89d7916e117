// Room: Lab (layer 6) — a real-time driver of a HostStack `Host`: the same sans-IO host the
// simulator runs (ARP, ICMP, UDP, TCP), here on a TAP device, so that it talks to a real Linux
// kernel — the interop check of the simulated TCP against Linux's.
//
//   Linux (eth0 of a namespace) ◀─▶ TAP fd ◀──────────────────────────────▶ Host      (direct)
//   Linux (eth0 of a namespace) ◀─▶ TAP fd ◀─▶ Engine Bridge (L2 switch) ◀─▶ Host      (through a bridge)
//
// The driver owns everything the host must not touch: the clock (CLOCK_MONOTONIC), the one draw
// of system randomness that seeds the host's SeededRandom, the TAP descriptor and the epoll
// reactor. It follows the host's driver interface (Sources/HostStack/Host.swift: `receive`,
// `poll` when `nextDeadline` is due, `drainOutgoing`) and, for the bridge, the driver contract
// (docs/driver-contract.md: `connect` once, `attachExternal`, `receive`, `service(now:)` and
// wake at its deadline, `removeTaps` at the end). Everything runs on the calling thread.
import Basics
import Datapath
import Engine
import HostIO
import HostStack
import Wire

/// Why a real-time host could not start or carry on.
public struct RealTimeHostError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A `Host` on a TAP device, run on the real clock.
public final class RealTimeHost {
    /// The host. Call its application methods inside `withHost` (which puts their frames on the wire).
    public let host: Host
    /// The TAP device the host's frames go to (straight, or through the bridge); the kernel
    /// side is the interface `tapName`, for the caller to move into a namespace and configure.
    let tap: TAPDevice
    public var tapName: String { tap.name }
    public let clock = MonotonicClock()
    /// Frames the TAP refused (its queue was full): lost, as on a wire.
    public private(set) var tapWriteDrops = 0
    /// Frames read from the TAP, and written to it.
    public private(set) var framesFromTAP = 0, framesToTAP = 0

    private let reactor: Reactor
    private var registration: Reactor.Registration?
    private let bridge: Bridge?
    private var hostPort = PortID(0), tapPort = PortID(0)
    private var bridgeDeadline: Instant?
    /// Frames the bridge sent to the host's port, copied, until the host takes them (the bridge
    /// calls out while the host is draining its own frames into it).
    private var toHost: [[UInt8]] = []
    private let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_600, alignment: 64)
    private var closed = false

    /// A host called `name` with `mac` on a new TAP device `tapName` (needs CAP_NET_ADMIN) —
    /// straight on it, or `through` an Engine bridge fresh from `Bridge(config:)` (the driver
    /// connects it and attaches the TAP and the host as two external ports of `segment`). The
    /// host's randomness is seeded once from the system.
    public init(name: String, mac: MACAddress, configuration: HostConfiguration = HostConfiguration(),
                tapName: String, through bridge: Bridge? = nil, segment: String? = nil) throws(RealTimeHostError) {
        var system = SystemRandom()
        host = Host(name: name, mac: mac, random: SeededRandom(seed: system.next()), configuration: configuration)
        do { tap = try TAPDevice(name: tapName) } catch { throw RealTimeHostError("TAP device \(tapName): \(error)") }
        self.bridge = bridge
        do { reactor = try Reactor(clock: clock) } catch { throw RealTimeHostError("epoll: \(error)") }
        if let bridge {
            bridge.connect(BridgeOutputs())
            do {
                tapPort = try bridge.attachExternal(name: "tap:\(tap.name)", kind: .tap, segment: segment) { [unowned self] frame in
                    self.writeToTAP(frame)
                }
                hostPort = try bridge.attachExternal(name: "host:\(name)", kind: .tap, segment: segment) { [unowned self] frame in
                    self.toHost.append(Array(frame))
                }
            } catch {
                throw RealTimeHostError("bridge: \(error)")
            }
            bridgeDeadline = bridge.deadline
        }
        do {
            registration = try reactor.register(tap.descriptor, interest: .read) { [unowned self] _ in self.readTAP() }
        } catch {
            throw RealTimeHostError("epoll: \(error)")
        }
    }

    deinit {
        close()
        frame.deallocate()
    }

    /// Stops watching the TAP and takes the bridge's capture taps back (closing them); the TAP
    /// device goes when the driver does. Safe to call twice.
    public func close() {
        guard !closed else { return }
        closed = true
        if let registration { reactor.deregister(registration) }
        registration = nil
        if let bridge { for t in bridge.removeTaps() { try? t.close() } }
    }

    /// Calls `body` with the host and the time now (to call its application methods), then puts
    /// what it sent on the wire.
    @discardableResult
    public func withHost<T>(_ body: (Host, Instant) throws -> T) rethrows -> T {
        let now = clock.now()
        let result = try body(host, now)
        flush(now: now)
        return result
    }

    /// Runs the host until `done` says so or `timeout` passes; returns whether `done` held.
    /// `done` is checked after every wakeup — a frame, a timer, or at the latest every
    /// `checkInterval` (for conditions outside the host, such as a child process exiting).
    public func run(timeout: Duration, checkInterval: Duration = .milliseconds(20),
                    until done: (Host, Instant) -> Bool) throws(RealTimeHostError) -> Bool {
        let end = clock.now() + timeout
        while true {
            let now = clock.now()
            step(now: now)
            if done(host, now) { return true }
            if now >= end || closed { return false }
            var wake = min(end, now + max(checkInterval, .milliseconds(1)))
            if let d = host.nextDeadline() { wake = min(wake, d) }
            if let d = bridgeDeadline { wake = min(wake, d) }
            do { try reactor.runOnce(timeout: wake > now ? wake - now : .zero) } catch {
                throw RealTimeHostError("epoll_wait: \(error)")
            }
        }
    }

    // MARK: Events

    /// Runs the host's and the bridge's timers due at `now` and sends what they produced.
    private func step(now: Instant) {
        if let d = host.nextDeadline(), d <= now { host.poll(now: now) }
        flush(now: now)
    }

    /// Reads every frame waiting on the TAP and hands it on.
    private func readTAP() {
        let now = clock.now()
        for _ in 0..<256 {
            guard let n = try? tap.read(into: frame), n > 0 else { break }
            framesFromTAP += 1
            let bytes = UnsafeRawBufferPointer(rebasing: frame[0..<n])
            if let bridge { bridge.receive(bytes, from: tapPort, now: now) } else { host.receive(bytes, now: now) }
        }
        flush(now: now)
    }

    /// Moves frames until nothing is left to move: the bridge's to the host, the host's to the
    /// TAP (or into the bridge), then the bridge's timers.
    private func flush(now: Instant) {
        while true {
            while !toHost.isEmpty {
                let batch = toHost
                toHost.removeAll(keepingCapacity: true)
                for f in batch { host.receive(f, now: now) }
            }
            if host.hasOutgoing {
                if let bridge {
                    host.drainOutgoing { [hostPort] in bridge.receive($0, from: hostPort, now: now) }
                } else {
                    host.drainOutgoing { writeToTAP($0) }
                }
            }
            if let bridge { bridgeDeadline = bridge.service(now: now) }
            if toHost.isEmpty && !host.hasOutgoing { return }
        }
    }

    private func writeToTAP(_ frame: UnsafeRawBufferPointer) {
        if let n = try? tap.write(frame), n == frame.count { framesToTAP += 1 } else { tapWriteDrops += 1 }
    }
}
