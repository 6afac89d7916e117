// A scenario's topology built in the simulator: one Engine `Bridge` per bridge node (registered
// as a SimNode), one `SimulatedGuest` per host plugged into its bridge's virtio port, a Sim
// `Link` per bridge-to-bridge link, and a capture tap (pcap file) per capture. Wiring follows
// the Sim room's contract (Sources/Sim/Sim.swift): every event that hands a bridge a frame
// touches its node; a notification is handled as its own event. The bridges are driven through
// the driver contract (Engine's Driver.swift, docs/driver-contract.md): outputs connected once,
// the node's timer armed at `deadline` after every event that touched it and run as an event of
// its own with `service(now:)`; the taps removed and closed at the end.
import Basics
import BridgeDaemon
import Capture
import Datapath
import Engine
import Foundation
import HostStack
import Sim
import Virtio
import Wire

/// A bridge as a simulation node: its timer is the contract's deadline, and running it is
/// `service(now:)` (whose next deadline the simulation reads again: the node is touched).
final class BridgeNode: SimNode {
    let bridge: Bridge
    init(_ bridge: Bridge) { self.bridge = bridge }
    func nextDeadline() -> Instant? { bridge.deadline }
    func poll(now: Instant) { _ = bridge.service(now: now) }
}

/// Why a topology could not be built.
struct SimSetupError: Error, CustomStringConvertible {
    var description: String
}

final class SimTopology: LinkModelTopology {
    struct BridgeRuntime {
        let name: String
        let bridge: Bridge
        let node: SimNodeID
        /// Guests by port (looked up on every notification).
        var guests: [PortID: SimulatedGuest] = [:]
    }

    struct HostRuntime {
        let name: String
        let spec: HostNode
        let guest: SimulatedGuest
        let bridge: Int
        let port: PortID
    }

    let scenario: Scenario
    let simulation: Simulation
    private(set) var bridges: [BridgeRuntime] = []
    private(set) var hosts: [HostRuntime] = []
    private(set) var links: [LinkRuntime] = []
    private(set) var captures: [CaptureRuntime] = []
    /// Indices into `bridges` and `hosts` by name, and into `hosts` by the guest's node: every
    /// lookup by name is resolved here, never by a scan.
    private var bridgeByName: [String: Int] = [:]
    private var hostByName: [String: Int] = [:]
    private var hostByNode: [SimNodeID: Int] = [:]
    /// The bridges' ends of WAN links (they frame and unframe the WANs' datagrams).
    var wanEnds: [SimWANEnd] = []

    /// Builds the topology for `scenario` with `seed`; captures go to `captureDirectory`.
    init(_ scenario: Scenario, seed: UInt64, captureDirectory: String) throws(SimSetupError) {
        self.scenario = scenario
        simulation = Simulation(seed: seed)
        do {
            try FileManager.default.createDirectory(atPath: captureDirectory, withIntermediateDirectories: true)
        } catch {
            throw SimSetupError(description: "cannot create \(captureDirectory): \(error.localizedDescription)")
        }
        for node in scenario.nodes {
            guard let config = node.bridge else { continue }
            let bridge: Bridge
            let wanSetup = WANSetup(random: simulation.random("bridge:\(node.name):wan"))
            do {
                bridge = try Bridge(config: config, wanSetup: wanSetup)
                _ = try bridge.openConfiguredCaptures(directory: captureDirectory, epochOffsetNanoseconds: 0)
            } catch {
                throw SimSetupError(description: "bridge \(node.name) (\(node.location)): \(error)")
            }
            let id = simulation.add(BridgeNode(bridge), name: "bridge:\(node.name)")
            bridgeByName[node.name] = bridges.count
            bridges.append(BridgeRuntime(name: node.name, bridge: bridge, node: id))
        }
        for node in scenario.nodes {
            guard let spec = node.host else { continue }
            try addHost(node.name, spec)
        }
        for link in scenario.links { try addLink(link) }
        for capture in scenario.captures { try addCapture(capture, directory: captureDirectory) }
        // The outputs, once everything they go to exists: guests' notifications, the WAN's link end.
        for (index, b) in bridges.enumerated() {
            var outputs = BridgeOutputs(notifyGuest: { [unowned self] port in
                self.bridges[index].guests[port]?.notify()
            })
            if let end = wanEnds.first(where: { $0.bridge === b.bridge }) {  // kept alive by `wanEnds`
                outputs.sendWANDatagram = { [unowned end] bytes, to in end.send(bytes, to: to) }
                outputs.transmitWANFrame = { [unowned end] frame in end.transmit(frame) }
            }
            b.bridge.connect(outputs)
        }
    }

    /// Takes every tap off the bridges (the scenario's captures and the bridges' configured ones)
    /// and closes it: the end of the run.
    func closeCaptures() {
        for b in bridges { for tap in b.bridge.removeTaps() { try? tap.close() } }
        for c in captures { try? c.tap.close() }  // those on links
    }

    func bridgeIndex(_ name: String) -> Int { bridgeByName[name]! }

    func host(named name: String) -> HostRuntime? { hostByName[name].map { hosts[$0] } }

    /// The index in `hosts` of the host whose guest is `node`, if it is one.
    func hostIndex(ofNode node: SimNodeID) -> Int? { hostByNode[node] }

    private func addHost(_ name: String, _ spec: HostNode) throws(SimSetupError) {
        var configuration = HostConfiguration()
        if let mtu = spec.mtu { configuration.mtu = mtu }
        let b = bridgeIndex(spec.attachment.bridge)
        let guest: SimulatedGuest
        let port: PortID
        do {
            // Transmit slots sized for the host's largest frame (its MTU, an Ethernet header and a
            // VLAN tag), not the driver's 64 KiB default: a thousand guests then hold ~1 MB each,
            // not 17 MB of address space that calloc may have to zero.
            var driver = InMemoryGuestDriver.Configuration()
            driver.maximumTransmitFrame = configuration.mtu + 18
            guest = try SimulatedGuest(simulation, name: name, mac: spec.mac, host: configuration, driver: driver)
            port = try bridges[b].bridge.attachGuest(name: name, nic: try guest.makeDevice(), segment: spec.attachment.segment)
        } catch {
            throw SimSetupError(description: "host \(name): \(error)")
        }
        let bridge = bridges[b].bridge, bridgeNode = bridges[b].node
        guest.kick = { [unowned bridge, unowned simulation] now in
            bridge.serviceGuestTransmit(port, now: now)
            simulation.touch(bridgeNode)
        }
        bridges[b].guests[port] = guest
        hostByName[name] = hosts.count
        hostByNode[guest.node] = hosts.count
        hosts.append(HostRuntime(name: name, spec: spec, guest: guest, bridge: b, port: port))
    }

    private func addLink(_ spec: ScenarioLink) throws(SimSetupError) {
        let runtime: LinkRuntime
        switch (spec.a, spec.b) {
        case (.host(let h), .bridge), (.bridge, .host(let h)):
            // The guest's cable is the link: A is the host's stack, B its NIC on the bridge.
            let guest = host(named: h)!.guest
            let hostIsA = spec.a == .host(h)
            runtime = LinkRuntime(spec: spec,
                                  forward: hostIsA ? guest.cable.aToB : guest.cable.bToA,
                                  reverse: hostIsA ? guest.cable.bToA : guest.cable.aToB)
        case (.bridge(let x), .bridge(let y)):
            let bx = bridgeIndex(x.bridge), by = bridgeIndex(y.bridge)
            let link = Link(simulation, name: spec.name ?? "links[\(spec.index)]")
            let portName = "link:\(spec.name ?? String(spec.index))"
            let bridgeX = bridges[bx].bridge, bridgeY = bridges[by].bridge
            let portX: PortID, portY: PortID
            let taps = LinkTaps()
            do {
                portX = try bridgeX.attachExternal(name: portName, kind: .tap, segment: x.segment) { [unowned simulation] frame in
                    taps.record(frame, at: simulation.now)
                    link.aToB.send(frame)
                }
                portY = try bridgeY.attachExternal(name: portName, kind: .tap, segment: y.segment) { [unowned simulation] frame in
                    taps.record(frame, at: simulation.now)
                    link.bToA.send(frame)
                }
            } catch {
                throw SimSetupError(description: "\(spec.displayName): \(error)")
            }
            link.attachB(touching: bridges[by].node) { [unowned bridgeY] frame, now in bridgeY.receive(frame, from: portY, now: now) }
            link.attachA(touching: bridges[bx].node) { [unowned bridgeX] frame, now in bridgeX.receive(frame, from: portX, now: now) }
            runtime = LinkRuntime(spec: spec, forward: link.aToB, reverse: link.bToA, taps: taps)
        case (.wan(let x), .wan(let y)):
            runtime = try addWANLink(spec, x, y)
        case (.wan, _), (_, .wan):
            throw SimSetupError(description: "\(spec.displayName) joins a WAN to something else")  // refused by the parser
        case (.host, .host):
            throw SimSetupError(description: "\(spec.displayName) joins two hosts")  // refused by the parser
        }
        links.append(runtime)
    }

    private func addCapture(_ spec: ScenarioCapture, directory: String) throws(SimSetupError) {
        do {
            let capture = try CaptureRuntime(spec, directory: directory, epochOffset: 0)
            captures.append(capture)
            if let link = spec.link {
                links[link.index].taps.taps.append(capture.tap)
            } else {
                try bridges[bridgeIndex(spec.at.bridge)].bridge.addTap(capture.tap, segment: spec.at.segment)
            }
        } catch {
            throw SimSetupError(description: "capture \(spec.name): \(error)")
        }
    }

    // MARK: Changing links

    func setLink(_ index: Int, up: Bool) { links[index].setUp(up) }

    func impair(_ action: ImpairAction) { links[action.link].impair(action) }

    // MARK: Addresses

    /// Where traffic from `sender` to `target` goes now; nil (with why) if it has no address yet.
    func resolve(_ target: TrafficTarget, from sender: String) -> (address: IPv4Address?, why: String) {
        scenario.resolve(target, from: sender) { host(named: $0)?.guest.host.address?.address }
    }

    /// The host whose address is `address` now (for flows sent to an address).
    func host(withAddress address: IPv4Address) -> HostRuntime? {
        hosts.first { $0.guest.host.address?.address == address }
    }
}
