// Fuzz target `wire-frame` (layer 1, Wire): one Ethernet frame taken apart the way the switch, the
// router and the hosts do — Ethernet (+802.1Q), ARP, IPv4 (+options), ICMP (+quoted datagram), UDP,
// TCP (+options), DHCPv4 (+every typed option). Whatever parses is emitted again and re-parsed,
// and must come back equal.
//
// Input: one flags byte, then the frame. Flag bit 0 asks the harness to fix the IPv4 header and
// the ICMP/UDP/TCP checksums first, so mutations reach past the checksum checks.
import Wire

enum WireFrameTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.u8()
        var frame = exactCopy(input.rest())
        frame.withUnsafeMutableBytes { buffer in
            if flags & 1 != 0 { fixChecksums(buffer) }
            parseFrame(UnsafeRawBufferPointer(buffer))
        }
    }

    static func parseFrame(_ frame: UnsafeRawBufferPointer) {
        guard let ethernet = try? EthernetHeader(parsing: frame) else { return }
        roundTrip(ethernet)
        let payload = frame.slice(from: min(ethernet.headerLength, frame.count))
        if ethernet.etherType == .arp {
            if let arp = try? ARPPacket(parsing: payload) {
                var out = [UInt8](repeating: 0, count: 64)
                let n = out.withUnsafeMutableBytes { try? arp.emit(into: $0) }
                guard let n else { fatalError("a parsed ARP packet does not emit") }
                let again = out.withUnsafeBytes { try? ARPPacket(parsing: $0.slice(0..<n)) }
                precondition(again == arp, "ARP round trip changed the packet")
                _ = arp.isGratuitous
            }
            return
        }
        guard ethernet.etherType == .ipv4, let parsed = try? IPv4Frame.parse(frame) else { return }
        let ip = parsed.ip
        roundTrip(ip)
        guard parsed.payloadRange.lowerBound <= parsed.payloadRange.upperBound,
              parsed.payloadRange.upperBound <= frame.count else {
            fatalError("IPv4Frame.parse returned a payload range \(parsed.payloadRange) outside the \(frame.count)-byte frame")
        }
        let l4 = frame.slice(parsed.payloadRange)
        switch ip.protocol {
        case .icmp:
            guard let icmp = try? ICMPv4Message(parsing: l4) else { return }
            _ = icmp.type.isError
            if icmp.type.isError, let quoted = try? ICMPv4Message.quotedDatagram(in: l4.slice(from: 8)) {
                precondition(quoted.payload.lowerBound >= 0 && quoted.payload.upperBound == l4.count - 8)
            }
        case .udp:
            guard let udp = try? UDPHeader(parsing: l4, source: ip.source, destination: ip.destination) else { return }
            let end = Int(udp.length)
            precondition(end >= 8 && end <= l4.count, "UDP length \(end) accepted for a \(l4.count)-byte payload")
            parseDHCP(l4.slice(8..<end))
        case .tcp:
            guard let tcp = try? TCPHeader(parsing: l4, source: ip.source, destination: ip.destination) else { return }
            precondition(tcp.headerLength <= l4.count, "TCP header length past the segment")
            if let options = try? TCPOptions(parsing: tcp.options) {
                _ = options.sackBlocks
                _ = options.timestamp
                if let again = try? options.emitted() { _ = try? TCPOptions(parsing: again) }
            }
        default:
            return
        }
    }

    /// Any UDP payload is tried as DHCP (the fuzzer need not find ports 67/68).
    static func parseDHCP(_ bytes: UnsafeRawBufferPointer) {
        guard let message = try? DHCPMessage(parsing: bytes) else { return }
        let o = message.options
        _ = (o.messageType, o.subnetMask, o.routers, o.domainNameServers, o.hostName, o.domainName, o.broadcastAddress)
        _ = (o.requestedIPAddress, o.leaseTime, o.optionOverload, o.serverIdentifier, o.parameterRequestList, o.message)
        _ = (o.maximumMessageSize, o.renewalTime, o.rebindingTime, o.clientIdentifier, message.clientMAC, o.count)
        var out = [UInt8](repeating: 0, count: message.encodedLength + 64)
        guard let n = out.withUnsafeMutableBytes({ try? message.emit(into: $0) }) else { return }
        let again = out.withUnsafeBytes { try? DHCPMessage(parsing: $0.slice(0..<n)) }
        precondition(again?.options == message.options, "DHCP options changed in an emit/parse round trip")
    }

    static func roundTrip(_ ethernet: EthernetHeader) {
        var out = [UInt8](repeating: 0, count: 32)
        guard let n = out.withUnsafeMutableBytes({ try? ethernet.emit(into: $0) }) else { return }
        let again = out.withUnsafeBytes { try? EthernetHeader(parsing: $0.slice(0..<n)) }
        precondition(again == ethernet, "Ethernet round trip changed the header")
    }

    static func roundTrip(_ ip: IPv4Header) {
        var out = [UInt8](repeating: 0, count: 64 + Int(ip.totalLength))
        guard let n = out.withUnsafeMutableBytes({ try? ip.emit(into: $0) }) else { return }
        let again = out.withUnsafeBytes { try? IPv4Header(parsing: $0) }
        precondition(n == ip.headerLength && again?.source == ip.source && again?.destination == ip.destination
                     && again?.options == ip.options, "IPv4 round trip changed the header")
    }

    // MARK: Checksum fixing

    /// Recomputes the IPv4 header checksum and the ICMP, UDP or TCP checksum in place, staying
    /// inside the buffer whatever its length fields say.
    static func fixChecksums(_ frame: UnsafeMutableRawBufferPointer) {
        guard frame.count >= 14 else { return }
        var offset = 12
        var etherType = frame.u16(offset)
        if etherType == 0x8100 || etherType == 0x88A8 {
            offset += 4
            guard frame.count >= offset + 2 else { return }
            etherType = frame.u16(offset)
        }
        offset += 2
        guard etherType == 0x0800, frame.count >= offset + 20 else { return }
        let headerLength = Int(frame[offset] & 0xF) * 4
        guard headerLength >= 20, frame.count >= offset + headerLength else { return }
        frame.setU16(offset + 10, 0)
        frame.setU16(offset + 10, InternetChecksum.of(UnsafeRawBufferPointer(frame).slice(offset..<offset + headerLength)))
        let total = Int(frame.u16(offset + 2))
        guard total >= headerLength, offset + total <= frame.count else { return }
        let l4 = offset + headerLength, l4Length = total - headerLength
        let source = IPv4Address(UnsafeRawBufferPointer(frame), at: offset + 12)
        let destination = IPv4Address(UnsafeRawBufferPointer(frame), at: offset + 16)
        let segment = UnsafeRawBufferPointer(frame).slice(l4..<l4 + l4Length)
        switch frame[offset + 9] {
        case 1 where l4Length >= 8:
            frame.setU16(l4 + 2, 0)
            frame.setU16(l4 + 2, InternetChecksum.of(segment))
        case 6 where l4Length >= 20:
            frame.setU16(l4 + 16, 0)
            var sum = InternetChecksum()
            sum.addPseudoHeader(source: source, destination: destination, protocol: .tcp, length: l4Length)
            sum.add(segment)
            frame.setU16(l4 + 16, sum.value)
        case 17 where l4Length >= 8:
            let length = Int(frame.u16(l4 + 4))
            guard length >= 8, length <= l4Length else { return }
            frame.setU16(l4 + 6, 0)
            var sum = InternetChecksum()
            sum.addPseudoHeader(source: source, destination: destination, protocol: .udp, length: length)
            sum.add(segment.slice(0..<length))
            let value = sum.value
            frame.setU16(l4 + 6, value == 0 ? 0xFFFF : value)
        default:
            return
        }
    }

    // MARK: Seeds

    static func seeds() -> [[UInt8]] {
        let mac1 = MACAddress(0x02, 0, 0, 0, 0, 1), mac2 = MACAddress(0x02, 0, 0, 0, 0, 2)
        let a = IPv4Address(10, 0, 0, 1), b = IPv4Address(10, 0, 0, 2)
        var out: [[UInt8]] = []
        func frame(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) {
            var buffer = [UInt8](repeating: 0, count: 1600)
            guard let n = buffer.withUnsafeMutableBytes({ try? body($0) }) else { fatalError("a seed did not encode") }
            out.append([0] + buffer.prefix(n))
        }
        let eth = EthernetHeader(destination: mac2, source: mac1, etherType: .ipv4)
        let ip = IPv4Header(source: a, destination: b, protocol: .udp, payloadLength: 0)
        // ARP request and reply.
        let arp = ARPPacket(operation: .request, senderHardwareAddress: mac1, senderProtocolAddress: a,
                            targetHardwareAddress: .zero, targetProtocolAddress: b)
        for packet in [arp, arp.reply(with: mac2)] {
            frame { f in
                let h = try EthernetHeader(destination: .broadcast, source: mac1, etherType: .arp).emit(into: f)
                return h + (try packet.emit(into: f.slice(from: h)))
            }
        }
        // ICMP echo request, and a port-unreachable error quoting a UDP datagram.
        let ping: [UInt8] = Array("ping payload".utf8)
        frame { f in
            try ping.withUnsafeBytes { d in
                try IPv4Frame.emitICMP(into: f, ethernet: eth, ip: ip, icmp: ICMPv4Message(type: .echoRequest, code: 0, restOfHeader: 0x0001_0001), data: d)
            }
        }
        // UDP, and a VLAN-tagged UDP frame.
        for vlan in [nil, VLANTag(identifier: 42)] {
            frame { f in
                try ping.withUnsafeBytes { d in
                    try IPv4Frame.emitUDP(into: f, ethernet: EthernetHeader(destination: mac2, source: mac1, vlan: vlan, etherType: .ipv4),
                                          ip: ip, udp: UDPHeader(sourcePort: 5000, destinationPort: 53), payload: d)
                }
            }
        }
        // The quoted datagram of an ICMP error: the UDP frame's IP packet.
        if let udpFrame = out.last {
            let quoted = Array(udpFrame.dropFirst(1 + 18).prefix(28))
            frame { f in
                try quoted.withUnsafeBytes { d in
                    try IPv4Frame.emitICMP(into: f, ethernet: eth, ip: ip, icmp: ICMPv4Message(type: .destinationUnreachable, code: ICMPv4UnreachableCode.port), data: d)
                }
            }
        }
        // DHCP discover with the usual options.
        var options = DHCPOptions()
        options.messageType = .discover
        options.append(.parameterRequestList, [1, 3, 6, 15, 51, 54])
        options.append(.hostName, Array("guest".utf8))
        let dhcp = DHCPMessage(op: .bootRequest, xid: 0x1234_5678, chaddr: DHCPHardwareAddress(mac1), options: options)
        var dhcpBytes = [UInt8](repeating: 0, count: dhcp.encodedLength + 16)
        let dhcpLength = dhcpBytes.withUnsafeMutableBytes { (try? dhcp.emit(into: $0)) ?? 0 }
        frame { f in
            try dhcpBytes.prefix(dhcpLength).withUnsafeBytes { d in
                try IPv4Frame.emitUDP(into: f, ethernet: EthernetHeader(destination: .broadcast, source: mac1, etherType: .ipv4),
                                      ip: IPv4Header(source: .any, destination: .broadcast, protocol: .udp, payloadLength: 0), udp: UDPHeader(sourcePort: 68, destinationPort: 67), payload: d)
            }
        }
        // A TCP SYN with MSS, SACK-permitted, timestamps and window scale.
        var tcpOptions = TCPOptions()
        tcpOptions.maximumSegmentSize = 1460
        tcpOptions.windowScale = 7
        tcpOptions.sackPermitted = true
        tcpOptions.timestamp = (value: 1000, echoReply: 0)
        if let encoded = try? tcpOptions.emitted() {
            let syn = TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: 1, flags: .syn, window: 65535, options: encoded)
            frame { f in
                let ipTCP = IPv4Header(source: a, destination: b, protocol: .tcp, payloadLength: syn.headerLength)
                let h = try eth.emit(into: f)
                let i = try ipTCP.emit(into: f.slice(from: h))
                return h + i + (try syn.emit(into: f.slice(from: h + i), payload: UnsafeRawBufferPointer(start: nil, count: 0),
                                             source: a, destination: b))
            }
        }
        return out + pcapFrames()
    }
}
