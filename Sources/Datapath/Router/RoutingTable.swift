// The forwarding table (RFC 1812 §5.2.4): connected networks, static routes (via a gateway, or
// out of a point-to-point interface) and a default route, searched by longest prefix match.
import Wire

/// Where a datagram goes next: out of `interface`, to `gateway` or (if nil) straight to its
/// destination. On a point-to-point interface the next hop is always the other end.
public struct RouteDecision: Hashable, Sendable {
    public var interface: Int
    public var gateway: IPv4Address?
    /// The neighbor to resolve with ARP for `destination` (Ethernet).
    @inlinable public func nextHop(for destination: IPv4Address) -> IPv4Address { gateway ?? destination }
}

/// A longest-prefix-match table. Small (one entry per interface and route), so a linear scan of
/// entries sorted longest prefix first is both fast and allocation-free.
struct RoutingTable {
    struct Entry {
        var prefix: UInt32          // network bits, host bits zero
        var mask: UInt32
        var prefixLength: Int
        var decision: RouteDecision
    }

    /// Longest prefix first; among equal prefixes, connected before static, then configuration order.
    private(set) var entries: [Entry] = []

    init(_ configuration: RouterConfiguration) {
        var all: [Entry] = []
        for (i, interface) in configuration.interfaces.enumerated() {
            let n = interface.network
            all.append(Entry(prefix: n.address.rawValue & n.mask, mask: n.mask, prefixLength: n.prefixLength,
                             decision: RouteDecision(interface: i, gateway: nil)))
        }
        var routes = configuration.staticRoutes
        if let gateway = configuration.defaultGateway {
            routes.append(StaticRoute(destination: IPv4Network(address: .any, prefixLength: 0)!, gateway: gateway))
        }
        for route in routes {
            let decision: RouteDecision
            switch route.nextHop {
            case .gateway(let gateway):
                // validate() has checked that each gateway lies on a connected network.
                guard let i = configuration.interfaces.firstIndex(where: { $0.network.contains(gateway) }) else { continue }
                decision = RouteDecision(interface: i, gateway: gateway)
            case .interface(let i):
                decision = RouteDecision(interface: i, gateway: nil)
            }
            let n = route.destination
            all.append(Entry(prefix: n.address.rawValue & n.mask, mask: n.mask, prefixLength: n.prefixLength, decision: decision))
        }
        // Stable sort by prefix length, longest first (enumerated offset breaks ties).
        entries = all.enumerated().sorted { a, b in
            a.element.prefixLength != b.element.prefixLength ? a.element.prefixLength > b.element.prefixLength : a.offset < b.offset
        }.map(\.element)
    }

    /// The most specific route to `destination`, or nil.
    @inline(__always) func lookup(_ destination: IPv4Address) -> RouteDecision? {
        for entry in entries where destination.rawValue & entry.mask == entry.prefix { return entry.decision }
        return nil
    }
}
