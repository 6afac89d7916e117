// Every counter of a bridge as metrics (docs/operating.md, metrics): ports and their drops by
// reason, each segment's switch, the router, each DHCP server and its leases, the WAN, its NAT
// and WireGuard device. The driver adds what only it knows (vhost-user connections, sockets).
import Basics
import Datapath
import Wire
import WireGuard

extension Bridge {
    /// Adds the bridge's counters and gauges to `m`.
    public func addMetrics(to m: inout MetricsExposition) {
        m.add("sluice_bridge_info", .gauge, help: "The bridge (value 1), named by its configuration", labels: [("bridge", config.name)], value: 1)
        let segments = segmentList
        var segmentName: [PortID: String] = [:]
        for s in segments { for p in s.ports { segmentName[p] = s.name } }
        m.add("sluice_ports", .gauge, help: "Ports attached to the bridge", value: UInt64(ports.count))
        for port in ports {
            let labels = [("port", port.name), ("kind", "\(port.kind)"), ("segment", segmentName[port.id] ?? "")]
            m.addCounters(port.counters, prefix: "sluice_port", what: "Port", labels: labels)
        }
        for s in segments {
            m.add("sluice_switch_mac_entries", .gauge, help: "MAC addresses in a segment's table", labels: [("segment", s.name)],
                  value: UInt64(s.learning.count))
            m.addCounters(s.learning.statistics, prefix: "sluice_switch", what: "Learning switch", labels: [("segment", s.name)])
        }
        if let router {
            m.addCounters(router.counters, prefix: "sluice_router", what: "Router")
            m.add("sluice_router_arp_cache_entries", .gauge, help: "Router ARP cache entries", value: UInt64(router.arpCacheCount))
            m.add("sluice_router_arp_queued_packets", .gauge, help: "Packets waiting for ARP resolution", value: UInt64(router.arpQueuedCount))
            m.addCounters(outcomes, prefix: "sluice_router_outcomes", what: "Frames handed to the router, by outcome")
        }
        for (i, server) in dhcpServers.enumerated() {
            guard let server, segments.indices.contains(i) else { continue }
            let segment = ("segment", segments[i].name)
            var byState: [String: UInt64] = [:]
            for lease in server.leases { byState["\(lease.state)", default: 0] += 1 }
            for state in ["offered", "bound", "released", "expired", "declined"] {
                m.add("sluice_dhcp_leases", .gauge, help: "DHCP lease records by state", labels: [segment, ("state", state)], value: byState[state] ?? 0)
            }
            for type in DHCPMessageType.rfc2131Types {
                m.add("sluice_dhcp_received_total", .counter, help: "DHCP messages received by type", labels: [segment, ("type", "\(type)")],
                      value: server.counters.received(type))
            }
            for type in DHCPMessageType.rfc2131Types {
                m.add("sluice_dhcp_sent_total", .counter, help: "DHCP messages sent by type", labels: [segment, ("type", "\(type)")],
                      value: server.counters.sent(type))
            }
            m.addCounters(server.counters, prefix: "sluice_dhcp", what: "DHCP server", labels: [segment])
        }
        if let wan {
            m.addCounters(wan.counters, prefix: "sluice_wan", what: "WAN")
            if let nat = wan.nat {
                m.add("sluice_nat_mappings", .gauge, help: "NAT mappings in the table", value: UInt64(nat.mappingCount))
                m.add("sluice_nat_sessions", .gauge, help: "NAT sessions in the table", value: UInt64(nat.sessionCount))
                m.addCounters(nat.counters, prefix: "sluice_nat", what: "NAT")
            }
            if let tunnel = wan.tunnel {
                var sessions: UInt64 = 0
                for peer in tunnel.peerIDs where tunnel.status(of: peer).hasSession { sessions += 1 }
                m.add("sluice_wireguard_peers", .gauge, help: "WireGuard peers", value: UInt64(tunnel.peerIDs.count))
                m.add("sluice_wireguard_sessions", .gauge, help: "WireGuard peers with a current session", value: sessions)
                m.addCounters(tunnel.counters, prefix: "sluice_wireguard", what: "WireGuard")
            }
        }
    }
}
