// The bridge's side of its DHCP servers' address probes and lease records: the probes a server
// asks for go out through the router, ARP packets claiming a probed address go back to the
// server, held offers go when their probe times out, and the driver hears of every change to a
// server's records before the reply it caused (`BridgeOutputs.commitLeases`).
import Basics
import Datapath
import Wire

extension Bridge {
    /// After the DHCP server on `interface` handled something: tell the driver if its records
    /// changed, and send the ARP probes it asked for.
    func afterDHCPServer(_ interface: Int, router: Router, now: Instant) {
        guard dhcpServers.indices.contains(interface), dhcpServers[interface] != nil else { return }
        let revision = dhcpServers[interface]!.revision
        if committedLeaseRevisions[interface] != revision {
            committedLeaseRevisions[interface] = revision
            commitLeases(interface)
        }
        let probes = dhcpServers[interface]!.takeAddressProbes()
        if !probes.isEmpty {
            var output = RouterSink(bridge: self, now: now)
            for address in probes { router.probe(address, on: interface, output: &output) }
        }
        dhcpProbesInFlight = dhcpServers.reduce(0) { $0 + ($1?.probesInFlight ?? 0) }
    }

    /// A frame for the router while probes are out: an ARP packet whose sender claims a probed
    /// address tells that address's server it is in use.
    func noticeAddressClaim(_ frame: UnsafeRawBufferPointer, on interface: Int, now: Instant) {
        guard let router, dhcpServers.indices.contains(interface), dhcpServers[interface] != nil,
              frame.count >= EthernetHeader.untaggedLength,
              frame.u16(12) == EtherType.arp.rawValue,
              let arp = try? ARPPacket(parsing: UnsafeRawBufferPointer(rebasing: frame[EthernetHeader.untaggedLength...])),
              dhcpServers[interface]!.isProbing(arp.senderProtocolAddress) else { return }
        let reply = dhcpServers[interface]!.addressAnswered(arp.senderProtocolAddress, now: now)
        afterDHCPServer(interface, router: router, now: now)
        if let reply { sendDHCPReply(reply, on: interface, router: router, now: now) }
    }

    /// Sends the offers whose probe timed out by `now`, and commits whatever `expire` changed.
    func finishDHCPProbes(now: Instant) {
        guard let router else { return }
        for i in dhcpServers.indices where dhcpServers[i] != nil {
            let replies = dhcpServers[i]!.finishProbes(now: now)
            afterDHCPServer(i, router: router, now: now)
            for reply in replies { sendDHCPReply(reply, on: i, router: router, now: now) }
        }
    }

    /// Puts records a driver kept (a lease database) back into the DHCP server of segment
    /// `segment`, before the first event. Returns each record refused, with why.
    public func restoreLeases(_ leases: [DHCPLease], segment: Int) -> [(lease: DHCPLease, refusal: DHCPServer.RestoreRefusal)] {
        guard dhcpServers.indices.contains(segment), dhcpServers[segment] != nil else {
            return leases.map { ($0, .notInSubnet) }
        }
        let refused = dhcpServers[segment]!.restore(leases)
        committedLeaseRevisions[segment] = dhcpServers[segment]!.revision
        return refused
    }
}
