// A WAN link in the simulator: the internet between two bridges' WANs, as one Sim `Link` with
// its impairments. WireGuard and UDP WANs send datagrams; each end frames them in Ethernet/IPv4/
// UDP from its underlay address and port (what the other side's config calls its `endpoint`), so
// the wire and its captures look like a real uplink, BPF filters like `udp and udp[8] = 4` work,
// and a corrupted frame fails its checksums and is dropped. TAP WANs send their Ethernet frames
// as they are. Captures on a link record every frame put on the wire, both ways, when sent.
import Basics
import Capture
import Engine
import Sim
import Wire

/// One bridge's end of a WAN link.
final class SimWANEnd {
    let bridge: Bridge
    /// Our underlay address and port: the source of our datagrams, and where the peer's must go.
    let local: SocketAddressV4
    let mac: MACAddress, peerMAC: MACAddress
    let out: LinkDirection
    let taps: LinkTaps
    unowned let simulation: Simulation
    var identification: UInt16 = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_600, alignment: 16)
    /// Underlay frames that arrived broken (checksums, lengths) or not for our address and port.
    private(set) var underlayDrops: UInt64 = 0

    init(_ simulation: Simulation, bridge: Bridge, local: SocketAddressV4, mac: MACAddress, peerMAC: MACAddress,
         out: LinkDirection, taps: LinkTaps) {
        self.simulation = simulation; self.bridge = bridge; self.local = local
        self.mac = mac; self.peerMAC = peerMAC; self.out = out; self.taps = taps
    }

    deinit { buffer.deallocate() }

    /// Puts a TAP WAN's frame on the wire as it is (the bridge's `transmitWANFrame`).
    func transmit(_ frame: UnsafeRawBufferPointer) {
        taps.record(frame, at: simulation.now)
        out.send(frame)
    }

    /// Frames a datagram from our underlay endpoint to `to` and puts it on the wire (the
    /// bridge's `sendWANDatagram`).
    func send(_ payload: UnsafeRawBufferPointer, to: SocketAddressV4) {
        identification &+= 1
        let ip = IPv4Header(source: local.address, destination: to.address, protocol: .udp, payloadLength: 0,
                            identification: identification)
        guard let n = try? IPv4Frame.emitUDP(
            into: buffer, ethernet: EthernetHeader(destination: peerMAC, source: mac, etherType: .ipv4), ip: ip,
            udp: UDPHeader(sourcePort: local.port, destinationPort: to.port), payload: payload) else { return }
        let frame = UnsafeRawBufferPointer(buffer.slice(0..<n))
        taps.record(frame, at: simulation.now)
        out.send(frame)
    }

    /// A frame from the wire: unframed and handed to the bridge's WAN.
    func arrive(_ frame: UnsafeRawBufferPointer, now: Instant) {
        guard frame.count <= buffer.count, let wan = bridge.wan else { underlayDrops &+= 1; return }
        if wan.kind == .tap {
            buffer.copyMemory(from: frame)
            bridge.receiveWANFrame(buffer.slice(0..<frame.count), now: now)
            return
        }
        guard let parsed = try? IPv4Frame.parse(frame), parsed.ip.protocol == .udp, parsed.ip.destination == local.address,
              !parsed.ip.isFragment,
              let udp = try? UDPHeader(parsing: frame.slice(parsed.payloadRange), source: parsed.ip.source, destination: local.address),
              udp.destinationPort == local.port else {
            underlayDrops &+= 1
            return
        }
        let payload = frame.slice(parsed.payloadRange).slice(udp.payloadRange)
        buffer.copyMemory(from: payload)
        bridge.receiveWANDatagram(buffer, count: payload.count, from: SocketAddressV4(address: parsed.ip.source, port: udp.sourcePort), now: now)
    }
}

extension SimTopology {
    /// Joins the WANs of bridges `x` (end A) and `y` (end B) with a link.
    func addWANLink(_ spec: ScenarioLink, _ x: String, _ y: String) throws(SimSetupError) -> LinkRuntime {
        let bx = bridgeIndex(x), by = bridgeIndex(y)
        guard let configX = scenario.node(named: x)?.bridge?.wan, let configY = scenario.node(named: y)?.bridge?.wan else {
            throw SimSetupError(description: "\(spec.displayName): both ends need a WAN")  // checked by the parser
        }
        let link = Link(simulation, name: spec.name ?? "links[\(spec.index)]")
        let taps = LinkTaps()
        // Each end's underlay address is where the other sends (its endpoint); a WireGuard end
        // nobody names gets one from 198.18.0.0/15 (RFC 2544), and the peer learns it on contact.
        func underlay(_ own: WANConfig, peer: WANConfig, side: Int) -> SocketAddressV4 {
            if let e = Self.endpoint(of: peer).flatMap(\.socketAddress) { return e }
            return SocketAddressV4(address: IPv4Address(198, 18, UInt8(truncatingIfNeeded: spec.index), UInt8(side)),
                               port: UInt16(Self.listenPort(of: own) ?? 51820))
        }
        // 02:00:5e:00:<link>:<side>, locally administered.
        let macX = MACAddress(rawValue: 0x0200_5E00_0000 | UInt64(spec.index & 0xFF) << 8 | 1)
        let macY = MACAddress(rawValue: 0x0200_5E00_0000 | UInt64(spec.index & 0xFF) << 8 | 2)
        let endX = SimWANEnd(simulation, bridge: bridges[bx].bridge, local: underlay(configX, peer: configY, side: 1),
                             mac: macX, peerMAC: macY, out: link.aToB, taps: taps)
        let endY = SimWANEnd(simulation, bridge: bridges[by].bridge, local: underlay(configY, peer: configX, side: 2),
                             mac: macY, peerMAC: macX, out: link.bToA, taps: taps)
        wanEnds += [endX, endY]
        // WANs with a persistent keepalive handshake when the run starts (WAN.start).
        for (b, config) in [(bx, configX), (by, configY)] {
            guard case .wireguard(let w) = config, w.persistentKeepalive != nil else { continue }
            let bridge = bridges[b].bridge, node = bridges[b].node
            simulation.schedule(at: simulation.now, label: "wan:start:\(bridges[b].name)") { [unowned simulation] in
                bridge.start(now: simulation.now)
                simulation.touch(node)
            }
        }
        link.attachB(touching: bridges[by].node) { [unowned endY] frame, now in endY.arrive(frame, now: now) }
        link.attachA(touching: bridges[bx].node) { [unowned endX] frame, now in endX.arrive(frame, now: now) }
        return LinkRuntime(spec: spec, forward: link.aToB, reverse: link.bToA, taps: taps)
    }

    static func endpoint(of wan: WANConfig) -> Endpoint? {
        switch wan {
        case .wireguard(let w): w.endpoint
        case .udp(let u): u.endpoint
        case .tap: nil
        }
    }

    static func listenPort(of wan: WANConfig) -> Int? {
        switch wan {
        case .wireguard(let w): w.listenPort
        case .udp(let u): u.listenPort
        case .tap: nil
        }
    }
}

/// A bridge's WAN counters (with WireGuard's and the NAT's) for the report.
func wanCounterTable(_ name: String, _ bridge: Bridge) -> CounterTable? {
    guard let wan = bridge.wan else { return nil }
    let c = wan.counters
    var rows: [CounterTable.Row] = [
        .init("tx packets", Int(c.txPackets)), .init("tx bytes", Int(c.txBytes)),
        .init("rx packets", Int(c.rxPackets)), .init("rx bytes", Int(c.rxBytes)),
        .init("tx datagrams", Int(c.txDatagrams)), .init("rx datagrams", Int(c.rxDatagrams)),
    ]
    for (reason, count) in c.drops.nonzero { rows.append(.init("drop \(reason)", Int(count))) }
    if let t = wan.tunnel {
        rows += [.init("wireguard initiations sent", Int(t.counters.initiationsSent)),
                 .init("wireguard sessions", Int(t.counters.sessionsDerived)),
                 .init("wireguard drops", Int(t.counters.drops.total))]
    }
    if let nat = wan.nat {
        rows += [.init("nat outbound", Int(nat.counters.outboundTranslated)), .init("nat inbound", Int(nat.counters.inboundTranslated)),
                 .init("nat mappings", nat.mappingCount)]
        for (reason, count) in nat.counters.drops.nonzero { rows.append(.init("nat drop \(reason)", Int(count))) }
    }
    return CounterTable(title: "\(name) wan (\(wan.kind.rawValue))", rows: rows)
}
