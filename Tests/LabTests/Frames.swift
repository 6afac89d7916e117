// Hand-built frames for evaluator tests: ICMP echo, DHCP and ARP, emitted with Wire's encoders.
import Basics
import Capture
import Wire

enum Frames {
    static let vm1MAC = MACAddress(0x52, 0x54, 0, 0, 0, 1)
    static let routerMAC = MACAddress(2, 0x5e, 10, 0, 0, 1)
    static let vm1 = IPv4Address(10, 0, 0, 101)
    static let router = IPv4Address(10, 0, 0, 1)

    static func echo(request: Bool, identifier: UInt16 = 0x1234, sequence: UInt16,
                     from: IPv4Address = vm1, to: IPv4Address = router) -> [UInt8] {
        var buffer = [UInt8](repeating: 0xEE, count: 128)
        let n = buffer.withUnsafeMutableBytes { b in
            let message = request ? ICMPv4Message.echoRequest(identifier: identifier, sequenceNumber: sequence)
                                  : ICMPv4Message.echoReply(identifier: identifier, sequenceNumber: sequence)
            let data = [UInt8](repeating: 0xAB, count: 56)
            return try! data.withUnsafeBytes { d in
                try IPv4Frame.emitICMP(into: b, ethernet: EthernetHeader(destination: request ? routerMAC : vm1MAC,
                                                                         source: request ? vm1MAC : routerMAC, etherType: .ipv4),
                                       ip: IPv4Header(source: from, destination: to, protocol: .icmp, payloadLength: 0),
                                       icmp: message, data: d)
            }
        }
        return Array(buffer[..<n])
    }

    static func dhcp(_ type: DHCPMessageType, xid: UInt32, yiaddr: IPv4Address = .any, client: MACAddress = vm1MAC,
                     leaseSeconds: UInt32? = nil, routers: [IPv4Address]? = nil, dns: [IPv4Address]? = nil) -> [UInt8] {
        let fromServer = [DHCPMessageType.offer, .ack, .nak].contains(type)
        var message = DHCPMessage(op: fromServer ? .bootReply : .bootRequest, xid: xid, yiaddr: yiaddr, chaddr: DHCPHardwareAddress(client))
        message.messageType = type
        if fromServer {
            message.options.serverIdentifier = router
            message.options.subnetMask = IPv4Address(255, 255, 255, 0)
        }
        if let leaseSeconds { message.options.leaseTime = leaseSeconds }
        if let routers { message.options.routers = routers }
        if let dns { message.options.domainNameServers = dns }
        var payload = [UInt8](repeating: 0, count: 1024)
        let length = payload.withUnsafeMutableBytes { try! message.emit(into: $0) }
        var buffer = [UInt8](repeating: 0, count: 1600)
        let n = buffer.withUnsafeMutableBytes { b in
            try! payload[..<length].withUnsafeBytes { p in
                try IPv4Frame.emitUDP(into: b, ethernet: EthernetHeader(destination: fromServer ? client : .broadcast,
                                                                        source: fromServer ? routerMAC : client, etherType: .ipv4),
                                      ip: IPv4Header(source: fromServer ? router : .any, destination: fromServer ? yiaddr : .broadcast,
                                                     protocol: .udp, payloadLength: 0),
                                      udp: UDPHeader(sourcePort: fromServer ? 67 : 68, destinationPort: fromServer ? 68 : 67),
                                      payload: p)
            }
        }
        return Array(buffer[..<n])
    }

    /// An ARP request (who-has `target`), 60 bytes.
    static func arp(target: IPv4Address) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 60)
        f.withUnsafeMutableBytes { b in
            _ = try! EthernetHeader(destination: .broadcast, source: vm1MAC, etherType: .arp).emit(into: b)
            b.setU16(14, 1); b.setU16(16, 0x0800); b[18] = 6; b[19] = 4; b.setU16(20, 1)
            vm1MAC.write(to: b, at: 22); vm1.write(to: b, at: 28); target.write(to: b, at: 38)
        }
        return f
    }

    static func record(_ bytes: [UInt8], ms: UInt64) -> CaptureRecord {
        CaptureRecord(time: Instant(nanoseconds: ms * 1_000_000), originalLength: bytes.count, bytes: bytes)
    }
}
