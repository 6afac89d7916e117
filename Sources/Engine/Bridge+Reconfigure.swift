// The "reconfigure" decision (docs/operating.md, reload): a `BridgeReconfiguration` applied
// by the bridge at one point in time, between two events, like any other input. Everything that
// can fail is checked before anything changes, so a reload is applied whole or not at all.
// Guests stay attached, learned MACs, ARP entries, NAT mappings, WireGuard sessions and DHCP
// leases stay.
import Basics
import Capture
import Datapath
import Wire

extension Bridge {
    /// Applies `change` at `now`. `addedTaps` are the taps the driver opened for
    /// `change.capturesAdded` (in that order); `wanEndpoint` is `change.wanEndpoint` resolved.
    /// Returns the taps of `change.capturesRemoved`, taken off their segments, for the driver to
    /// close. Throws (changing nothing) when a part cannot be applied.
    public func reconfigure(_ change: BridgeReconfiguration, addedTaps: [CaptureTap] = [], wanEndpoint: SocketAddressV4? = nil,
                            now: Instant) throws(EngineError) -> [CaptureTap] {
        // 1. Prepare and check everything.
        var servers = dhcpServers
        if let routerConfig = change.config.router {
            for (i, dhcp) in change.dhcp.sorted(by: { $0.key < $1.key }) {
                guard servers.indices.contains(i) else { throw .router("no interface \(i)") }
                let interface = routerConfig.interfaces[i]
                guard let dhcp else { servers[i] = nil; continue }
                let fresh = try Self.makeDHCPServer(dhcp, interface: interface)
                if let running = servers[i] {
                    do { servers[i] = try running.reconfigured(fresh.configuration) } catch { throw .dhcp(interface: interface.name, error.description) }
                } else {
                    servers[i] = fresh
                }
            }
        }
        var routes: [StaticRoute]?
        if let newRoutes = change.routes, let router {
            // The WAN's own route (out of its point-to-point interface) stays after the configured ones.
            let wanRoutes = router.configuration.staticRoutes.filter { route in
                if case .interface(let i) = route.nextHop, i == wan?.interface { return true }
                return false
            }
            routes = newRoutes + wanRoutes
            do { try router.validateStaticRoutes(routes!) } catch { throw .router("\(error)") }
        }
        guard addedTaps.count == change.capturesAdded.count else {
            throw .capture(path: change.capturesAdded.first?.file ?? "-", "the driver opened \(addedTaps.count) of \(change.capturesAdded.count) new captures")
        }
        for c in change.capturesAdded where segmentIndex(named: c.segment) == nil {
            throw .capture(path: c.file, "no segment named '\(c.segment)'")
        }
        if change.wanEndpoint != nil, wanEndpoint == nil { throw .wan("the new endpoint was not resolved") }

        // 2. Commit: nothing below throws.
        dhcpServers = servers
        if let routes, let router {
            try? router.replaceStaticRoutes(routes)
            if let nat = wan?.nat, let routerConfig = change.config.router {
                nat.setInternalNetworks(routerConfig.interfaces.map(\.ipv4) + routerConfig.routes.map(\.destination))
            }
        }
        if let aging = change.aging {
            for s in segmentList.indices { withLearningSwitch(of: s) { $0.setAgingTime(aging) } }
        }
        var removed: [CaptureTap] = []
        changeSegments { list in
            for c in change.capturesRemoved {
                let name = "\(c.segment):\(c.file)"
                for s in list.indices {
                    removed += list[s].taps.filter { $0.name == name }
                    list[s].taps.removeAll { $0.name == name }
                }
            }
            for (c, tap) in zip(change.capturesAdded, addedTaps) {
                if let s = list.firstIndex(where: { $0.name == c.segment }) { list[s].taps.append(tap) }
            }
        }
        if let wan {
            wan.reconfigurePeer(endpoint: wanEndpoint, keepalive: change.wanKeepalive, now: now)
        }
        config = change.config
        return removed
    }
}
