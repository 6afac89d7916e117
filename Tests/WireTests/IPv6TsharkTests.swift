// An independent reader for the IPv6 codecs: Wireshark's tshark dissects frames our emitters wrote
// (IPv6 with extension headers, ICMPv6 echo and errors, NDP with every option, UDP and TCP over
// IPv6, DHCPv6) with checksum validation on, and must find nothing malformed, no bad checksum, and
// the types we wrote.
import Foundation
import Testing
@testable import Wire

private let tshark: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
    .split(separator: ":").map { "\($0)/tshark" }
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// A little-endian pcap (link type Ethernet) of `frames`.
private func pcap(_ frames: [[UInt8]]) -> [UInt8] {
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    var out = le32(0xA1B2_C3D4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65_535) + le32(1)
    for (i, frame) in frames.enumerated() {
        out += le32(UInt32(i + 1)) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
    }
    return out
}

private let routerMAC = MACAddress(0x02, 0x53, 0x4C, 0, 0, 1), hostMAC = MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56)
private let routerLL = IPv6Address.linkLocal(mac: routerMAC), hostLL = IPv6Address.linkLocal(mac: hostMAC)
private let host = IPv6Address("2001:db8:0:1:5054:ff:fe12:3456")!, far = IPv6Address("2001:db8:9::1")!

private func frame(_ emit: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xAA, count: 1600)
    let n = try buffer.withUnsafeMutableBytes { try emit($0) }
    return Array(buffer[0..<n])
}

private func ethernet(to destination: IPv6Address? = nil, from source: MACAddress = hostMAC) -> EthernetHeader {
    EthernetHeader(destination: destination.map(\.multicastMAC) ?? routerMAC, source: source, etherType: .ipv6)
}

/// Frames covering every codec, and the ICMPv6 type or DHCPv6 message type tshark should name in each.
private func frames() throws -> [(frame: [UInt8], icmpv6Type: Int?, dhcpv6Type: Int?)] {
    let ip = IPv6Header(source: host, destination: far, nextHeader: .noNextHeader, payloadLength: 0)
    let empty = UnsafeRawBufferPointer(start: nil, count: 0)
    var out: [([UInt8], Int?, Int?)] = []
    let data: [UInt8] = Array(0..<57)
    out.append((try frame { f in try data.withUnsafeBytes { try IPv6Frame.emitICMPv6(into: f, ethernet: ethernet(), ip: ip, icmp: .echoRequest(identifier: 7, sequenceNumber: 1), data: $0) } }, 128, nil))
    out.append((try frame { f in try data.withUnsafeBytes { try IPv6Frame.emitUDP(into: f, ethernet: ethernet(), ip: ip, udp: UDPHeader(sourcePort: 40000, destinationPort: 9), payload: $0) } }, nil, nil))
    let tcp = TCPHeader(sourcePort: 40001, destinationPort: 22, sequenceNumber: 0x1000, flags: .syn, window: 64240,
                        options: HeaderOptions([2, 4, 0x05, 0xA0, 1, 1, 4, 2])!)
    out.append((try frame { f in try IPv6Frame.emitTCP(into: f, ethernet: ethernet(), ip: ip, tcp: tcp, payloadLength: 0) }, nil, nil))
    // Errors quoting a 1500-octet UDP packet: the whole error is 1280 octets.
    let big = try frame { f in
        try [UInt8](repeating: 0x5A, count: 1452).withUnsafeBytes {
            try IPv6Frame.emitUDP(into: f, ethernet: nil, ip: ip, udp: UDPHeader(sourcePort: 40000, destinationPort: 9), payload: $0)
        }
    }
    let router = IPv6Header(source: routerLL, destination: host, nextHeader: .icmpv6, payloadLength: 0)
    for (message, type) in [(ICMPv6Message.packetTooBig(mtu: 1420), 2), (.destinationUnreachable(code: 0), 1),
                            (.timeExceeded(code: 0), 3), (.parameterProblem(code: 0, pointer: 4), 4)] {
        out.append((try frame { f in try big.withUnsafeBytes { try IPv6Frame.emitICMPv6Error(into: f, ethernet: ethernet(from: routerMAC), ip: router, icmp: message, invoking: $0) } }, type, nil))
    }
    // NDP, every message and option.
    let ra = NDPMessage.routerAdvertisement(NDPRouterAdvertisement(
        currentHopLimit: 64, otherConfiguration: true, routerPreference: 1, routerLifetime: 1800, reachableTime: 30000, retransmitTimer: 1000,
        options: [.sourceLinkLayerAddress(routerMAC), .mtu(1420),
                  .prefixInformation(NDPPrefixInformation(prefix: IPv6Address("2001:db8:0:1::")!, prefixLength: 64, validLifetime: 86400, preferredLifetime: 14400)),
                  .recursiveDNSServers(lifetime: 600, servers: [IPv6Address("2001:db8::53")!])]))
    let quoted = Array(big[0..<200])
    let ndp: [(NDPMessage, IPv6Address, IPv6Address, MACAddress)] = [
        (.routerSolicitation(NDPRouterSolicitation(options: [.sourceLinkLayerAddress(hostMAC)])), hostLL, .allRouters, hostMAC),
        (ra, routerLL, .allNodes, routerMAC),
        (.neighborSolicitation(NDPNeighborSolicitation(target: routerLL, options: [.sourceLinkLayerAddress(hostMAC)])), hostLL, routerLL.solicitedNodeMulticast, hostMAC),
        (.neighborSolicitation(NDPNeighborSolicitation(target: host)), .unspecified, host.solicitedNodeMulticast, hostMAC),
        (.neighborAdvertisement(NDPNeighborAdvertisement(router: true, solicited: true, override: true, target: routerLL, options: [.targetLinkLayerAddress(routerMAC)])), routerLL, hostLL, routerMAC),
        (.redirect(NDPRedirect(target: IPv6Address("fe80::99")!, destination: far, options: [.targetLinkLayerAddress(hostMAC), .redirectedHeader(quoted)])), routerLL, hostLL, routerMAC),
    ]
    for (message, source, destination, mac) in ndp {
        out.append((try frame { f in
            try IPv6Frame.emitNDP(into: f, ethernet: ethernet(to: destination.isMulticast ? destination : nil, from: mac), source: source, destination: destination, message: message)
        }, Int(message.type.rawValue), nil))
    }
    // DHCPv6 solicit and reply.
    let duid = DHCPv6DUID.linkLayer(mac: hostMAC)
    let messages = [
        DHCPv6Message(type: .solicit, transactionID: 0x123456, options: DHCPv6Options([
            .clientIdentifier(duid), .elapsedTime(0), .rapidCommit, .identityAssociation(DHCPv6IdentityAssociation(iaid: 1)),
            .optionRequest([.dnsServers])])),
        DHCPv6Message(type: .reply, transactionID: 0x123456, options: DHCPv6Options([
            .serverIdentifier(.linkLayerPlusTime(hardwareType: 1, time: 1000, linkLayerAddress: routerMAC.octets)), .clientIdentifier(duid), .rapidCommit,
            .identityAssociation(DHCPv6IdentityAssociation(iaid: 1, t1: 1800, t2: 2880, options: DHCPv6Options([
                .address(DHCPv6IAAddress(address: IPv6Address("2001:db8:0:1::100")!, preferredLifetime: 3600, validLifetime: 7200)),
                .status(.success, message: "assigned")]))),
            .identityAssociationPD(DHCPv6IdentityAssociation(iaid: 2, options: DHCPv6Options([
                .prefix(DHCPv6IAPrefix(prefix: IPv6Address("2001:db8:ff00::")!, prefixLength: 56, preferredLifetime: 300, validLifetime: 600))]))),
            .dnsServers([IPv6Address("2001:db8::53")!]), .preference(255)])),
    ]
    for (i, m) in messages.enumerated() {
        var payload = [UInt8](repeating: 0, count: m.encodedLength)
        _ = try payload.withUnsafeMutableBytes { try m.emit(into: $0) }
        let (s, d, sp, dp) = i == 0 ? (hostLL, IPv6Address.allDHCPRelayAgentsAndServers, DHCPv6Constants.clientPort, DHCPv6Constants.serverPort)
                                    : (routerLL, hostLL, DHCPv6Constants.serverPort, DHCPv6Constants.clientPort)
        out.append((try frame { f in try payload.withUnsafeBytes {
            try IPv6Frame.emitUDP(into: f, ethernet: ethernet(to: d.isMulticast ? d : nil), ip: IPv6Header(source: s, destination: d, nextHeader: .udp, payloadLength: 0, hopLimit: 1),
                                  udp: UDPHeader(sourcePort: sp, destinationPort: dp), payload: $0)
        } }, nil, Int(m.type.rawValue)))
    }
    // A hand-built chain: hop-by-hop (router alert), routing (type 4, 0 left), first fragment, then ICMPv6 echo.
    let echo = try frame { f in try ICMPv6Message.echoRequest(identifier: 1, sequenceNumber: 9).emit(into: f, data: empty, source: host, destination: far) }
    let fragment = try frame { f in try IPv6FragmentHeader(nextHeader: .icmpv6, fragmentOffset: 0, moreFragments: false, identification: 0x11223344).emit(into: f) }
    let chain: [UInt8] = [43, 0, 5, 2, 0, 0, 1, 0] + [44, 2, 4, 0] + [UInt8](repeating: 0, count: 20) + fragment
    let chainIP = IPv6Header(source: host, destination: far, nextHeader: .hopByHopOptions, payloadLength: chain.count + echo.count)
    let header = try frame { f in try ethernet().emit(into: f) } + (try frame { f in try chainIP.emit(into: f) })
    out.append((header + chain + echo, 128, nil))
    return out
}

@Test(.enabled(if: tshark != nil, "tshark is not on PATH, so no independent reader checks the IPv6 codecs"))
func tsharkDissectsOurIPv6FramesWithValidChecksums() throws {
    let cases = try frames()
    let path = NSTemporaryDirectory() + "ipv6-tshark-\(ProcessInfo.processInfo.processIdentifier).pcap"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data(pcap(cases.map(\.frame))).write(to: URL(fileURLWithPath: path))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tshark!)
    process.arguments = ["-r", path, "-n", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                         "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                         "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "icmpv6.checksum.status",
                         "-e", "udp.checksum.status", "-e", "tcp.checksum.status", "-e", "icmpv6.type", "-e", "dhcpv6.msgtype",
                         "-e", "ipv6.plen"]
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "tshark failed: \(errors)")
    let lines = output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map {
        $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }
    try #require(lines.count == cases.count, "tshark saw \(lines.count) frames, we wrote \(cases.count)")
    for (i, (fields, c)) in zip(lines, cases).enumerated() {
        try #require(fields.count == 8, "frame \(i + 1): \(fields)")
        #expect(fields[0].isEmpty, "frame \(i + 1) malformed: \(fields)")
        // Expert severities: 0x00400000 is "note", 0x00600000 "warning", 0x00800000 "error".
        let severities = fields[1].split(separator: ",").compactMap { Int($0) }
        #expect(severities.allSatisfy { $0 < 0x0080_0000 }, "frame \(i + 1) has an error: \(fields)")
        // Checksum status 1 is "Good" (0 bad, 2 unverified: the cut-short datagram quoted in an
        // error). No checksum is bad, and the frame's own upper layer (the first value) is good.
        for column in 2...4 where !fields[column].isEmpty {
            let statuses = fields[column].split(separator: ",")
            #expect(!statuses.contains("0"), "frame \(i + 1) bad checksum: \(fields)")
        }
        let outer = c.icmpv6Type != nil ? fields[2] : (fields[3].isEmpty ? fields[4] : fields[3])
        #expect(outer.split(separator: ",").first == "1", "frame \(i + 1) checksum not verified good: \(fields)")
        if let t = c.icmpv6Type { #expect(fields[5].split(separator: ",").first.map(String.init) == String(t), "frame \(i + 1): \(fields)") }
        if let t = c.dhcpv6Type { #expect(fields[6] == String(t), "frame \(i + 1): \(fields)") }
    }
    // The four errors are exactly the minimum MTU.
    #expect(lines[3..<7].allSatisfy { $0[7].hasPrefix("1240") })
}
