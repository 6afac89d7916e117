// A simulated VM: a HostStack `Host` behind an in-memory virtio-net driver, joined to its NIC by a
// `Link` — "the cable" — whose impairments model everything between the guest's stack and the
// bridge.
//
//   host ──drainOutgoing──▶ cable.aToB ──(delay…)──▶ driver.transmit ─▶ kick ─▶ bridge takes the TX ring
//   host ◀──receive──────── cable.bToA ◀──(delay…)── driver.receiveFrames ◀─ notify ◀─ bridge fills the RX ring
//
// The bridge side (the Lab) attaches `makeDevice()` to a bridge, sets `kick` to service the
// guest's transmit queue, and calls `notify()` from the bridge's guest-notification callback.
// A notification is handled as an event at the same instant, never inside the bridge's call,
// so nothing re-enters the bridge.

import Basics
import HostStack
import Virtio
import Wire

/// What a simulated guest counted at its NIC.
public struct SimulatedGuestCounters: Equatable, Sendable {
    /// Frames put into the transmit ring.
    public var transmitted = 0
    /// Frames dropped because the transmit ring was full.
    public var transmitRingFull = 0
    /// Frames dropped for being larger than the driver's largest transmit frame.
    public var transmitTooLarge = 0
    /// Times `kick` was called.
    public var kicks = 0
    /// Notifications from the device.
    public var notifications = 0
    /// Frames reaped from the receive ring.
    public var received = 0

    public init() {}
}

/// A HostStack host on an in-memory virtio NIC, driven by the simulation.
public final class SimulatedGuest: SimNode {
    /// For reports; also names its random streams (`host:<name>`) and its cable (`cable:<name>`).
    public let name: String
    /// The guest's IP stack. Call its actions through `withHost`, so its frames go out and its
    /// timer is re-armed.
    public let host: Host
    /// The guest's virtio-net driver (owns the guest memory and both rings' driver side).
    public let driver: InMemoryGuestDriver
    /// Between the guest's stack (A) and its NIC (B): A→B carries what the guest sends, B→A what
    /// it receives.
    public let cable: Link
    /// The guest's node in the simulation.
    public let node: SimNodeID
    /// NIC-level counters.
    public private(set) var counters = SimulatedGuestCounters()
    /// Called (at the current instant) after a frame was put into the transmit ring and the
    /// device asked to be kicked (EVENT_IDX honoured). The Lab wires it to
    /// `bridge.serviceGuestTransmit(port, now:)`; a device that stops at its batch limit must keep
    /// servicing until the ring is empty, since the guest will not kick again for those frames.
    public var kick: ((Instant) -> Void)?

    unowned let simulation: Simulation
    private var reapScheduled = false
    /// The reap event's label and body, made once (a notification per received frame would
    /// otherwise build a string and a closure each time).
    private let reapLabel: String
    private lazy var reapAction: () -> Void = { [unowned self] in self.reap() }

    /// A guest with no address, registered with `simulation` as a node. The host draws from
    /// `simulation.random("host:<name>")`; the cable from `link:cable:<name>:…`.
    public init(_ simulation: Simulation, name: String, mac: MACAddress,
                host configuration: HostConfiguration = HostConfiguration(),
                driver driverConfiguration: InMemoryGuestDriver.Configuration = InMemoryGuestDriver.Configuration(),
                cable impairments: LinkImpairments = LinkImpairments()) throws(GuestMemoryError) {
        self.simulation = simulation
        self.name = name
        host = Host(name: name, mac: mac, random: simulation.random("host:\(name)"), configuration: configuration)
        driver = try InMemoryGuestDriver(driverConfiguration)
        cable = Link(simulation, name: "cable:\(name)", impairments: impairments)
        reapLabel = "notify:\(name)"
        driver.refillReceiveBuffers()
        node = simulation.nextNodeID
        simulation.add(self, name: name)
        cable.attachB { [unowned self] frame, now in self.putOnTransmitRing(frame, now: now) }
        cable.attachA(touching: node) { [unowned self] frame, now in
            self.host.receive(frame, now: now)
            self.sendOutgoing()
        }
    }

    /// The device side of the guest's NIC, over the driver's memory and rings — what a bridge
    /// attaches (`bridge.attachGuest(name:nic:segment:)`). Make one per guest.
    public func makeDevice(maximumFrameSize: Int = VirtioNetQueuePair<GuestMemoryRegions>.defaultMaximumFrameSize)
        throws(VirtqueueSetupError) -> VirtioNetQueuePair<GuestMemoryRegions> {
        try driver.makeDevice(maximumFrameSize: maximumFrameSize)
    }

    /// Runs `body` with the host and `now` — to configure it or start a ping, a flood, DHCP — then
    /// puts the frames it produced on the cable and re-arms its timer.
    @discardableResult
    public func withHost<R>(_ body: (Host, Instant) throws -> R) rethrows -> R {
        defer {
            sendOutgoing()
            simulation.touch(node)
        }
        return try body(host, simulation.now)
    }

    /// The device used buffers the guest asked to hear about (the bridge's `notifyGuest`): at this
    /// instant, as its own event, the guest reaps its receive ring onto the cable, reposts its
    /// buffers and frees finished transmit buffers.
    public func notify() {
        counters.notifications += 1
        guard !reapScheduled else { return }
        reapScheduled = true
        simulation.schedule(at: simulation.now, label: reapLabel, reapAction)
    }

    // MARK: SimNode

    /// The host's next timer (ARP, RFC 5227, DHCP, ping, flood).
    public func nextDeadline() -> Instant? { host.nextDeadline() }

    /// Runs the host's due timers and puts what they sent on the cable.
    public func poll(now: Instant) {
        host.poll(now: now)
        sendOutgoing()
    }

    // MARK: Machinery

    /// The host's frames onto the cable, in order.
    private func sendOutgoing() {
        guard host.hasOutgoing else { return }
        host.drainOutgoing { cable.aToB.send($0) }
    }

    /// A frame reached the NIC end of the cable: into the transmit ring, then kick if asked.
    private func putOnTransmitRing(_ frame: UnsafeRawBufferPointer, now: Instant) {
        guard frame.count <= driver.configuration.maximumTransmitFrame else {
            counters.transmitTooLarge += 1
            return
        }
        guard driver.transmit(frame) else { counters.transmitRingFull += 1; return }
        counters.transmitted += 1
        if driver.transmitKickNeeded(), let kick {
            counters.kicks += 1
            kick(now)
        }
    }

    private func reap() {
        reapScheduled = false
        counters.received += driver.receiveFrames { _, frame in cable.bToA.send(frame) }
        driver.refillReceiveBuffers()
        // The device looks for buffers only when a frame arrives, so a receive kick has no one to
        // wake; asking still keeps the driver's notification bookkeeping in step.
        _ = driver.receiveKickNeeded()
        driver.reapTransmitted()
    }
}
