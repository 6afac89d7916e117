// The host's side of its DHCP client: starting and stopping it, putting its messages on the
// wire (UDP 68 → 67), and carrying out what it decides (bind, renew, drop the address).

import Basics
import Wire

extension Host {
    /// Starts the DHCP client (INIT-REBOOT if it holds an unexpired lease from before `stopDHCP`,
    /// else DISCOVER). A static address is dropped. Does nothing while the client runs.
    public func startDHCP(now: Instant) {
        if addressSource == .static || pendingAddress?.source == .static { removeAddress(now: now) }
        perform(dhcp.start(now: now), now: now)
    }

    /// Releases the lease (DHCPRELEASE to the server) and stops the client.
    public func releaseDHCP(now: Instant) {
        abandonDHCPProbe()
        perform(dhcp.release(now: now), now: now)
    }

    /// Stops the client without telling the server, as a reboot would; the lease is remembered
    /// for INIT-REBOOT.
    public func stopDHCP(now: Instant) {
        abandonDHCPProbe()
        perform(dhcp.stop(now: now), now: now)
    }

    /// Stops probing an address DHCP offered (the client is leaving CHECKING).
    private func abandonDHCPProbe() {
        guard pendingAddress?.source == .dhcp else { return }
        pendingAddress = nil
        conflictDetection?.cancel()
    }

    func receiveDHCP(_ payload: UnsafeRawBufferPointer, now: Instant) {
        let message: DHCPMessage
        do { message = try DHCPMessage(parsing: payload) } catch { countDrop(error); return }
        guard let actions = dhcp.receive(message, now: now) else { counters.dhcpIgnored += 1; return }
        perform(actions, now: now)
    }

    /// Carries out the DHCP client's actions, in order.
    func perform(_ actions: [DHCPClient.Action], now: Instant) {
        for action in actions {
            switch action {
            case .send(let message, let destination):
                sendDHCP(message, to: destination, now: now)
            case .check(let lease):
                claim(PendingAddress(lease), now: now)
            case .bind(let lease, let renewed):
                if renewed {
                    gateway = lease.routers.first
                    dnsServers = lease.dnsServers
                    log(.leaseRenewed(lease), now)
                } else {
                    log(.leaseAcquired(lease), now)
                    apply(PendingAddress(lease), now: now)
                }
            case .unbind(let lease, let reason):
                log(.leaseLost(lease, reason), now)
                abandonDHCPProbe()
                if addressSource == .dhcp, address == lease.address { unconfigure(now: now) }
            case .stateChanged(let from, let to):
                log(.dhcpStateChanged(from: from, to: to), now)
            case .nakReceived(let server, let message):
                log(.dhcpNAK(server: server, message: message), now)
            }
        }
    }

    /// Puts a client message on the wire: broadcast to 255.255.255.255:67, or unicast to the
    /// server through the normal route (RFC 2131 §4.1, §4.4.5).
    private func sendDHCP(_ message: DHCPMessage, to destination: DHCPClient.Destination, now: Instant) {
        let length = message.encodedLength
        let datagramLength = IPv4Constants.minimumHeaderLength + UDPConstants.headerLength + length
        let udp = UDPHeader(sourcePort: DHCP.clientPort, destinationPort: DHCP.serverPort)
        func build(_ frame: UnsafeMutableRawBufferPointer, _ ethernet: EthernetHeader, _ ip: IPv4Header) throws(WireError) -> Int {
            let offset = ethernet.headerLength + ip.headerLength + UDPConstants.headerLength
            try frame.requireSpace(offset + length)
            let payload = frame.slice(offset..<offset + length)
            _ = try message.emit(into: payload)
            return try IPv4Frame.emitUDP(into: frame, ethernet: ethernet, ip: ip, udp: udp, payload: UnsafeRawBufferPointer(payload))
        }
        let sent: Bool
        switch destination {
        case .broadcast(let source):
            // RFC 2131 §4.1: "DHCP messages broadcast by a client prior to that client obtaining
            // its IP address must have the source address field in the IP header set to 0."
            let ip = ipHeader(to: .broadcast, from: source, protocol: .udp, payloadLength: UDPConstants.headerLength + length)
            let ethernet = EthernetHeader(destination: .broadcast, source: mac, etherType: .ipv4)
            sent = emitFrame(maximumLength: EthernetHeader.untaggedLength + datagramLength) { frame throws(WireError) in
                try build(frame, ethernet, ip)
            }
        case .server(let server):
            let ip = ipHeader(to: server, protocol: .udp, payloadLength: UDPConstants.headerLength + length)
            sent = sendIPv4(to: server, datagramLength: datagramLength, now: now) { frame, ethernet throws(WireError) in
                try build(frame, ethernet, ip)
            }
        }
        if sent { counters.dhcpSent += 1 }
    }
}

extension Host.PendingAddress {
    /// The configuration a lease grants: its address, first router and DNS servers.
    init(_ lease: DHCPClientLease) {
        self.init(network: lease.address, gateway: lease.routers.first, dnsServers: lease.dnsServers, source: .dhcp)
    }
}
