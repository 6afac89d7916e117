// Live reconfiguration of a DHCP server (`sluice bridge --reload`, docs/operating.md): a new
// pool, reservations, lease time or DNS servers, keeping every lease already handed out.
//
// RFC 2131 §2.2: "the DHCP server must retain the binding" of a client to its address. A new
// configuration changes what the server offers from now on; the bindings it holds stay, each
// until it is released or expires, even when its address is no longer in the pool.
import Basics

extension DHCPServer {
    /// A server for `configuration` that keeps this server's leases (offered, bound, declined)
    /// and counters; or the first reason the configuration cannot work (this server unchanged).
    public func reconfigured(_ configuration: DHCPServerConfiguration) throws(DHCPConfigurationError) -> DHCPServer {
        var server = try DHCPServer(configuration: configuration)
        server.table = table
        server.counters = counters
        return server
    }
}
