import Basics
@testable import Datapath
import Wire

/// Builds the messages a DHCP client sends in each state of RFC 2131 §4.3.2 / Table 5.
struct DHCPTestClient {
    var mac: MACAddress
    var clientID: [UInt8]?
    var xid: UInt32
    var broadcast = false
    var hostName: String?
    var parameters: [DHCPOptionCode]? = [.subnetMask, .router, .domainNameServer, .domainName]

    init(_ n: UInt8, clientID: [UInt8]? = nil, broadcast: Bool = false) {
        mac = MACAddress(0x52, 0x54, 0x00, 0x00, 0x00, n)
        self.clientID = clientID
        xid = 0x1000 + UInt32(n)
        self.broadcast = broadcast
    }

    private func base(_ type: DHCPMessageType) -> DHCPMessage {
        var m = DHCPMessage(op: .bootRequest, xid: xid, chaddr: DHCPHardwareAddress(mac))
        m.isBroadcast = broadcast
        m.messageType = type
        if let clientID { m.options.clientIdentifier = clientID }
        if let hostName { m.options.hostName = hostName }
        return m
    }

    func discover(requesting address: IPv4Address? = nil) -> DHCPMessage {
        var m = base(.discover)
        m.options.requestedIPAddress = address
        m.options.parameterRequestList = parameters
        return m
    }

    /// SELECTING: server identifier and requested address, 'ciaddr' zero.
    func select(_ address: IPv4Address, server: IPv4Address) -> DHCPMessage {
        var m = base(.request)
        m.options.serverIdentifier = server
        m.options.requestedIPAddress = address
        m.options.parameterRequestList = parameters
        return m
    }

    /// INIT-REBOOT: requested address, no server identifier, 'ciaddr' zero.
    func reboot(_ address: IPv4Address) -> DHCPMessage {
        var m = base(.request)
        m.options.requestedIPAddress = address
        return m
    }

    /// RENEWING (unicast) / REBINDING (broadcast): 'ciaddr' set, no server id, no requested address.
    func renew(_ address: IPv4Address, rebinding: Bool = false) -> DHCPMessage {
        var m = base(.request)
        m.ciaddr = address
        m.isBroadcast = rebinding
        return m
    }

    func decline(_ address: IPv4Address, server: IPv4Address) -> DHCPMessage {
        var m = base(.decline)
        m.options.requestedIPAddress = address
        m.options.serverIdentifier = server
        return m
    }

    func release(_ address: IPv4Address, server: IPv4Address) -> DHCPMessage {
        var m = base(.release)
        m.ciaddr = address
        m.options.serverIdentifier = server
        return m
    }

    func inform(_ address: IPv4Address) -> DHCPMessage {
        var m = base(.inform)
        m.ciaddr = address
        m.options.parameterRequestList = parameters
        return m
    }
}

enum DHCPFixture {
    static let server = IPv4Address(10, 0, 0, 1)

    /// 10.0.0.1/24, pool .100–.199 (or `poolSize` addresses from .100), DNS and a domain.
    static func configuration(poolSize: UInt32 = 100) -> DHCPServerConfiguration {
        var c = DHCPServerConfiguration(interface: IPv4Network("10.0.0.1/24")!,
                                        poolStart: IPv4Address(10, 0, 0, 100),
                                        poolEnd: IPv4Address(rawValue: IPv4Address(10, 0, 0, 100).rawValue + poolSize - 1))
        c.dnsServers = [IPv4Address(10, 0, 0, 53), IPv4Address(9, 9, 9, 9)]
        c.domainName = "lab.test"
        return c
    }

    static func server(_ configure: (inout DHCPServerConfiguration) -> Void = { _ in }) throws -> DHCPServer {
        var c = configuration()
        configure(&c)
        return try DHCPServer(configuration: c)
    }

    static func at(_ seconds: Int64) -> Instant { Instant.zero + .seconds(seconds) }

    static func address(_ last: UInt8) -> IPv4Address { IPv4Address(10, 0, 0, last) }
}

struct NoReply: Error, CustomStringConvertible {
    var message: DHCPMessage
    var description: String { "no reply to \(message)" }
}

extension DHCPServer {
    /// The reply to `message`; throws (failing the test) when the server stays silent.
    mutating func answer(_ message: DHCPMessage, now: Instant) throws -> DHCPReply {
        guard let reply = receive(message, now: now) else { throw NoReply(message: message) }
        return reply
    }

    /// DISCOVER then REQUEST from SELECTING; returns the address acknowledged, or nil.
    mutating func dora(_ client: DHCPTestClient, now: Instant, requesting: IPv4Address? = nil) -> IPv4Address? {
        guard let offer = receive(client.discover(requesting: requesting), now: now), offer.message.messageType == .offer,
              let ack = receive(client.select(offer.message.yiaddr, server: configuration.serverAddress), now: now),
              ack.message.messageType == .ack else { return nil }
        return ack.message.yiaddr
    }
}
