// A scenario's topology built for real: one Engine `Bridge` per bridge node, one network
// namespace per host whose `eth0` is a TAP device served by its bridge, and Sim's link model on
// every cable, driven by the real (monotonic) clock — all on one epoll reactor in this thread.
//
//   netns eth0 ─▶ TAP fd ─▶ cable:<host> a>b (Sim.LinkDirection) ─▶ bridge.receive
//   netns eth0 ◀─ TAP fd ◀─ cable:<host> b>a ◀───────────────────── bridge port transmit
//
// Why not tc-netem on the TAP, or BridgeDaemon's own TAP ports: the kernels this runs on may lack
// sch_netem (Firecracker guests build it out), and netem cannot shape the bridge-to-bridge links
// at all; with the link model in process every impairment of the file works, in both directions,
// with the same seeded random streams (`link:cable:<host>:a>b`, …) as on sim. A Simulation
// instance serves only as the links' agenda: its clock is moved to the real time before each frame
// is offered and whenever the reactor wakes, and the run loop wakes at its next event.
//
// The bridges are driven by the driver contract (Engine's Driver.swift): outputs connected once
// (frames go to each port's closure; no guests, no uplink), `service(now:)` after every reactor
// round, the wake at the earliest deadline it returned; at the end every tap is removed and closed.
import Basics
import BridgeDaemon
import Capture
import Datapath
import Engine
import Foundation
import HostIO
import Sim
import Wire

final class NetnsTopology: LinkModelTopology {
    struct BridgeRuntime {
        let name: String
        let bridge: Bridge
        /// What the bridge's last `service(now:)` returned.
        var deadline: Instant?
    }

    final class HostRuntime {
        let name: String
        let spec: HostNode
        let namespace: NetworkNamespace
        let tap: TAPDevice
        /// The interface name inside the namespace.
        let interface = "eth0"
        let bridge: Int
        let port: PortID
        /// Its cable: A is the namespace, B the bridge port.
        let cable: Link
        var registration: Reactor.Registration?
        /// The address it has now (static, or its DHCP lease's), kept by the run.
        var address: IPv4Network?

        init(name: String, spec: HostNode, namespace: NetworkNamespace, tap: TAPDevice, bridge: Int, port: PortID, cable: Link) {
            self.name = name; self.spec = spec; self.namespace = namespace; self.tap = tap
            self.bridge = bridge; self.port = port; self.cable = cable
        }
    }

    let scenario: Scenario
    let reactor: Reactor
    let clock = MonotonicClock()
    /// The links' agenda and random streams (seeded like the simulator's).
    let simulation: Simulation
    /// Added to the monotonic clock to get wall-clock nanoseconds since 1970: the pcap timestamps,
    /// and the time base of every result.
    let epochOffset: UInt64
    private(set) var bridges: [BridgeRuntime] = []
    private(set) var hosts: [HostRuntime] = []
    private(set) var links: [LinkRuntime] = []
    private(set) var captures: [CaptureRuntime] = []
    /// Bridge-to-bridge links (host cables live on their hosts).
    private var bridgeLinks: [Link] = []
    private let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_600, alignment: 64)
    private var closed = false
    /// Files of this run (the udhcpc script).
    let workDirectory: String

    /// Builds everything; on failure, whatever was made is taken down again.
    init(_ scenario: Scenario, seed: UInt64, captureDirectory: String, log: (String) -> Void) throws(RealBackendError) {
        self.scenario = scenario
        simulation = Simulation(seed: seed)
        do { reactor = try Reactor() } catch { throw RealBackendError("epoll: \(error)") }
        let wall = UInt64(Date().timeIntervalSince1970 * 1e9)
        epochOffset = wall &- clock.now().nanoseconds
        workDirectory = NSTemporaryDirectory() + "sluice-lab-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: captureDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
            try UDHCPClient.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
            chmod(scriptPath, 0o755)
        } catch {
            throw RealBackendError("cannot create \(captureDirectory) or \(workDirectory): \(error.localizedDescription)")
        }
        do throws(RealBackendError) {
            for node in scenario.nodes {
                guard let config = node.bridge else { continue }
                do {
                    let bridge = try Bridge(config: config)
                    bridge.connect(BridgeOutputs())
                    bridges.append(BridgeRuntime(name: node.name, bridge: bridge, deadline: bridge.deadline))
                    _ = try bridge.openConfiguredCaptures(directory: captureDirectory, epochOffsetNanoseconds: epochOffset)
                } catch {
                    throw RealBackendError("bridge \(node.name) (\(node.location)): \(error)")
                }
            }
            for node in scenario.nodes {
                guard let spec = node.host else { continue }
                try addHost(node.name, spec, log: log)
            }
            for link in scenario.links { try addLink(link) }
            for capture in scenario.captures { try addCapture(capture, directory: captureDirectory) }
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        frame.deallocate()
    }

    var scriptPath: String { workDirectory + "/udhcpc.script" }

    func bridgeIndex(_ name: String) -> Int { bridges.firstIndex { $0.name == name }! }

    func host(named name: String) -> HostRuntime? { hosts.first { $0.name == name } }

    /// The monotonic now.
    func now() -> Instant { clock.now() }

    /// A monotonic instant in capture time (wall-clock nanoseconds).
    func captureTime(_ monotonic: Instant) -> Instant { Instant(nanoseconds: monotonic.nanoseconds &+ epochOffset) }

    // MARK: Building

    private func addHost(_ name: String, _ spec: HostNode, log: (String) -> Void) throws(RealBackendError) {
        let namespace = try NetworkNamespace(name: NetworkNamespace.name(for: name))
        // The TAP is made in our namespace under a unique name, then moved and renamed eth0.
        let tap: TAPDevice
        do { tap = try TAPDevice(name: "sl\(getpid())t\(hosts.count)") } catch {
            namespace.delete()
            throw RealBackendError("host \(name): cannot open a TAP device: \(error)")
        }
        let b = bridgeIndex(spec.attachment.bridge)
        let bridge = bridges[b].bridge
        let cable = Link(simulation, name: "cable:\(name)")
        let port: PortID
        do {
            try Subprocess.run(["ip", "link", "set", tap.name, "netns", namespace.name])
            try namespace.ip(["link", "set", tap.name, "name", "eth0"])
            var settings = ["link", "set", "eth0", "address", spec.mac.description]
            if let mtu = spec.mtu { settings += ["mtu", "\(mtu)"] }
            try namespace.ip(settings + ["up"])
            port = try bridge.attachExternal(name: name, kind: .tap, segment: spec.attachment.segment) { frame in
                cable.bToA.send(frame)
            }
        } catch let error as RealBackendError {
            namespace.delete()
            throw RealBackendError("host \(name): \(error)")
        } catch {
            namespace.delete()
            throw RealBackendError("host \(name): \(error)")
        }
        cable.attachB { [unowned self, unowned bridge] frame, _ in bridge.receive(frame, from: port, now: self.clock.now()) }
        cable.attachA { [unowned tap] frame, _ in _ = try? tap.write(frame) }
        let runtime = HostRuntime(name: name, spec: spec, namespace: namespace, tap: tap, bridge: b, port: port, cable: cable)
        do {
            runtime.registration = try reactor.register(tap.descriptor, interest: .read) { [unowned self, unowned runtime] _ in
                self.readFrames(of: runtime)
            }
        } catch {
            namespace.delete()
            throw RealBackendError("host \(name): epoll: \(error)")
        }
        hosts.append(runtime)
        log("\(name): namespace \(namespace.name), eth0 \(spec.mac) on \(spec.attachment)")
    }

    /// Reads what the namespace sent and puts it on the host's cable.
    private func readFrames(of host: HostRuntime) {
        advance()
        for _ in 0..<256 {
            guard let n = try? host.tap.read(into: frame), n > 0 else { break }
            host.cable.aToB.send(UnsafeRawBufferPointer(rebasing: frame[0..<n]))
        }
        service()
    }

    private func addLink(_ spec: ScenarioLink) throws(RealBackendError) {
        let runtime: LinkRuntime
        switch (spec.a, spec.b) {
        case (.host(let h), .bridge), (.bridge, .host(let h)):
            let cable = host(named: h)!.cable
            let hostIsA = spec.a == .host(h)
            runtime = LinkRuntime(spec: spec, forward: hostIsA ? cable.aToB : cable.bToA, reverse: hostIsA ? cable.bToA : cable.aToB)
        case (.bridge(let x), .bridge(let y)):
            let link = Link(simulation, name: spec.name ?? "links[\(spec.index)]")
            let portName = "link:\(spec.name ?? String(spec.index))"
            let bridgeX = bridges[bridgeIndex(x.bridge)].bridge, bridgeY = bridges[bridgeIndex(y.bridge)].bridge
            let portX: PortID, portY: PortID
            do {
                portX = try bridgeX.attachExternal(name: portName, kind: .tap, segment: x.segment) { link.aToB.send($0) }
                portY = try bridgeY.attachExternal(name: portName, kind: .tap, segment: y.segment) { link.bToA.send($0) }
            } catch {
                throw RealBackendError("\(spec.displayName): \(error)")
            }
            link.attachB { [unowned self, unowned bridgeY] frame, _ in bridgeY.receive(frame, from: portY, now: self.clock.now()) }
            link.attachA { [unowned self, unowned bridgeX] frame, _ in bridgeX.receive(frame, from: portX, now: self.clock.now()) }
            bridgeLinks.append(link)
            runtime = LinkRuntime(spec: spec, forward: link.aToB, reverse: link.bToA)
        case (.wan, _), (_, .wan):
            throw RealBackendError("\(spec.displayName): WAN links run on the sim backend only")  // refused by the parser
        case (.host, .host):
            throw RealBackendError("\(spec.displayName) joins two hosts")  // refused by the parser
        }
        links.append(runtime)
    }

    private func addCapture(_ spec: ScenarioCapture, directory: String) throws(RealBackendError) {
        do {
            let capture = try CaptureRuntime(spec, directory: directory, epochOffset: epochOffset)
            captures.append(capture)
            try bridges[bridgeIndex(spec.at.bridge)].bridge.addTap(capture.tap, segment: spec.at.segment)
        } catch {
            throw RealBackendError("capture \(spec.name): \(error)")
        }
    }

    // MARK: Running

    /// Moves the links' clock to now, delivering every frame due.
    func advance() {
        try? simulation.run(until: clock.now())
    }

    /// Delivers due frames and services every bridge (after every reactor round).
    func service() {
        advance()
        let now = clock.now()
        for i in bridges.indices { bridges[i].deadline = bridges[i].bridge.service(now: now) }
        advance()
    }

    /// When the reactor must wake next for the bridges and links (nil: nothing pending).
    func nextWake() -> Instant? {
        var wake: Instant?
        for b in bridges {
            if let d = b.deadline { wake = min(wake ?? d, d) }
        }
        // The next frame due off a link.
        if let t = simulation.nextEventTime { wake = min(wake ?? t, t) }
        return wake
    }

    /// Cuts or restores both directions of link `index`.
    func setLink(_ index: Int, up: Bool) {
        advance()
        links[index].setUp(up)
    }

    /// Changes a link's impairments from now on.
    func impair(_ action: ImpairAction) {
        advance()
        links[action.link].impair(action)
    }

    /// Writes a frame straight into a host's NIC (what `replay` into a host does).
    func inject(_ frame: UnsafeRawBufferPointer, into host: HostRuntime) {
        _ = try? host.tap.write(frame)
    }

    // MARK: Addresses

    /// Where traffic from `sender` to `target` goes now; nil (with why) if it has no address yet.
    func resolve(_ target: TrafficTarget, from sender: String) -> (address: IPv4Address?, why: String) {
        scenario.resolve(target, from: sender) { host(named: $0)?.address?.address }
    }

    // MARK: Taking down

    /// Closes the captures, the TAP devices and the namespaces. Safe to call twice.
    func close() {
        guard !closed else { return }
        closed = true
        for h in hosts {
            if let r = h.registration { reactor.deregister(r) }
            h.registration = nil
        }
        // Every tap is on a bridge: the scenario's captures and the bridges' configured ones.
        for b in bridges { for tap in b.bridge.removeTaps() { try? tap.close() } }
        for h in hosts { h.namespace.delete() }
        try? FileManager.default.removeItem(atPath: workDirectory)
    }

    // MARK: Counters

    func counters() -> [CounterTable] {
        var tables: [CounterTable] = []
        for b in bridges { tables += CounterTable.ports(of: b.bridge, named: b.name) }
        for l in links { tables += l.counterTables }
        for c in captures { tables.append(c.counterTable) }
        return tables
    }
}
