// Live reconfiguration of the router (`sluice bridge --reload`): static routes replaced while
// the router runs. Interfaces (addresses, MACs, MTUs) cannot change live: the engine refuses such
// a reload before it reaches the router (Engine's BridgeReconfiguration.swift).

extension Router {
    /// Replaces the static routes (the default gateway and interfaces stay): the new routing
    /// table takes effect with the next packet. ARP cache and queued packets are kept. Throws
    /// the first reason the routes cannot work, leaving the router unchanged.
    public func replaceStaticRoutes(_ routes: [StaticRoute]) throws(RouterConfigurationError) {
        var next = configuration
        next.staticRoutes = routes
        try next.validate()
        currentConfiguration = next
        table = RoutingTable(next)
    }

    /// Whether `routes` would be accepted by `replaceStaticRoutes` (nothing changes).
    public func validateStaticRoutes(_ routes: [StaticRoute]) throws(RouterConfigurationError) {
        var next = configuration
        next.staticRoutes = routes
        try next.validate()
    }
}
