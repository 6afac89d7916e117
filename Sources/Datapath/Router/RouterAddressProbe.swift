// The ARP probe a DHCP server asks for before offering an address (DHCPAddressProbe.swift):
// "who has <address>? tell <router>" broadcast on the interface. An answer reaches the router like
// any ARP reply (RouterARP.swift learns it); the bridge also hands its sender to the server.
import Basics
import Wire

extension Router {
    /// Broadcasts an ARP request for `address` on Ethernet interface `interface` (nothing on a
    /// point-to-point one). Counted with the router's other ARP requests.
    public func probe<O: RouterOutput>(_ address: IPv4Address, on interface: Int, output: inout O) {
        guard interfaces.indices.contains(interface) else { return }
        sendARPRequest(for: address, on: interface, output: &output)
    }
}
