// Live reconfiguration of the NAT (`sluice bridge --reload`): which sources it masquerades, when
// static routes to more internal networks come or go. Mappings already made stay until they time
// out; the external address and port range cannot change live.
import Wire

extension NAT {
    /// Masquerades sources inside `networks` from the next packet on (empty: every source).
    public func setInternalNetworks(_ networks: [IPv4Network]) {
        var next = currentConfiguration
        next.internalNetworks = networks
        currentConfiguration = next  // whole, never in place (docs/performance.md)
    }
}
