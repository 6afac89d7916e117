// A bridge: the production engine of one Sluice node. Segments (a learning switch each), the
// router and its DHCP servers, ports (guest NICs, external sinks) and capture taps, composed
// from a BridgeConfig. Sans-IO: a driver (the real reactor, the simulator, the lab backends)
// drives it through the contract in Driver.swift (docs/driver-contract.md): it connects the
// outputs once, hands it events with the time, and calls `service(now:)` after each.
import Basics
import Capture
import Datapath
import Sim
import Virtio
import Wire

public final class Bridge {
    /// The running configuration: replaced by `reconfigure` (Bridge+Reconfigure.swift).
    public internal(set) var config: BridgeConfig
    /// The bridge's ports with their counters.
    public var ports: PortTable { portTable }
    /// The bridge's segments, in configuration order.
    public var segments: [Segment] { segmentList }
    public let router: Router?
    /// One DHCP server per router interface that has a pool (index = interface).
    public internal(set) var dhcpServers: [DHCPServer?] = []

    /// The WAN side: the router's last interface and default route (nil without `wan:`).
    public let wan: WAN?

    /// What became of every frame handed to the router (the router counts its drops by reason).
    public var routerOutcomes: RouterOutcomeCounts { outcomes }

    // The state touched per frame is internal storage behind the public getters above: the
    // optimizer drops the dynamic exclusivity checks (swift_beginAccess) of a class's stored
    // property only when the property is not visible outside the module and no access to it spans
    // a call (an append, a call into another module). So these properties are read per frame and
    // changed only whole: the value is taken out, changed and put back (`changeSegments`,
    // `addPort`); the per-frame flags and lists are fixed buffers behind `let`s.
    var portTable = PortTable(maxPorts: Bridge.maxPorts)
    var segmentList: [Segment] = []
    var outcomes = RouterOutcomeCounts()

    /// The most ports a bridge has (ids `0 ..< maxPorts`).
    static let maxPorts = 1024
    /// What is behind each port, by port id. Changed only whole (see `portTable`).
    var backends: [PortBackend] = []
    /// The segment of each port, by port id. Changed only whole (see `portTable`).
    var segmentOfPort: [Int] = []
    /// Guest NICs whose receive queue got frames since the last flush: the first
    /// `pendingReceiveNotifyCount` entries (deduplicated by `dirty`, so at most `maxPorts`).
    let pendingReceiveNotify = UnsafeMutableBufferPointer<PortID>.allocate(capacity: Bridge.maxPorts)
    var pendingReceiveNotifyCount = 0
    /// Whether a port is in `pendingReceiveNotify`, by port id.
    let dirty = UnsafeMutableBufferPointer<Bool>.allocate(capacity: Bridge.maxPorts)
    /// UDP datagrams the router delivered to local services, handled after the router returns.
    /// Changed only whole (see `portTable`).
    var localDeliveries: [(datagram: LocalUDPDatagram, payload: [UInt8])] = []
    let dhcpScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
    /// Offers held for an ARP probe, over every DHCP server: while zero, frames to the router are
    /// not looked at for probe answers (Bridge+DHCP.swift).
    var dhcpProbesInFlight = 0
    /// Each DHCP server's `revision` when the driver last committed its records
    /// (`BridgeOutputs.commitLeases`).
    var committedLeaseRevisions: [UInt64] = []
    /// `BridgeOutputs.commitLeases`, set by `connect`.
    var commitLeases: (Int) -> Void = { _ in }

    /// Called when a guest should be interrupted (`BridgeOutputs.notifyGuest`, set by `connect`).
    var notifyGuest: (PortID) -> Void = { _ in }
    /// Whether `connect` was called.
    var connected = false

    /// Port impairments (Bridge+Impairment.swift): whether a port's frames go through its cable's
    /// link model, by port id — the one branch an unimpaired port pays per frame.
    let impaired = UnsafeMutableBufferPointer<Bool>.allocate(capacity: Bridge.maxPorts)
    /// The links' agenda and random streams, made by the first `impair`; nil until then (and the
    /// per-event paths skip the link model entirely).
    var impairmentAgenda: Simulation?
    /// Each impaired port's cable (A: the device, B: the bridge), by port id; kept when its
    /// impairments are cleared, so frames on the wire still arrive. Changed only whole.
    var impairmentLinks: [Int: PortImpairmentLink] = [:]

    /// Builds the bridge's segments, router and DHCP servers. It opens nothing: the captures
    /// `config.captures` asks for are opened by the driver and added with `addTap`.
    /// - Parameter wanSetup: the resolved WAN endpoint and (simulations) the seed of the WAN's randomness.
    public init(config: BridgeConfig, wanSetup: WANSetup = WANSetup()) throws(EngineError) {
        self.config = config
        dirty.initialize(repeating: false)
        impaired.initialize(repeating: false)
        let switchConfig = LearningSwitch.Configuration(capacity: config.switching.tableSize, agingTime: config.switching.aging)
        if let r = config.router {
            var rc = RouterConfiguration(interfaces: r.interfaces.map { RouterInterface(mac: $0.mac, network: $0.ipv4, mtu: $0.mtu) })
            rc.staticRoutes = r.routes
            wan = try config.wan.map { w throws(EngineError) in try Self.makeWAN(w, router: r, routerConfiguration: &rc, setup: wanSetup) }
            do { router = try Router(rc) } catch { throw EngineError.router("\(error)") }
            var list: [Segment] = [], routerBackends: [PortBackend] = [], routerSegments: [Int] = []
            for (i, interface) in r.interfaces.enumerated() {
                let port = try addPort(name: "\(interface.name)-router", kind: .router)
                var segment = Segment(name: interface.name, learning: LearningSwitch(configuration: switchConfig), router: (port, i))
                segment.ports.append(port)
                list.append(segment)
                routerBackends.append(.router(interface: i))
                routerSegments.append(i)
                dhcpServers.append(try interface.dhcp.map { d throws(EngineError) in try Self.makeDHCPServer(d, interface: interface) })
                committedLeaseRevisions.append(0)
            }
            segmentList = list
            backends = routerBackends
            segmentOfPort = routerSegments
        } else {
            guard config.wan == nil else { throw EngineError.wan("a WAN needs a router: it is the router's default route") }
            router = nil
            wan = nil
            segmentList = [Segment(name: "lan", learning: LearningSwitch(configuration: switchConfig), router: nil)]
        }
    }

    deinit {
        dhcpScratch.deallocate()
        pendingReceiveNotify.deallocate()
        dirty.deallocate()
        impaired.deallocate()
    }

    /// Registers a port. The table is taken out of `portTable` for the call (see `portTable`).
    func addPort(name: String, kind: PortKind) throws(EngineError) -> PortID {
        var table = takePortTable()
        defer { portTable = table }
        do { return try table.add(name: name, kind: kind) } catch { throw EngineError.port(name: name, "\(error)") }
    }

    /// The port table, moved out of `portTable` (left empty) so that it is uniquely referenced;
    /// the caller puts it back.
    func takePortTable() -> PortTable {
        let table = portTable
        portTable = Self.placeholderPorts
        return table
    }

    /// What `portTable` holds while its value is taken out.
    static let placeholderPorts = PortTable(maxPorts: 1)

    /// Runs `body` on the segments, taken out of `segmentList` for the call (see `portTable`) and
    /// put back after it; `body` must not touch `segmentList`.
    @inline(__always)
    func changeSegments<R>(_ body: (inout [Segment]) -> R) -> R {
        var list = segmentList
        segmentList = []
        defer { segmentList = list }
        return body(&list)
    }

    /// Runs `body` on the learning switch of segment `s` (see `changeSegments`).
    @inline(__always)
    func withLearningSwitch<R>(of s: Int, _ body: (inout LearningSwitch) -> R) -> R {
        changeSegments { body(&$0[s].learning) }
    }

    static func makeDHCPServer(_ d: DHCPConfig, interface: InterfaceConfig) throws(EngineError) -> DHCPServer {
        var c = DHCPServerConfiguration(interface: interface.ipv4, poolStart: d.start, poolEnd: d.end)
        c.leaseTime = d.leaseTime
        c.dnsServers = d.dnsServers
        c.domainName = d.domain
        c.reservations = d.reservations.map { DHCPReservation(.mac($0.mac), address: $0.ipv4) }
        if case .timeout(let t) = d.probe { c.probeTimeout = t }
        do { return try DHCPServer(configuration: c) } catch { throw EngineError.dhcp(interface: interface.name, error.description) }
    }

    // MARK: Ports

    /// The index of the segment named `name`.
    public func segmentIndex(named name: String) -> Int? {
        let list = segmentList
        return list.firstIndex { $0.name == name }
    }

    /// Attaches a guest NIC to segment `segment` (default: the first).
    @discardableResult
    public func attachGuest(name: String, nic: GuestNIC, segment: String? = nil) throws(EngineError) -> PortID {
        try attach(name: name, kind: .virtioGuest, backend: .virtio(nic), segment: segment)
    }

    /// Attaches an external port (a TAP, a simulated link, a test); frames to it go to `transmit`.
    @discardableResult
    public func attachExternal(name: String, kind: PortKind = .tap, segment: String? = nil,
                               transmit: @escaping (UnsafeRawBufferPointer) -> Void) throws(EngineError) -> PortID {
        try attach(name: name, kind: kind, backend: .external(transmit), segment: segment)
    }

    func attach(name: String, kind: PortKind, backend: PortBackend, segment: String?) throws(EngineError) -> PortID {
        let s: Int
        if let segment {
            guard let i = segmentIndex(named: segment) else {
                throw EngineError.port(name: name, "no segment named '\(segment)' (have: \(segmentList.map(\.name).joined(separator: ", ")))")
            }
            s = i
        } else { s = 0 }
        let id = try addPort(name: name, kind: kind)
        let index = Int(id.rawValue)
        var newBackends = backends, newSegmentOfPort = segmentOfPort
        while newBackends.count <= index { newBackends.append(.detached); newSegmentOfPort.append(0) }
        newBackends[index] = backend
        newSegmentOfPort[index] = s
        backends = newBackends
        segmentOfPort = newSegmentOfPort
        changeSegments { $0[s].ports.append(id) }
        return id
    }

    /// Detaches a port: its MAC entries are flushed and it receives nothing more.
    public func detach(_ port: PortID) {
        let index = Int(port.rawValue)
        guard backends.indices.contains(index), !isRouterPort(index) else { return }
        if impairmentLinks[index] != nil { removeImpairment(index) }
        let s = segmentOfPort[index]
        changeSegments { list in
            list[s].ports.removeAll { $0 == port }
            _ = list[s].learning.removePort(port)
        }
        var newBackends = backends
        newBackends[index] = .detached
        backends = newBackends
        var table = takePortTable()
        _ = table.remove(port)
        portTable = table
    }

    func isRouterPort(_ index: Int) -> Bool { if case .router = backends[index] { return true }; return false }

    /// Adds a capture tap (built by the driver, sink and all) to a segment: it sees every frame
    /// entering that segment's switch. The driver closes it when it shuts down (`removeTaps`).
    public func addTap(_ tap: CaptureTap, segment: String) throws(EngineError) {
        guard let s = segmentIndex(named: segment) else {
            throw EngineError.port(name: tap.name, "no segment named '\(segment)' (have: \(segmentList.map(\.name).joined(separator: ", ")))")
        }
        changeSegments { $0[s].taps.append(tap) }
    }

    /// Takes every tap off the segments (they record nothing more) and returns them, in segment
    /// and attachment order, for the driver to close (the last step of docs/driver-contract.md).
    @discardableResult
    public func removeTaps() -> [CaptureTap] {
        changeSegments { list in
            var taps: [CaptureTap] = []
            for s in list.indices {
                taps += list[s].taps
                list[s].taps = []
            }
            return taps
        }
    }

    /// The guest NIC behind `port`, if it is one.
    public func nic(of port: PortID) -> GuestNIC? {
        guard backends.indices.contains(Int(port.rawValue)), case .virtio(let nic) = backends[Int(port.rawValue)] else { return nil }
        return nic
    }

    // MARK: Frames in

    /// Drains up to `limit` frames from a guest's transmit queue into the bridge, then notifies
    /// whoever asked. Returns the number of frames taken.
    @discardableResult
    public func serviceGuestTransmit(_ port: PortID, now: Instant, limit: Int = 256) -> Int {
        guard let nic = nic(of: port) else { return 0 }
        let (frames, notify) = serviceTransmit(of: nic, on: port, now: now, limit: limit)
        if notify { notifyGuest(port) }
        return frames
    }

    /// Drains another queue pair of a multiqueue guest (`nic`) into the guest's port. Frames to the
    /// guest always go to the pair attached with `attachGuest`. Returns the frames taken and
    /// whether that pair's driver asked to be notified.
    public func serviceTransmit(of nic: GuestNIC, on port: PortID, now: Instant, limit: Int = 256) -> (frames: Int, notify: Bool) {
        if impairmentAgenda != nil, let impaired = serviceImpairedTransmit(of: nic, on: port, now: now, limit: limit) { return impaired }
        let batch = nic.transmit(limit: limit) { _, frame in
            self.portTable.countReceived(on: port, bytes: frame.count)
            self.switchFrame(frame, from: port, now: now)
        }
        if batch.dropped > 0 { for _ in 0..<batch.dropped { portTable.countDrop(.tooBig, on: port) } }
        if nic.transmitQueue.isBroken { portTable.countDrop(.brokenQueue, on: port) }
        flushNotifications()
        return (batch.frames, batch.notifyGuest)
    }

    /// A frame arriving from an external port (TAP, link, test).
    public func receive(_ frame: UnsafeRawBufferPointer, from port: PortID, now: Instant) {
        if impairmentAgenda != nil, receiveImpaired(frame, from: port, now: now) { return }
        portTable.countReceived(on: port, bytes: frame.count)
        switchFrame(frame, from: port, now: now)
        flushNotifications()
    }

    /// Taps, learns and forwards one frame that entered the segment of `port`.
    func switchFrame(_ frame: UnsafeRawBufferPointer, from port: PortID, now: Instant) {
        let s = segmentOfPort[Int(port.rawValue)]
        if !segmentList[s].taps.isEmpty { for tap in segmentList[s].taps { tap.record(frame: frame, at: now) } }
        switch withLearningSwitch(of: s, { $0.receive(frame: frame, on: port, now: now) }) {
        case .forward(let out):
            transmit(frame, to: out, now: now)
        case .flood(let except):
            for out in segmentList[s].ports where out != except { transmit(frame, to: out, now: now) }
        case .drop(let reason):
            portTable.countDrop(reason, on: port)
        }
    }

    /// Hands one frame to a port: onto its cable when it is impaired, else to its backend.
    func transmit(_ frame: UnsafeRawBufferPointer, to port: PortID, now: Instant) {
        let index = Int(port.rawValue)
        if impaired[index] { return transmitImpaired(frame, to: index) }
        deliver(frame, to: port, now: now)
    }

    /// Hands one frame to a port's backend (the far end of an impaired port's cable too).
    @inline(__always)
    func deliver(_ frame: UnsafeRawBufferPointer, to port: PortID, now: Instant) {
        let index = Int(port.rawValue)
        switch backends[index] {
        case .virtio(let nic):
            switch nic.receive(frame) {
            case .delivered:
                portTable.countSent(on: port, bytes: frame.count)
                if !dirty[index] {
                    dirty[index] = true
                    pendingReceiveNotify[pendingReceiveNotifyCount] = port
                    pendingReceiveNotifyCount += 1
                }
            case .noBuffers: portTable.countDrop(.noRxBuffer, on: port)
            case .frameTooLarge: portTable.countDrop(.tooBig, on: port)
            case .offloadNotNegotiated: portTable.countDrop(.filtered, on: port)
            case .queueBroken: portTable.countDrop(.brokenQueue, on: port)
            }
        case .router(let interface):
            portTable.countSent(on: port, bytes: frame.count)
            if dhcpProbesInFlight > 0 { noticeAddressClaim(frame, on: interface, now: now) }
            if let router {
                var output = RouterSink(bridge: self, now: now)
                let disposition = router.receive(frame, on: interface, now: now, output: &output)
                outcomes.count(disposition)
            }
            serveLocalDeliveries(now: now)
        case .external(let send):
            portTable.countSent(on: port, bytes: frame.count)
            send(frame)
        case .detached:
            break
        }
    }

    /// Publishes used receive buffers of every guest that got frames, notifying those that asked.
    func flushNotifications() {
        let count = pendingReceiveNotifyCount
        guard count > 0 else { return }
        for i in 0..<count {
            let port = pendingReceiveNotify[i]
            dirty[Int(port.rawValue)] = false
            if let nic = nic(of: port), nic.finishReceiveBatch() { notifyGuest(port) }
        }
        pendingReceiveNotifyCount = 0
    }

    // MARK: Router glue

    /// Frames the router emits enter its segment through its port, like any other frame; frames
    /// (tap) and packets (wireguard, udp: a point-to-point interface) for the WAN go to the WAN.
    struct RouterSink: RouterOutput {
        /// Strong, not `unowned`: an unowned reference pays an atomic check (swift_unownedRetainStrong)
        /// on every use; the sink lives only for one call into the router.
        let bridge: Bridge
        let now: Instant

        mutating func send(_ frame: UnsafeRawBufferPointer, on interface: Int) {
            if let wan = bridge.wan, interface == wan.interface { return wan.transmit(frame: frame, now: now) }
            guard let (port, _) = bridge.segmentList[interface].router else { return }
            bridge.portTable.countReceived(on: port, bytes: frame.count)
            bridge.switchFrame(frame, from: port, now: now)
        }

        mutating func send(packet: PointToPointPacket, on interface: Int) {
            if let wan = bridge.wan, interface == wan.interface { wan.transmit(packet: packet, now: now) }
        }

        mutating func deliver(_ datagram: LocalUDPDatagram, payload: UnsafeRawBufferPointer) {
            var deliveries = bridge.localDeliveries  // changed whole (see `portTable`)
            bridge.localDeliveries = []
            deliveries.append((datagram, Array(payload)))
            bridge.localDeliveries = deliveries
        }
    }

    /// Hands datagrams for local services (DHCP) to their server and sends the replies.
    func serveLocalDeliveries(now: Instant) {
        while !localDeliveries.isEmpty {
            var deliveries = localDeliveries  // changed whole (see `portTable`)
            localDeliveries = []
            let (datagram, payload) = deliveries.removeFirst()
            localDeliveries = deliveries
            guard datagram.destinationPort == DHCP.serverPort, let router,
                  dhcpServers.indices.contains(datagram.interface), dhcpServers[datagram.interface] != nil else { continue }
            let reply = payload.withUnsafeBytes { dhcpServers[datagram.interface]!.receive(datagram: $0, now: now) }
            afterDHCPServer(datagram.interface, router: router, now: now)
            if let reply { sendDHCPReply(reply, on: datagram.interface, router: router, now: now) }
        }
    }

    /// Sends one reply of the DHCP server on `interface` through the router.
    func sendDHCPReply(_ reply: DHCPReply, on interface: Int, router: Router, now: Instant) {
        let destinationMAC: MACAddress
        switch reply.destination {
        case .broadcast: destinationMAC = .broadcast
        case .unicast(_, let mac): destinationMAC = mac
        case .relay(let giaddr):
            guard let mac = router.neighbor(giaddr, on: interface, now: now) else { return }
            destinationMAC = mac
        }
        let ip: IPv4Address
        switch reply.destination {
        case .broadcast: ip = .broadcast
        case .unicast(let a, _), .relay(let a): ip = a
        }
        guard let n = try? reply.message.emit(into: dhcpScratch) else { return }
        var output = RouterSink(bridge: self, now: now)
        try? router.sendUDP(on: interface, sourcePort: DHCP.serverPort, to: ip, port: reply.destination.udpPort,
                            mac: destinationMAC, payload: UnsafeRawBufferPointer(rebasing: dhcpScratch[0..<n]), output: &output)
    }

    // MARK: Timers

    /// The earliest time `poll(now:)` has work: ARP retries, DHCP lease expiry, MAC aging, WAN
    /// timers. Drivers read it through `service(now:)` or `deadline` (Driver.swift).
    func nextDeadline() -> Instant? {
        var deadline = router?.nextDeadline()
        func consider(_ d: Instant?) { if let d, deadline.map({ d < $0 }) ?? true { deadline = d } }
        consider(wan?.nextDeadline())
        for server in dhcpServers { consider(server?.nextDeadline()) }
        for segment in segmentList { consider(segment.learning.nextDeadline()) }
        if let agenda = impairmentAgenda { consider(agenda.nextEventTime) }
        return deadline
    }

    /// Runs every timer that is due at `now`. Drivers call `service(now:)` (Driver.swift).
    func poll(now: Instant) {
        if impairmentAgenda != nil { advanceImpairments(to: now) }
        wan?.poll(now: now)
        if let router {
            var output = RouterSink(bridge: self, now: now)
            router.poll(now: now, output: &output)
        }
        for i in dhcpServers.indices where dhcpServers[i] != nil { dhcpServers[i]!.expire(now: now) }
        finishDHCPProbes(now: now)
        for s in segmentList.indices { _ = withLearningSwitch(of: s) { $0.expire(now: now) } }
        flushNotifications()
    }
}

/// Tally of `RouterDisposition`s: every frame the bridge hands the router lands in exactly one.
public struct RouterOutcomeCounts: Equatable, Sendable {
    public var forwarded: UInt64 = 0, queued: UInt64 = 0, delivered: UInt64 = 0
    public var answered: UInt64 = 0, consumed: UInt64 = 0, dropped: UInt64 = 0

    mutating func count(_ d: RouterDisposition) {
        switch d {
        case .forwarded: forwarded &+= 1
        case .queued: queued &+= 1
        case .delivered: delivered &+= 1
        case .answered: answered &+= 1
        case .consumed: consumed &+= 1
        case .dropped: dropped &+= 1
        }
    }

    public var total: UInt64 { forwarded &+ queued &+ delivered &+ answered &+ consumed &+ dropped }
}

/// Why a bridge could not be built or changed.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case router(String)
    case dhcp(interface: String, String)
    case capture(path: String, String)
    case port(name: String, String)
    case wan(String)

    public var description: String {
        switch self {
        case .router(let m): "router: \(m)"
        case .dhcp(let i, let m): "dhcp on \(i): \(m)"
        case .capture(let p, let m): "capture \(p): \(m)"
        case .port(let n, let m): "port \(n): \(m)"
        case .wan(let m): "wan: \(m)"
        }
    }
}
