// Impairments on the bridge's own ports (docs/config.md, `impair:`; docs/operating.md, `impair`):
// the simulator's link model (Sim.Link) on the cable between a port's device and the switch, the
// way the lab's netns backend runs it between a TAP and its bridge port — but inside the engine,
// so every driver (`sluice bridge`, the lab's qemu backend) gets it through the driver contract:
//
//   device ─▶ cable a>b (ingress) ─▶ switch        receive / serviceTransmit offer the frame to the cable
//   device ◀─ cable b>a (egress)  ◀─ switch        transmit offers it; the cable delivers it later
//
// One `Simulation` serves as the agenda of every impaired port's cable (so frames crossing from
// one impaired port to another are timed exactly), its clock moved to the driver's `now` at the
// start of each event (`advanceImpairments`): frames due by then arrive first, then the event's
// frames are offered at `now`. The next frame due is part of the bridge's deadline, so the driver
// wakes for it and calls `service(now:)`, as for any timer. The agenda's randomness is seeded once,
// from the driver's RandomSource (the system's CSPRNG for `sluice bridge`, a seed in tests); each
// cable draws its own streams (`link:port:<name>:a>b`, …), so runs with the same seed and the same
// frames at the same times do the same.
//
// Cost: a port without impairments pays one flag test per frame sent to it; a bridge where no port
// was ever impaired also skips the agenda (one nil test per event).
import Basics
import Datapath
import Sim

/// The cable of one impaired port.
final class PortImpairmentLink {
    let port: PortID
    let link: Link
    var setting: PortImpairment

    init(port: PortID, link: Link, setting: PortImpairment) {
        self.port = port; self.link = link; self.setting = setting
    }
}

extension Bridge {
    /// Puts `impairment` on `port`'s cable from `now` on (a perfect cable, `PortImpairment()`,
    /// takes the link model off the port; frames already on the wire still arrive). Changing the
    /// impairments of an impaired port keeps its cable: frames on the wire keep their fate. The
    /// first call draws the agenda's seed from `random`. Call `service(now:)` after it (the
    /// deadline may have moved).
    public func impair(_ port: PortID, _ impairment: PortImpairment, now: Instant, random: inout some RandomSource) throws(EngineError) {
        let index = Int(port.rawValue)
        guard backends.indices.contains(index), let name = portTable[port]?.name else {
            throw EngineError.port(name: "\(port)", "no such port")
        }
        if isRouterPort(index) { throw EngineError.port(name: name, "the router's own port cannot be impaired") }
        if case .detached = backends[index] { throw EngineError.port(name: name, "the port is detached") }
        if impairment.isNone, impairmentLinks[index] == nil { return }
        let agenda: Simulation
        if let existing = impairmentAgenda { agenda = existing } else {
            agenda = Simulation(seed: random.next())
            impairmentAgenda = agenda
        }
        advanceImpairments(to: now)
        let cable: PortImpairmentLink
        if let existing = impairmentLinks[index] { cable = existing } else {
            let link = Link(agenda, name: "port:\(name)")
            cable = PortImpairmentLink(port: port, link: link, setting: PortImpairment())
            link.attachB { [unowned self] frame, at in self.arrivedFromCable(frame, port: port, now: at) }
            link.attachA { [unowned self] frame, at in self.deliver(frame, to: port, now: at) }
            var links = impairmentLinks  // changed whole (see `portTable`)
            impairmentLinks = [:]
            links[index] = cable
            impairmentLinks = links
        }
        cable.setting = impairment
        cable.link.aToB.impairments = impairment.ingress
        cable.link.bToA.impairments = impairment.egress
        cable.link.isUp = impairment.up
        impaired[index] = !impairment.isNone
    }

    /// `impair` with a seeded source (tests, simulations).
    public func impair(_ port: PortID, _ impairment: PortImpairment, now: Instant, seed: UInt64) throws(EngineError) {
        var random = SeededRandom(seed: seed)
        try impair(port, impairment, now: now, random: &random)
    }

    /// The impairments in force on `port` (nil: none).
    public func impairment(of port: PortID) -> PortImpairment? {
        let index = Int(port.rawValue)
        guard index >= 0, index < Bridge.maxPorts, impaired[index] else { return nil }
        return impairmentLinks[index]?.setting
    }

    /// What `port`'s cable did so far, per direction (nil: it never had impairments).
    public func impairmentCounters(of port: PortID) -> (ingress: LinkCounters, egress: LinkCounters)? {
        guard let cable = impairmentLinks[Int(port.rawValue)] else { return nil }
        return (cable.link.aToB.counters, cable.link.bToA.counters)
    }

    /// Ports whose cables have impairments now, in port order.
    public var impairedPorts: [PortID] {
        impairmentLinks.keys.sorted().filter { impaired[$0] }.map { PortID(UInt16($0)) }
    }

    // MARK: Per event

    /// Moves the cables' clock to `now`, delivering every frame due by then (at its own time).
    func advanceImpairments(to now: Instant) {
        guard let agenda = impairmentAgenda else { return }
        // The link model schedules nothing at `now` for itself, so it cannot be stuck.
        try? agenda.run(until: now)
        flushNotifications()
    }

    /// `receive` for a bridge with impaired ports: frames due first; an impaired port's frame
    /// goes onto its cable. Returns whether the frame was taken.
    func receiveImpaired(_ frame: UnsafeRawBufferPointer, from port: PortID, now: Instant) -> Bool {
        advanceImpairments(to: now)
        let index = Int(port.rawValue)
        guard index < Bridge.maxPorts, impaired[index], let cable = impairmentLinks[index] else { return false }
        cable.link.aToB.send(frame)
        return true
    }

    /// `serviceTransmit` for a bridge with impaired ports: frames due first; an impaired guest's
    /// frames go onto its cable. nil: the port is not impaired (the caller drains it as usual).
    func serviceImpairedTransmit(of nic: GuestNIC, on port: PortID, now: Instant, limit: Int) -> (frames: Int, notify: Bool)? {
        advanceImpairments(to: now)
        let index = Int(port.rawValue)
        guard index < Bridge.maxPorts, impaired[index], let cable = impairmentLinks[index] else { return nil }
        let ingress = cable.link.aToB
        let batch = nic.transmit(limit: limit) { _, frame in ingress.send(frame) }
        if batch.dropped > 0 { for _ in 0..<batch.dropped { portTable.countDrop(.tooBig, on: port) } }
        if nic.transmitQueue.isBroken { portTable.countDrop(.brokenQueue, on: port) }
        flushNotifications()
        return (batch.frames, batch.notifyGuest)
    }

    /// A frame for an impaired port: onto its cable's egress direction.
    func transmitImpaired(_ frame: UnsafeRawBufferPointer, to index: Int) {
        impairmentLinks[index]?.link.bToA.send(frame)
    }

    /// A frame off a cable's ingress direction, entering the switch at its arrival time.
    func arrivedFromCable(_ frame: UnsafeRawBufferPointer, port: PortID, now: Instant) {
        let index = Int(port.rawValue)
        if case .detached = backends[index] { return }
        portTable.countReceived(on: port, bytes: frame.count)
        switchFrame(frame, from: port, now: now)
    }

    /// Takes a port's cable away (the port was detached): frames on it are lost.
    func removeImpairment(_ index: Int) {
        impaired[index] = false
        var links = impairmentLinks  // changed whole (see `portTable`)
        impairmentLinks = [:]
        if let cable = links.removeValue(forKey: index) { cable.link.isUp = false }
        impairmentLinks = links
    }
}
