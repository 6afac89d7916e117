// A DHCPv4 server (RFC 2131 §4.3), sans-IO: parsed messages and the time in, replies and
// their destinations out. No sockets, no clock; the router carries replies to the wire and
// calls `expire(now:)` at `nextDeadline()`.

import Basics
import Wire

/// The DHCPv4 server of one subnet.
public struct DHCPServer: Sendable {
    public let configuration: DHCPServerConfiguration
    public internal(set) var counters = DHCPServerCounters()
    var table = DHCPLeaseTable()
    /// Offers waiting for their ARP probe to time out, oldest first (DHCPAddressProbe.swift).
    var probes: [DHCPAddressProbe] = []
    /// Addresses whose probe was answered, out of use until the instant given.
    var conflictHolds: [IPv4Address: Instant] = [:]
    /// Addresses to probe, for the driver to take with `takeAddressProbes()`.
    var addressProbesToSend: [IPv4Address] = []
    let reservedByMAC: [MACAddress: IPv4Address]
    let reservedByClientID: [[UInt8]: IPv4Address]
    let reservedAddresses: Set<IPv4Address>

    /// A server for `configuration`, or the first reason it cannot work.
    public init(configuration: DHCPServerConfiguration) throws(DHCPConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        var byMAC: [MACAddress: IPv4Address] = [:], byID: [[UInt8]: IPv4Address] = [:]
        for r in configuration.reservations {
            switch r.client {
            case .mac(let mac): byMAC[mac] = r.address
            case .clientIdentifier(let id): byID[id] = r.address
            }
        }
        reservedByMAC = byMAC
        reservedByClientID = byID
        reservedAddresses = Set(configuration.reservations.map(\.address))
    }

    // MARK: Public surface

    /// Every record (offered, bound, released, expired, declined), ascending by address.
    public var leases: [DHCPLease] { table.sorted }

    /// The record for `address`, if any.
    public func lease(for address: IPv4Address) -> DHCPLease? { table[address] }

    /// When the next offer, lease or decline hold runs out; nil when nothing is pending.
    public func nextDeadline() -> Instant? {
        var deadline = table.nextDeadline
        func consider(_ d: Instant?) { if let d, deadline.map({ d < $0 }) ?? true { deadline = d } }
        for p in probes { consider(p.deadline) }
        consider(conflictHolds.values.min())
        return deadline
    }

    /// Counts every change to the records: a driver keeping them on disk writes them again when
    /// it moved (DHCPLeaseRestore.swift).
    public var revision: UInt64 { table.revision }

    /// Ends every offer, lease and decline hold due at `now`: offers are forgotten, leases become
    /// expired (their address free again), declined addresses return to use.
    public mutating func expire(now: Instant) {
        for address in table.due(at: now) {
            guard var lease = table[address] else { continue }
            switch lease.state {
            case .offered:
                table.remove(address)
                counters.offersExpired &+= 1
            case .bound:
                lease.state = .expired
                table.store(lease)
                counters.leasesExpired &+= 1
            case .declined:
                table.remove(address)
                counters.declinesEnded &+= 1
            case .released, .expired:
                break
            }
        }
        endConflictHolds(now: now)
    }

    /// Handles the UDP payload of a datagram to port 67: parses it (a malformed one is dropped
    /// and counted) and answers as `receive(_:now:)`.
    public mutating func receive(datagram: UnsafeRawBufferPointer, now: Instant) -> DHCPReply? {
        let message: DHCPMessage
        do { message = try DHCPMessage(parsing: datagram) } catch {
            counters.drops.count(.malformed)
            return nil
        }
        return receive(message, now: now)
    }

    /// Handles one client message at `now` (first ending whatever is due); returns the reply to
    /// send, or nil when none is due — after a DHCPDECLINE or DHCPRELEASE, or when the message
    /// is dropped (counted by reason in `counters`).
    public mutating func receive(_ message: DHCPMessage, now: Instant) -> DHCPReply? {
        expire(now: now)
        let type = message.messageType
        counters.countReceived(type)
        guard message.op == .bootRequest else { return drop(.notRequest) }
        guard let type else { return drop(.noMessageType) }
        guard let client = Client(message, server: self) else { return drop(.noClientIdentity) }
        // One subnet is served; a relay agent on another network gets nothing from it.
        if message.giaddr != .any, !configuration.subnet.contains(message.giaddr) { return drop(.foreignNetwork) }

        switch type {
        case .discover: return discover(message, client, now: now)
        case .request: return request(message, client, now: now)
        case .decline: return decline(message, client, now: now)
        case .release: return release(message, client, now: now)
        case .inform: return inform(message, client)
        default: return drop(.unexpectedMessageType)
        }
    }

    // MARK: The client behind a message

    /// Who sent a message, and what the configuration reserves for it.
    struct Client {
        var identity: DHCPClientIdentity
        var mac: MACAddress?
        var hostName: String?
        /// The reservation that matches the client's identifier, else its MAC.
        var reservedAddress: IPv4Address?

        init?(_ message: DHCPMessage, server: DHCPServer) {
            guard let identity = DHCPClientIdentity(of: message) else { return nil }
            self.identity = identity
            mac = message.clientMAC
            hostName = message.options.hostName
            reservedAddress = message.options.clientIdentifier.flatMap { server.reservedByClientID[$0] }
                ?? mac.flatMap { server.reservedByMAC[$0] }
        }
    }

    // MARK: DHCPDISCOVER (§4.3.1)

    mutating func discover(_ message: DHCPMessage, _ client: Client, now: Instant) -> DHCPReply? {
        // A retransmitted DHCPDISCOVER while this client's address is being probed: the offer
        // goes when the probe ends, answering the latest one.
        if deferWhileProbing(message, client) { return nil }
        guard let address = chooseAddress(for: client, requested: message.options.requestedIPAddress) else {
            return drop(.poolExhausted)
        }
        if startProbe(of: address, answering: message, client, now: now) { return nil }
        return offer(address, answering: message, client, now: now)
    }

    /// The DHCPOFFER of `address` to `client`, held for it until the offer hold time runs out.
    mutating func offer(_ address: IPv4Address, answering message: DHCPMessage, _ client: Client, now: Instant) -> DHCPReply? {
        // RFC 2131 §4.3.1: "the server SHOULD NOT reuse the selected network address before the
        // client responds to the server's DHCPOFFER message." A bound client stays bound.
        if let current = table[address], current.state == .bound, current.client == client.identity {
            table.store(updated(current, client))
        } else {
            table.store(DHCPLease(address: address, client: client.identity, mac: client.mac, hostName: client.hostName,
                                  state: .offered, expiry: now + configuration.offerHoldTime))
        }
        var offer = reply(.offer, to: message)
        offer.yiaddr = address
        addLeaseTimes(to: &offer.options)
        addConfiguration(to: &offer.options, requested: message.options.parameterRequestList)
        return send(offer, answering: message)
    }

    /// RFC 2131 §4.3.1: "the new address SHOULD be chosen as follows: o The client's current
    /// address as recorded in the client's current binding, ELSE o The client's previous address
    /// as recorded in the client's (now expired or released) binding, if that address is in the
    /// server's pool of available addresses and not already allocated, ELSE o The address
    /// requested in the 'Requested IP Address' option, if that address is valid and not already
    /// allocated, ELSE o A new address allocated from the server's pool of available addresses".
    /// A reservation counts as the client's binding; "a new address" is the lowest free one.
    func chooseAddress(for client: Client, requested: IPv4Address?) -> IPv4Address? {
        let record = table.record(of: client.identity)
        if let record, record.state == .offered || record.state == .bound, isAvailable(record.address, to: client) {
            return record.address
        }
        if let reserved = client.reservedAddress, isAvailable(reserved, to: client) { return reserved }
        if let record, isAvailable(record.address, to: client) { return record.address }
        if let requested, isAvailable(requested, to: client) { return requested }
        var candidate = configuration.poolStart
        while true {
            if isAvailable(candidate, to: client) { return candidate }
            if candidate >= configuration.poolEnd { return nil }
            candidate = IPv4Address(rawValue: candidate.rawValue + 1)
        }
    }

    /// Whether `address` may go to `client`: a host address of the subnet, in the pool or
    /// reserved for this client, not reserved for another, and not held by another client or
    /// declined.
    func isAvailable(_ address: IPv4Address, to client: Client) -> Bool {
        guard configuration.isHostAddress(address) else { return false }
        if reservedAddresses.contains(address) {
            guard client.reservedAddress == address else { return false }
        } else if !configuration.poolContains(address) {
            // Outside the pool only when a reload moved the pool (DHCPServer+Reconfigure.swift):
            // the client keeps its binding until it expires or is released (RFC 2131 §2.2, "the
            // DHCP server must retain the binding"), so it renews rather than being NAKed.
            guard let holder = table[address], holder.state == .bound, holder.client == client.identity else { return false }
        }
        if let holder = table[address], holder.holdsAddress {
            return holder.state != .declined && holder.client == client.identity
        }
        return !isProbeHeld(address, from: client)
    }

    // MARK: DHCPREQUEST (§4.3.2)

    private mutating func request(_ message: DHCPMessage, _ client: Client, now: Instant) -> DHCPReply? {
        let requested = message.options.requestedIPAddress
        if let serverID = message.options.serverIdentifier {
            // SELECTING: "Client inserts the address of the selected server in 'server
            // identifier'". Another server chosen: our offer is withdrawn.
            guard serverID == configuration.serverAddress else {
                if let record = table.record(of: client.identity), record.state == .offered {
                    table.remove(record.address)
                }
                return drop(.otherServerSelected)
            }
            guard let address = requested ?? (message.ciaddr != .any ? message.ciaddr : nil) else {
                return drop(.missingAddress)
            }
            // "If the selected server is unable to satisfy the DHCPREQUEST message (e.g., the
            // requested network address has been allocated), the server SHOULD respond with a
            // DHCPNAK message."
            guard isAvailable(address, to: client) else {
                return nak(message, "requested address \(address) is not available")
            }
            return bind(address, message, client, now: now)
        }

        if message.ciaddr == .any {
            // INIT-REBOOT: "'requested IP address' option MUST be filled in with client's notion
            // of its previously assigned address. 'ciaddr' MUST be zero."
            guard let requested else { return drop(.missingAddress) }
            // "If the DHCP server detects that the client is on the wrong net ... then the server
            // SHOULD send a DHCPNAK message to the client."
            guard configuration.subnet.contains(requested) else {
                return nak(message, "\(requested) is not on \(configuration.subnet)")
            }
            return confirm(requested, message, client, now: now)
        }

        // RENEWING (unicast) or REBINDING (broadcast): "'ciaddr' MUST be filled in with client's
        // IP address." Both extend the lease the same way here.
        return confirm(message.ciaddr, message, client, now: now)
    }

    /// INIT-REBOOT, RENEWING, REBINDING: ACK the client's own address, NAK a wrong one, and
    /// stay silent for a client with no record. RFC 2131 §4.3.2: "If the DHCP server has no
    /// record of this client, then it MUST remain silent".
    private mutating func confirm(_ address: IPv4Address, _ message: DHCPMessage, _ client: Client, now: Instant) -> DHCPReply? {
        guard let known = table.record(of: client.identity)?.address ?? client.reservedAddress else {
            return drop(.unknownClient)
        }
        // "Server SHOULD send a DHCPNAK message to the client if the 'requested IP address' is
        // incorrect, or is on the wrong network."
        guard address == known else { return nak(message, "\(address) is not this client's address") }
        guard isAvailable(address, to: client) else { return nak(message, "\(address) is no longer available") }
        return bind(address, message, client, now: now)
    }

    /// Commits `address` to `client` for one lease time from `now` and builds the DHCPACK.
    /// RFC 2131 §3.1: "The server selected in the DHCPREQUEST message commits the binding for
    /// the client ... and responds with a DHCPACK message".
    private mutating func bind(_ address: IPv4Address, _ message: DHCPMessage, _ client: Client, now: Instant) -> DHCPReply? {
        table.store(DHCPLease(address: address, client: client.identity, mac: client.mac, hostName: client.hostName,
                              state: .bound, expiry: now + configuration.leaseTime))
        var ack = reply(.ack, to: message)
        ack.ciaddr = message.ciaddr
        ack.yiaddr = address
        addLeaseTimes(to: &ack.options)
        addConfiguration(to: &ack.options, requested: message.options.parameterRequestList)
        return send(ack, answering: message)
    }

    // MARK: DHCPDECLINE, DHCPRELEASE (§4.3.3, §4.3.4)

    private mutating func decline(_ message: DHCPMessage, _ client: Client, now: Instant) -> DHCPReply? {
        if let serverID = message.options.serverIdentifier, serverID != configuration.serverAddress {
            return drop(.otherServerSelected)
        }
        guard let address = message.options.requestedIPAddress else { return drop(.missingAddress) }
        guard var lease = table.record(of: client.identity), lease.address == address, lease.holdsAddress else {
            return drop(.notClientsAddress)
        }
        // "The server MUST mark the network address as not available and SHOULD notify the local
        // system administrator of a possible configuration problem." (counted as received)
        lease.state = .declined
        lease.expiry = now + configuration.declineHoldTime
        table.store(lease)
        return nil
    }

    private mutating func release(_ message: DHCPMessage, _ client: Client, now: Instant) -> DHCPReply? {
        if let serverID = message.options.serverIdentifier, serverID != configuration.serverAddress {
            return drop(.otherServerSelected)
        }
        guard message.ciaddr != .any else { return drop(.missingAddress) }
        guard var lease = table.record(of: client.identity), lease.address == message.ciaddr, lease.holdsAddress else {
            return drop(.notClientsAddress)
        }
        // "Upon receipt of a DHCPRELEASE message, the server marks the network address as not
        // allocated."
        lease.state = .released
        lease.expiry = now
        table.store(lease)
        return nil
    }

    // MARK: DHCPINFORM (§4.3.5)

    /// RFC 2131 §4.3.5: "The server responds to a DHCPINFORM message by sending a DHCPACK message
    /// directly to the address given in the 'ciaddr' field of the DHCPINFORM message. The server
    /// MUST NOT send a lease expiration time to the client and SHOULD NOT fill in 'yiaddr'."
    private mutating func inform(_ message: DHCPMessage, _ client: Client) -> DHCPReply? {
        guard message.ciaddr != .any else { return drop(.missingAddress) }
        guard configuration.subnet.contains(message.ciaddr) else { return drop(.foreignNetwork) }
        var ack = reply(.ack, to: message)
        ack.ciaddr = message.ciaddr
        addConfiguration(to: &ack.options, requested: message.options.parameterRequestList)
        return send(ack, answering: message)
    }

    // MARK: Building replies (RFC 2131 §4.3.1, Table 3)

    /// A reply with Table 3's fields: 'op' BOOTREPLY, 'hops' 0, 'secs' 0, 'xid', 'flags',
    /// 'giaddr', 'htype', 'hlen' and 'chaddr' from the request; then option 53, option 54 ("A
    /// DHCP server always returns its own address in the 'server identifier' option") and the
    /// client identifier echoed back (RFC 6842 §3).
    private func reply(_ type: DHCPMessageType, to request: DHCPMessage) -> DHCPMessage {
        var m = DHCPMessage(op: .bootReply, htype: request.htype, hlen: request.hlen, hops: 0, xid: request.xid,
                            secs: 0, flags: request.flags, giaddr: request.giaddr, chaddr: request.chaddr)
        m.options.messageType = type
        m.options.serverIdentifier = configuration.serverAddress
        if let id = request.options.clientIdentifier { m.options.append(.clientIdentifier, id) }
        return m
    }

    /// Options 51, 58, 59. RFC 2131 §4.4.5: "The server SHOULD return T1 and T2".
    private func addLeaseTimes(to options: inout DHCPOptions) {
        options.leaseTime = configuration.leaseSeconds
        options.renewalTime = configuration.renewalSeconds
        options.rebindingTime = configuration.rebindingSeconds
    }

    /// The configured parameters: subnet mask first (RFC 2132 §3.3: "If both the subnet mask and
    /// the router option are specified in a DHCP reply, the subnet mask option MUST be first"),
    /// then those the client asked for in the order it asked (RFC 2132 §9.8: the server "MUST
    /// try to insert the requested options in the order requested by the client"), then the rest
    /// by code. Each at most once; one the server has no value for is left out.
    private func addConfiguration(to options: inout DHCPOptions, requested: [DHCPOptionCode]?) {
        options.subnetMask = configuration.subnet.netmask
        var pending: [DHCPOptionCode] = [.router, .domainNameServer, .domainName, .broadcastAddress]
        var order: [DHCPOptionCode] = []
        for code in requested ?? [] where pending.contains(code) {
            order.append(code)
            pending.removeAll { $0 == code }
        }
        for code in order + pending {
            switch code {
            case .router: options.routers = configuration.router.map { [$0] }
            case .domainNameServer: options.domainNameServers = configuration.dnsServers
            case .domainName: options.domainName = configuration.domainName
            case .broadcastAddress: options.broadcastAddress = configuration.subnet.broadcastAddress
            default: break
            }
        }
    }

    /// A DHCPNAK: RFC 2131 Table 3 leaves 'ciaddr', 'yiaddr' and 'siaddr' zero and every option
    /// but the type, the server identifier, the message and the client identifier out. "If
    /// 'giaddr' is set in the DHCPREQUEST message, ... The server MUST set the broadcast bit in
    /// the DHCPNAK, so that the relay agent will broadcast the DHCPNAK to the client".
    private mutating func nak(_ request: DHCPMessage, _ text: String) -> DHCPReply? {
        var m = reply(.nak, to: request)
        m.options.message = text
        if request.giaddr != .any { m.isBroadcast = true }
        return send(m, answering: request)
    }

    private mutating func send(_ message: DHCPMessage, answering request: DHCPMessage) -> DHCPReply {
        counters.countSent(message.messageType)
        return DHCPReply(message: message, destination: DHCPReplyDestination(reply: message, answering: request))
    }

    private mutating func drop(_ reason: DHCPDropReason) -> DHCPReply? {
        counters.drops.count(reason)
        return nil
    }

    private func updated(_ lease: DHCPLease, _ client: Client) -> DHCPLease {
        var lease = lease
        lease.mac = client.mac
        if let name = client.hostName { lease.hostName = name }
        return lease
    }
}
