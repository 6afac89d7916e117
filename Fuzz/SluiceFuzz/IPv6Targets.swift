// Fuzz targets `ipv6-frame` and `dhcpv6` (layer 1, Wire): an Ethernet frame taken apart as IPv6 —
// fixed header, extension header walk, ICMPv6 (+quoted packet), NDP (+options), UDP and TCP over
// IPv6, DHCPv6 in any UDP payload — and a DHCPv6 message with every typed accessor. Whatever
// parses is emitted again and must parse back equal.
//
// `ipv6-frame` input: one flags byte, then the frame. Flag bit 0 asks the harness to fix the
// ICMPv6/UDP/TCP checksum first (over the IPv6 pseudo-header), so mutations reach past it.
// `dhcpv6` input: the message (a UDP payload).
import Wire

enum IPv6FrameTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.u8()
        var frame = exactCopy(input.rest())
        frame.withUnsafeMutableBytes { buffer in
            if flags & 1 != 0 { fixChecksum(buffer) }
            parseFrame(UnsafeRawBufferPointer(buffer))
        }
    }

    static func parseFrame(_ frame: UnsafeRawBufferPointer) {
        guard let parsed = try? IPv6Frame.parse(frame) else { return }
        let range = parsed.upperLayerRange
        precondition(range.lowerBound >= parsed.ipOffset + 40 && range.lowerBound <= range.upperBound && range.upperBound <= frame.count,
                     "IPv6Frame.parse returned an upper-layer range \(range) outside the \(frame.count)-byte frame")
        let e = parsed.extensions
        precondition(e.count <= IPv6ExtensionHeaderLimits.default.maximumHeaders && e.byteCount <= IPv6ExtensionHeaderLimits.default.maximumBytes)
        precondition(e.nextHeaderFieldOffset < e.upperLayerOffset, "Next Header field past the upper layer")
        if let option = e.unrecognizedOption { precondition(option.offset < e.upperLayerOffset && option.action != 0) }
        var ip = parsed.ip
        var out = [UInt8](repeating: 0, count: 40)
        _ = out.withUnsafeMutableBytes { try? ip.emit(into: $0) }
        ip.payloadLength = 0
        precondition(out.withUnsafeBytes({ try? IPv6Header(parsingQuoted: $0) })?.source == ip.source, "IPv6 header round trip")
        guard e.hasParsableUpperLayer else { return }
        let l4 = frame.slice(range)
        let source = parsed.ip.source, destination = parsed.ip.destination
        switch e.upperLayer {
        case .icmpv6:
            guard let icmp = try? ICMPv6Message(parsing: l4, source: source, destination: destination) else { return }
            if icmp.isError, let quoted = try? ICMPv6Message.quotedPacket(in: l4.slice(from: 8)) {
                precondition(quoted.upperLayer.upperBound == l4.count - 8 && quoted.upperLayer.lowerBound >= 40)
            }
            if NDPMessage.isNDP(icmp.type), let message = try? NDPMessage(parsing: l4, ip: parsed.ip) {
                var again = [UInt8](repeating: 0, count: message.encodedLength)
                guard let n = again.withUnsafeMutableBytes({ try? message.emit(into: $0, source: source, destination: destination) }) else {
                    fatalError("a parsed NDP message does not emit")
                }
                let back = again.withUnsafeBytes { try? NDPMessage(parsing: $0.slice(0..<n), ip: parsed.ip) }
                precondition(back == message, "NDP round trip changed the message")
            }
        case .udp:
            guard let udp = try? UDPHeader(parsing: l4, source: source, destination: destination) else { return }
            let end = Int(udp.length)
            precondition(end >= 8 && end <= l4.count, "UDP length \(end) accepted for a \(l4.count)-byte payload")
            DHCPv6Target.parseMessage(l4.slice(8..<end))
        case .tcp:
            guard let tcp = try? TCPHeader(parsing: l4, source: source, destination: destination) else { return }
            precondition(tcp.headerLength <= l4.count, "TCP header length past the segment")
        default:
            return
        }
    }

    /// Recomputes the ICMPv6, UDP or TCP checksum of an untagged or tagged IPv6 frame without
    /// extension headers, staying inside the buffer whatever its length fields say.
    static func fixChecksum(_ frame: UnsafeMutableRawBufferPointer) {
        guard frame.count >= 14 else { return }
        var offset = 12
        var etherType = frame.u16(offset)
        if etherType == 0x8100 {
            offset += 4
            guard frame.count >= offset + 2 else { return }
            etherType = frame.u16(offset)
        }
        offset += 2
        guard etherType == 0x86DD, frame.count >= offset + 40 else { return }
        let length = Int(frame.u16(offset + 4))
        guard offset + 40 + length <= frame.count else { return }
        let view = UnsafeRawBufferPointer(frame)
        let source = IPv6Address(view, at: offset + 8), destination = IPv6Address(view, at: offset + 24)
        let l4 = offset + 40
        let next = frame[offset + 6]
        let field: Int
        switch next {
        case 58 where length >= 8: field = 2
        case 17 where length >= 8: field = 6
        case 6 where length >= 20: field = 16
        default: return
        }
        var covered = length
        if next == 17 {
            let udpLength = Int(frame.u16(l4 + 4))
            guard udpLength >= 8, udpLength <= length else { return }
            covered = udpLength
        }
        frame.setU16(l4 + field, 0)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, nextHeader: IPProtocol(rawValue: next), length: covered)
        sum.add(view.slice(l4..<l4 + covered))
        let value = sum.value
        frame.setU16(l4 + field, next == 17 && value == 0 ? 0xFFFF : value)
    }

    static func seeds() -> [[UInt8]] {
        let mac1 = MACAddress(0x02, 0, 0, 0, 0, 1), mac2 = MACAddress(0x02, 0, 0, 0, 0, 2)
        let a = IPv6Address.linkLocal(mac: mac1), b = IPv6Address.linkLocal(mac: mac2)
        var out: [[UInt8]] = []
        func frame(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) {
            var buffer = [UInt8](repeating: 0, count: 1600)
            guard let n = buffer.withUnsafeMutableBytes({ try? body($0) }) else { fatalError("a seed did not encode") }
            out.append([1] + buffer.prefix(n))
        }
        let eth = EthernetHeader(destination: mac2, source: mac1, etherType: .ipv6)
        let ip = IPv6Header(source: a, destination: b, nextHeader: .noNextHeader, payloadLength: 0)
        let data: [UInt8] = Array("ping6 payload".utf8)
        frame { f in try data.withUnsafeBytes { try IPv6Frame.emitICMPv6(into: f, ethernet: eth, ip: ip, icmp: .echoRequest(identifier: 1, sequenceNumber: 1), data: $0) } }
        frame { f in try data.withUnsafeBytes { try IPv6Frame.emitUDP(into: f, ethernet: eth, ip: ip, udp: UDPHeader(sourcePort: 5000, destinationPort: 53), payload: $0) } }
        frame { f in
            try IPv6Frame.emitTCP(into: f, ethernet: eth, ip: ip, tcp: TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: 3, flags: .syn, window: 100), payloadLength: 0)
        }
        if let udp = out.last.map({ Array($0.dropFirst(15)) }) {
            frame { f in try udp.withUnsafeBytes { try IPv6Frame.emitICMPv6Error(into: f, ethernet: eth, ip: ip, icmp: .packetTooBig(mtu: 1280), invoking: $0) } }
        }
        let messages: [(NDPMessage, IPv6Address)] = [
            (.routerSolicitation(NDPRouterSolicitation(options: [.sourceLinkLayerAddress(mac1)])), .allRouters),
            (.routerAdvertisement(NDPRouterAdvertisement(routerLifetime: 1800, options: [
                .sourceLinkLayerAddress(mac1), .mtu(1500),
                .prefixInformation(NDPPrefixInformation(prefix: IPv6Address("2001:db8::")!, prefixLength: 64, validLifetime: 600, preferredLifetime: 300)),
                .recursiveDNSServers(lifetime: 600, servers: [IPv6Address("2001:db8::53")!])])), .allNodes),
            (.neighborSolicitation(NDPNeighborSolicitation(target: b, options: [.sourceLinkLayerAddress(mac1)])), b.solicitedNodeMulticast),
            (.neighborAdvertisement(NDPNeighborAdvertisement(solicited: true, override: true, target: a, options: [.targetLinkLayerAddress(mac1)])), b),
            (.redirect(NDPRedirect(target: b, destination: IPv6Address("2001:db8::9")!, options: [.redirectedHeader([UInt8](repeating: 0x60, count: 40))])), b),
        ]
        for (message, destination) in messages {
            frame { f in try IPv6Frame.emitNDP(into: f, ethernet: eth, source: a, destination: destination, message: message) }
        }
        for message in DHCPv6Target.seeds() {
            frame { f in try message.withUnsafeBytes { try IPv6Frame.emitUDP(into: f, ethernet: eth, ip: ip, udp: UDPHeader(sourcePort: 546, destinationPort: 547), payload: $0) } }
        }
        return out
    }
}

enum DHCPv6Target {
    static func run(_ data: UnsafeRawBufferPointer) {
        let copy = exactCopy(data)
        copy.withUnsafeBytes { parseMessage($0) }
    }

    static func parseMessage(_ bytes: UnsafeRawBufferPointer) {
        guard let message = try? DHCPv6Message(parsing: bytes) else { return }
        var out = [UInt8](repeating: 0, count: message.encodedLength)
        guard let n = out.withUnsafeMutableBytes({ try? message.emit(into: $0) }) else { fatalError("a parsed DHCPv6 message does not emit") }
        precondition(n == bytes.count && out.withUnsafeBytes({ $0.elementsEqual(bytes) }), "DHCPv6 round trip changed the bytes")
        let o = message.options
        _ = try? o.clientIdentifier(); _ = try? o.serverIdentifier(); _ = try? o.optionRequest(); _ = try? o.dnsServers()
        _ = try? o.status(); _ = try? o.rapidCommit(); _ = try? o.preference(); _ = try? o.elapsedTime()
        for ia in (try? o.identityAssociations()) ?? [] { _ = try? ia.options.addresses(); _ = try? ia.options.status() }
        for pd in (try? o.prefixDelegations()) ?? [] { _ = try? pd.options.prefixes() }
        if let duid = try? o.clientIdentifier() { precondition((try? DHCPv6DUID(bytes: duid.bytes)) == duid, "DUID round trip") }
        // One level of relay nesting is read; deeper levels are the caller's loop, bounded by the hop count.
        _ = try? message.relayedMessage()
    }

    static func seeds() -> [[UInt8]] {
        let duid = DHCPv6DUID.linkLayer(mac: MACAddress(0x02, 0, 0, 0, 0, 1))
        let messages = [
            DHCPv6Message(type: .solicit, transactionID: 0x10203, options: DHCPv6Options([
                .clientIdentifier(duid), .elapsedTime(0), .rapidCommit, .identityAssociation(DHCPv6IdentityAssociation(iaid: 1)),
                .identityAssociationPD(DHCPv6IdentityAssociation(iaid: 2)), .optionRequest([.dnsServers, .domainList])])),
            DHCPv6Message(type: .reply, transactionID: 0x10203, options: DHCPv6Options([
                .serverIdentifier(.linkLayerPlusTime(hardwareType: 1, time: 1, linkLayerAddress: [2, 0, 0, 0, 0, 2])), .clientIdentifier(duid),
                .identityAssociation(DHCPv6IdentityAssociation(iaid: 1, t1: 100, t2: 200, options: DHCPv6Options([
                    .address(DHCPv6IAAddress(address: IPv6Address("2001:db8::100")!, preferredLifetime: 300, validLifetime: 600)),
                    .status(.success, message: "ok")]))),
                .identityAssociationPD(DHCPv6IdentityAssociation(iaid: 2, options: DHCPv6Options([
                    .prefix(DHCPv6IAPrefix(prefix: IPv6Address("2001:db8:ff00::")!, prefixLength: 56, preferredLifetime: 300, validLifetime: 600))]))),
                .dnsServers([IPv6Address("2001:db8::53")!]), .preference(255)])),
        ]
        var out: [[UInt8]] = []
        for m in messages {
            var bytes = [UInt8](repeating: 0, count: m.encodedLength)
            _ = bytes.withUnsafeMutableBytes { try? m.emit(into: $0) }
            out.append(bytes)
        }
        let relay = DHCPv6Message(relay: .relayForward, hopCount: 0, linkAddress: IPv6Address("2001:db8::1")!,
                                  peerAddress: IPv6Address("fe80::1")!, options: DHCPv6Options([.relayMessage(out[0])]))
        var bytes = [UInt8](repeating: 0, count: relay.encodedLength)
        _ = bytes.withUnsafeMutableBytes { try? relay.emit(into: $0) }
        out.append(bytes)
        return out
    }
}
