// Human-readable lines describing a config, for `sluice check` and logs.

extension BridgeConfig {
    public var summary: [String] {
        var lines: [String] = []
        if let router {
            for i in router.interfaces {
                var line = "segment \(i.name): router \(i.ipv4) mac \(i.mac) mtu \(i.mtu)"
                if let d = i.dhcp {
                    line += "; dhcp \(d.start)–\(d.end) lease \(d.leaseTime)"
                    if !d.dnsServers.isEmpty { line += " dns \(d.dnsServers.map(\.description).joined(separator: ","))" }
                    if !d.reservations.isEmpty { line += " (\(d.reservations.count) reserved)" }
                }
                lines.append(line)
            }
            for r in router.routes { lines.append("route \(r.destination) via \(r.nextHop)") }
        } else {
            lines.append("segment lan: L2 switch only (no router)")
        }
        if let wan { lines.append(wan.summary(nat: router?.nat ?? false)) }
        lines.append("virtio: \(virtio.queues) queue pair(s), mrg-rxbuf \(virtio.mergeableRxBuffers), event-idx \(virtio.eventIndex)")
        lines.append("switch: aging \(switching.aging), table \(switching.tableSize) per segment")
        for c in captures { lines.append("capture \(c.segment) → \(c.file)" + (c.filter.map { " filter \"\($0)\"" } ?? "")) }
        return lines
    }
}

extension WANConfig {
    /// "wan: wireguard 10.200.0.2/24 to 203.0.113.7:51820, mtu 1420, masquerading".
    func summary(nat: Bool) -> String {
        let mode = nat ? "masquerading" : "routed"
        switch self {
        case .wireguard(let w):
            return "wan: wireguard \(w.ipv4) to \(w.endpoint.map(\.description) ?? "(peer's first contact)")"
                + (w.listenPort.map { " from port \($0)" } ?? "") + (w.presharedKey == nil ? "" : " with a pre-shared key")
                + (w.rekeyAfterTime.map { ", rekey after \($0)" } ?? "") + ", mtu \(w.mtu), \(mode)"
        case .udp(let u):
            return "wan: udp \(u.ipv4 ?? UDPWANConfig.linkLocal) to \(u.endpoint)" + (u.listenPort.map { " from port \($0)" } ?? "")
                + ", mtu \(u.mtu), \(mode)"
        case .tap(let t):
            return "wan: tap \(t.device) \(t.ipv4) mac \(t.mac) gateway \(t.gateway), mtu \(t.mtu), \(mode)"
        }
    }
}
