// The daemon's counters beside the bridge's (Engine's Bridge+Metrics.swift): vhost-user
// connections, the WAN uplink's sockets, reloads, request sockets, lease database writes, log
// lines held back.
import Engine
import Foundation

extension BridgeDaemon {
    /// Every counter, bridge and daemon.
    func metrics() -> MetricsExposition {
        var m = MetricsExposition()
        bridge.addMetrics(to: &m)
        for (i, server) in servers.enumerated() {
            m.add("sluice_vhost_user_connections", .gauge, help: "Guests connected to a vhost-user socket",
                  labels: [("socket", config.vhostUser[i].path), ("segment", config.vhostUser[i].segment)], value: UInt64(server.guestIDs.count))
        }
        m.add("sluice_vhost_user_connections_total", .counter, help: "Guest connections accepted on every vhost-user socket", value: vhostConnections)
        m.add("sluice_vhost_user_disconnections_total", .counter, help: "Guests that disconnected", value: vhostDisconnections)
        if let u = wanUplink {
            m.add("sluice_wan_uplink_send_blocked_total", .counter, help: "WAN datagrams or frames the kernel would not take", value: u.blocked)
            m.add("sluice_wan_uplink_send_errors_total", .counter, help: "WAN send errors", value: u.errors)
            m.add("sluice_wan_uplink_receive_skipped_total", .counter, help: "WAN datagrams skipped (not IPv4, truncated)", value: u.receiveSkipped)
        }
        m.add("sluice_reloads_total", .counter, help: "Configuration reloads by result", labels: [("result", "applied")], value: reloadsApplied)
        m.add("sluice_reloads_total", .counter, help: "Configuration reloads by result", labels: [("result", "refused")], value: reloadsRefused)
        m.add("sluice_metrics_scrapes_total", .counter, help: "GET /metrics requests answered", value: metricsScrapes)
        m.add("sluice_requests_refused_total", .counter, help: "Request connections closed at accept (too many open)", value: requestsRefused)
        if service.leaseDatabase != nil {
            let help = "Writes to the lease database: a change's lines appended, or a whole snapshot (start, compaction)"
            m.add("sluice_lease_database_writes_total", .counter, help: help, labels: [("kind", "append")], value: service.leaseAppends)
            m.add("sluice_lease_database_writes_total", .counter, help: help, labels: [("kind", "snapshot")], value: service.leaseSnapshots)
        }
        m.add("sluice_log_lines_suppressed_total", .counter, help: "Log lines held back by the rate limiter", value: limiter.totalSuppressed)
        return m
    }

    /// Every counter in the Prometheus text format.
    public func metricsText() -> String { metrics().text }

    /// Every counter as one JSON object (`sluice bridge --stats --json`), with the bridge's name,
    /// connected guests and DHCP leases.
    public func statisticsJSON() -> String {
        var leases: [String] = []
        for (i, server) in bridge.dhcpServers.enumerated() {
            guard let server else { continue }
            for lease in server.leases {
                leases.append("{\"segment\":\(JSONText.string(bridge.segments[i].name)),\"address\":\"\(lease.address)\","
                              + "\"state\":\"\(lease.state)\",\"client\":\(JSONText.string("\(lease.client)"))}")
            }
        }
        let guests = servers.reduce(0) { $0 + $1.guestIDs.count }
        return metrics().json(extra: [("bridge", JSONText.string(config.name)), ("guests", "\(guests)"),
                                      ("leases", "[" + leases.joined(separator: ",") + "]")])
    }
}
