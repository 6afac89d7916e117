// A minimal DHCP server for client tests, written with the Wire codec: one address to offer,
// switches to fall silent, ignore unicast or NAK, and a record of every message it received.
// (The real server lives in Datapath.)

import Basics
@testable import HostStack
import Wire

final class FakeDHCPServer: Endpoint {
    struct Received {
        var time: Instant
        var message: DHCPMessage
        var ethernetDestination: MACAddress
        var ipSource: IPv4Address
        var ipDestination: IPv4Address
    }

    let mac: MACAddress
    let ip: IPv4Address
    var offerAddress = IPv4Address(10, 0, 0, 50)
    var subnetMask = IPv4Address(255, 255, 255, 0)
    var routers = [IPv4Address(10, 0, 0, 1)]
    var dnsServers = [IPv4Address(10, 0, 0, 53)]
    var leaseTime: UInt32 = 100
    var renewalTime: UInt32?
    var rebindingTime: UInt32?
    /// Answers nothing at all (ARP included).
    var silent = false
    /// Does not answer REQUESTs sent to its own address (renewals).
    var ignoresUnicast = false
    /// Does not answer REQUESTs at all (DISCOVERs still get OFFERs).
    var ignoresRequests = false
    /// NAKs this many REQUESTs before ACKing again.
    var nakRequests = 0
    /// ACKs this address instead of the one asked for.
    var ackAddress: IPv4Address?
    private(set) var received: [Received] = []
    private var outgoing: [[UInt8]] = []

    init(mac: MACAddress = MACAddress(0x02, 0, 0, 0, 0, 0xFE), ip: IPv4Address = IPv4Address(10, 0, 0, 1)) {
        self.mac = mac; self.ip = ip
    }

    func messages(_ type: DHCPMessageType) -> [Received] { received.filter { $0.message.messageType == type } }

    func receive(_ frame: [UInt8], now: Instant) {
        guard !silent, let d = DecodedFrame(frame), d.ethernet.destination == mac || d.ethernet.destination.isBroadcast else { return }
        if let arp = d.arp {
            if arp.operation == .request, arp.targetProtocolAddress == ip {
                outgoing.append(Frames.arp(arp.reply(with: mac), from: mac, to: arp.senderHardwareAddress))
            }
            return
        }
        guard let ipHeader = d.ip, let m = d.dhcp, d.udp?.destinationPort == DHCP.serverPort, m.op == .bootRequest else { return }
        received.append(Received(time: now, message: m, ethernetDestination: d.ethernet.destination,
                                 ipSource: ipHeader.source, ipDestination: ipHeader.destination))
        switch m.messageType {
        case .discover?:
            reply(to: m, type: .offer, yiaddr: offerAddress)
        case .request?:
            if ignoresRequests || (ignoresUnicast && ipHeader.destination == ip) { return }
            if nakRequests > 0 {
                nakRequests -= 1
                reply(to: m, type: .nak, yiaddr: .any)
                return
            }
            let asked = m.options.requestedIPAddress ?? m.ciaddr
            reply(to: m, type: .ack, yiaddr: ackAddress ?? asked)
        default:
            break
        }
    }

    private func reply(to request: DHCPMessage, type: DHCPMessageType, yiaddr: IPv4Address) {
        var m = DHCPMessage(op: .bootReply, xid: request.xid, flags: request.flags, ciaddr: request.ciaddr,
                            yiaddr: yiaddr, chaddr: request.chaddr)
        m.messageType = type
        m.options.serverIdentifier = ip
        if type != .nak {
            m.options.subnetMask = subnetMask
            m.options.routers = routers
            m.options.domainNameServers = dnsServers
            m.options.leaseTime = leaseTime
            if let t1 = renewalTime { m.options.renewalTime = t1 }
            if let t2 = rebindingTime { m.options.rebindingTime = t2 }
        } else {
            m.options.message = "requested address not available"
        }
        // RFC 2131 §4.1: to 'ciaddr' if set; else broadcast if the B flag is set (and for NAKs);
        // else unicast to 'chaddr' / 'yiaddr'.
        let client = request.clientMAC ?? .broadcast
        let (dmac, dip): (MACAddress, IPv4Address)
        if type == .nak || request.isBroadcast {
            (dmac, dip) = (.broadcast, .broadcast)
        } else if request.ciaddr != .any {
            (dmac, dip) = (client, request.ciaddr)
        } else {
            (dmac, dip) = (client, yiaddr)
        }
        outgoing.append(Frames.udp(from: mac, to: dmac, source: ip, destination: dip,
                                   sourcePort: DHCP.serverPort, destinationPort: DHCP.clientPort, payload: .dhcp(m)))
    }

    func poll(now: Instant) {}
    func nextDeadline() -> Instant? { nil }
    func takeOutgoing() -> [[UInt8]] {
        defer { outgoing = [] }
        return outgoing
    }
}
