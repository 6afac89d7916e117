// Lab room, replay: what became of replayed frames, summed over a run's bridges and counted
// under the engine's own reasons (port, router, NAT, WAN and WireGuard drop reasons), plus the
// frames a replay could not hand to its target at all (a WAN takes UDP datagrams only). Shown at
// the end of `sluice replay` and as a table of the report.
import Basics
import Engine
import Wire

/// Where a replay into a WAN hands its frames: the UDP payload of each IPv4/UDP frame to the
/// WAN's datagram receive path (WireGuard, UDP WANs), from the WAN's peer when the run knows it
/// (else from the frame's own source); a TAP WAN takes the frames as they are.
final class ReplayWANInput {
    let bridge: Bridge
    /// The peer the datagrams come from (nil: each frame's own source).
    let peer: SocketAddressV4?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_600, alignment: 16)
    /// Frames that were not an IPv4/UDP datagram (checksums and lengths right) for a datagram WAN.
    private(set) var notDatagrams: UInt64 = 0

    init(bridge: Bridge, peer: SocketAddressV4?) { self.bridge = bridge; self.peer = peer }
    deinit { buffer.deallocate() }

    func receive(_ frame: UnsafeRawBufferPointer, now: Instant) {
        guard let wan = bridge.wan, frame.count <= buffer.count else { notDatagrams &+= 1; return }
        if wan.kind == .tap {
            buffer.copyMemory(from: frame)
            return bridge.receiveWANFrame(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<frame.count]), now: now)
        }
        guard let parsed = try? IPv4Frame.parse(frame), parsed.ip.protocol == .udp, !parsed.ip.isFragment,
              parsed.payloadRange.upperBound <= frame.count,
              let udp = try? UDPHeader(parsing: frame.slice(parsed.payloadRange), source: parsed.ip.source, destination: parsed.ip.destination)
        else { notDatagrams &+= 1; return }
        let payload = frame.slice(parsed.payloadRange).slice(udp.payloadRange)
        buffer.copyMemory(from: payload)
        let source = peer ?? SocketAddressV4(address: parsed.ip.source, port: udp.sourcePort)
        bridge.receiveWANDatagram(buffer, count: payload.count, from: source, now: now)
    }
}

enum ReplayOutcome {
    /// "replay outcomes": frames played, then per bridge what its switch, router, NAT, WAN and
    /// WireGuard did and dropped by reason (nonzero rows only), then frames no target took.
    static func table(played: Int, bridges: [(name: String, bridge: Bridge)], notDatagrams: UInt64) -> CounterTable {
        var rows: [CounterTable.Row] = [.init("frames played", played)]
        func add(_ name: String, _ value: UInt64) { if value != 0 { rows.append(.init(name, Int(clamping: value))) } }
        for (name, bridge) in bridges {
            add("\(name) delivered to guests", bridge.ports.filter { $0.kind == .virtioGuest }.reduce(0) { $0 &+ $1.counters.txPackets })
            for port in bridge.ports {
                for (reason, count) in port.counters.drops.nonzero { add("\(name) port \(port.name) drop \(reason)", count) }
            }
            if let router = bridge.router {
                let o = bridge.routerOutcomes
                add("\(name) router forwarded", o.forwarded)
                add("\(name) router delivered", o.delivered)
                add("\(name) router answered", o.answered)
                add("\(name) router queued for ARP", o.queued)
                for (reason, count) in router.counters.drops.nonzero { add("\(name) router drop \(reason)", count) }
            }
            guard let wan = bridge.wan else { continue }
            if let nat = wan.nat {
                add("\(name) nat outbound", nat.counters.outboundTranslated)
                add("\(name) nat inbound", nat.counters.inboundTranslated)
                for (reason, count) in nat.counters.drops.nonzero { add("\(name) nat drop \(reason)", count) }
            }
            if let tunnel = wan.tunnel {
                add("\(name) wireguard encrypted", wan.counters.txPackets)
                add("\(name) wireguard decrypted", wan.counters.rxPackets)
                for (reason, count) in tunnel.counters.drops.nonzero { add("\(name) wireguard drop \(reason)", count) }
            } else {
                add("\(name) wan sent", wan.counters.txPackets)
                add("\(name) wan received", wan.counters.rxPackets)
            }
            for (reason, count) in wan.counters.drops.nonzero { add("\(name) wan drop \(reason)", count) }
        }
        add("replay drop not-a-udp-datagram (into a wan)", notDatagrams)
        return CounterTable(title: "replay outcomes", rows: rows)
    }
}
