import Basics
@testable import HostStack
import Testing
import Wire

/// Recomputes the IPv4 header checksum of an Ethernet/IPv4 frame in place (if the header fits).
func fixIPv4Checksum(_ frame: inout [UInt8]) {
    guard frame.count >= 34 else { return }
    let headerLength = Int(frame[14] & 0xF) * 4
    guard headerLength >= 20, frame.count >= 14 + headerLength else { return }
    frame[24] = 0; frame[25] = 0
    let sum = frame.withUnsafeBytes { InternetChecksum.of($0.slice(14..<14 + headerLength)) }
    frame[24] = UInt8(sum >> 8); frame[25] = UInt8(sum & 0xFF)
}

/// Recomputes the ICMP checksum over the IP payload, or zeroes the UDP checksum (which turns
/// verification off), so that mutated transport bytes reach the parsers above them.
func fixTransportChecksum(_ frame: inout [UInt8]) {
    guard frame.count >= 34, frame[12] == 0x08, frame[13] == 0x00 else { return }
    let headerLength = Int(frame[14] & 0xF) * 4
    let start = 14 + headerLength
    let total = Int(frame[16]) << 8 | Int(frame[17])
    let end = min(14 + total, frame.count)
    guard headerLength >= 20, start + 8 <= end else { return }
    switch frame[23] {
    case 1:
        frame[start + 2] = 0; frame[start + 3] = 0
        let sum = frame.withUnsafeBytes { InternetChecksum.of($0.slice(start..<end)) }
        frame[start + 2] = UInt8(sum >> 8); frame[start + 3] = UInt8(sum & 0xFF)
    case 17:
        frame[start + 6] = 0; frame[start + 7] = 0
    default:
        break
    }
}

@Suite("Robustness and determinism")
struct RobustnessTests {
    /// Frames that each fail one check; every one must be counted as malformed and answered by nothing.
    static let malformedFrames: [(String, [UInt8])] = {
        let echo = Frames.icmp(from: macB, to: macA, source: ipB, destination: ipA,
                               message: .echoRequest(identifier: 1, sequenceNumber: 1), data: [1, 2, 3, 4])
        let udp = Frames.udp(from: macB, to: macA, source: ipB, destination: ipA, sourcePort: 1, destinationPort: 7, payload: [9, 9])
        let arp = Frames.arp(ARPPacket.request(from: macB, ipB, asking: ipA), from: macB)
        var cases: [(String, [UInt8])] = [("runt Ethernet frame", Array(echo.prefix(10)))]
        var f = arp; f[18] = 5
        cases.append(("ARP hardware length 5", f))
        cases.append(("ARP cut to 20 bytes", Array(arp.prefix(14 + 20))))
        f = echo; f[14] = 0x44
        cases.append(("IPv4 IHL 4", f))
        f = echo; f[16] = 0x05; f[17] = 0xDC; fixIPv4Checksum(&f)
        cases.append(("IPv4 total length past the frame", f))
        f = echo; f[24] ^= 0xFF
        cases.append(("IPv4 header checksum wrong", f))
        f = echo; f[36] ^= 0x01
        cases.append(("ICMP checksum wrong", f))
        f = udp; f[38] = 0; f[39] = 7; f[40] = 0; f[41] = 0
        cases.append(("UDP length 7", f))
        f = udp; f[40] ^= 0x55
        cases.append(("UDP checksum wrong", f))
        let shortQuote = Frames.icmp(from: macB, to: macA, source: ipB, destination: ipA,
                                     message: .timeExceeded(code: 0), data: [0x45, 0, 0, 28, 0, 0])
        cases.append(("ICMP error quoting 6 bytes of header", shortQuote))
        return cases
    }()

    @Test("Malformed frames are dropped, counted, and never answered",
          arguments: RobustnessTests.malformedFrames.indices)
    func malformed(_ index: Int) {
        let (name, frame) = Self.malformedFrames[index]
        let a = host("a", macA)
        a.configureStatic(address: IPv4Network("10.0.0.1/24")!, now: .zero)
        a.startUDPEcho(port: 7)
        a.receive(frame, now: .zero)
        #expect(a.counters.malformed == 1, "\(name)")
        #expect(!a.hasOutgoing, "\(name)")
    }

    @Test("A reply without the DHCP magic cookie (plain BOOTP) is counted as unsupported")
    func dhcpWithoutCookie() {
        let (net, a, server) = dhcpLab()
        server.silent = true
        a.startDHCP(now: net.now)
        net.collectAll()
        let xid = net.frames(from: 0).first!.frame.dhcp!.xid
        var offer = DHCPMessage(op: .bootReply, xid: xid, yiaddr: offered, chaddr: DHCPHardwareAddress(macA))
        offer.messageType = .offer
        var payload = [UInt8].dhcp(offer)
        payload[236] = 0
        net.inject(Frames.udp(from: server.mac, to: .broadcast, source: server.ip, destination: .broadcast,
                              sourcePort: 67, destinationPort: 68, payload: payload), to: 0)
        net.run(for: .milliseconds(5))
        #expect(a.counters.unsupported == 1 && a.counters.malformed == 0 && a.dhcpState == .selecting)
    }

    @Test("5,000 random and mutated frames: no crash, no stuck timer, only well-formed output")
    func fuzz() throws {
        var rng = SeededRandom(seed: 2024, component: "fuzz")
        let a = host("a", macA) { $0.arp.cacheLifetime = .seconds(2) }
        let c = host("c", MACAddress(0x02, 0, 0, 0, 0, 0x0C)) { $0.addressConflictDetection = fastACD }
        a.configureStatic(address: IPv4Network("10.0.0.1/24")!, gateway: IPv4Address(10, 0, 0, 254), now: .zero)
        a.startUDPEcho(port: 7)
        a.startUDPFloodReceiver(port: 9000)
        a.openUDP(port: 5000)
        let pingID = a.ping(ipB, count: 50, interval: .milliseconds(100), now: .zero)
        c.startDHCP(now: .zero)
        let xids = c.takeOutgoing().compactMap { DecodedFrame($0)?.dhcp?.xid }
        let xid = try #require(xids.first)
        _ = a.takeOutgoing()

        // Valid frames to mutate.
        let quoted = Frames.icmp(from: macA, to: macB, source: ipA, destination: ipB,
                                 message: .echoRequest(identifier: a.pingResult(pingID).identifier, sequenceNumber: 3), data: [0, 0, 0, 0])
        var floodPayload = [UInt8](repeating: 0, count: 64)
        floodPayload.withUnsafeMutableBytes { UDPFloodPayload.write(into: $0, stream: 1, sequence: 5, sentAt: .zero) }
        var templates: [[UInt8]] = [
            Frames.arp(ARPPacket.request(from: macB, ipB, asking: ipA), from: macB),
            Frames.arp(ARPPacket.request(from: macB, ipB, asking: ipA).reply(with: macB), from: macB, to: macA),
            Frames.arp(ARPPacket.request(from: macB, .any, asking: offered), from: macB),
            Frames.arp(ARPPacket.request(from: macB, offered, asking: ipA), from: macB),
            Frames.icmp(from: macB, to: macA, source: ipB, destination: ipA, message: .echoRequest(identifier: 9, sequenceNumber: 1), data: [1, 2, 3]),
            Frames.icmp(from: macB, to: macA, source: ipB, destination: ipA,
                        message: .echoReply(identifier: a.pingResult(pingID).identifier, sequenceNumber: 2), data: []),
            Frames.icmpError(.timeExceeded(code: 0), about: quoted, router: IPv4Address(10, 0, 0, 254), routerMAC: macRouter),
            Frames.udp(from: macB, to: macA, source: ipB, destination: ipA, sourcePort: 1234, destinationPort: 7, payload: [1, 2, 3]),
            Frames.udp(from: macB, to: macA, source: ipB, destination: ipA, sourcePort: 1234, destinationPort: 9000, payload: floodPayload),
            Frames.udp(from: macB, to: macA, source: ipB, destination: ipA, sourcePort: 1234, destinationPort: 5000, payload: [7]),
            Frames.udp(from: macB, to: macA, source: ipB, destination: ipA, sourcePort: 1234, destinationPort: 4444, payload: [7]),
        ]
        let dhcpTemplates = templates.count
        for type in [DHCPMessageType.offer, .ack, .nak] {
            var m = DHCPMessage(op: .bootReply, xid: xid, yiaddr: offered, chaddr: DHCPHardwareAddress(c.mac))
            m.messageType = type
            m.options.serverIdentifier = IPv4Address(10, 0, 0, 1)
            m.options.leaseTime = 30
            m.options.subnetMask = IPv4Address(255, 255, 255, 0)
            m.options.routers = [IPv4Address(10, 0, 0, 1)]
            templates.append(Frames.udp(from: macRouter, to: .broadcast, source: IPv4Address(10, 0, 0, 1), destination: .broadcast,
                                        sourcePort: 67, destinationPort: 68, payload: .dhcp(m)))
        }

        func random(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        var now = Instant.zero
        var outputs = 0
        for i in 0..<5000 {
            var frame: [UInt8]
            if i % 4 == 0 {
                frame = (0..<random(300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if frame.count > 14, random(2) == 0 { frame[12] = 0x08; frame[13] = UInt8(random(2) * 6) }   // IPv4 or ARP
                if frame.count > 6, random(2) == 0 { for k in 0..<6 { frame[k] = 0xFF } }
            } else {
                let t = random(templates.count)
                frame = templates[t]
                if t >= dhcpTemplates {
                    // Follow the client's current transaction, so replies get past the xid check.
                    let x = c.dhcp.xid
                    frame[46] = UInt8(x >> 24); frame[47] = UInt8((x >> 16) & 0xFF)
                    frame[48] = UInt8((x >> 8) & 0xFF); frame[49] = UInt8(x & 0xFF)
                    frame[40] = 0; frame[41] = 0
                }
                switch random(4) {
                case 0: frame = Array(frame.prefix(random(frame.count + 1)))
                case 1: frame += (0..<random(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                default: break
                }
                for _ in 0..<(1 + random(4)) where !frame.isEmpty {
                    frame[random(frame.count)] ^= UInt8(truncatingIfNeeded: 1 + random(255))
                }
                if random(2) == 0 { fixTransportChecksum(&frame); fixIPv4Checksum(&frame) }
            }
            now = now + .milliseconds(Int64(random(20)))
            for h in [a, c] {
                h.receive(frame, now: now)
                var polls = 0
                while let d = h.nextDeadline(), d <= now {
                    h.poll(now: now)
                    polls += 1
                    if polls > 100 { Issue.record("\(h.name) timer stuck at \(now) after frame \(i)"); return }
                }
                for out in h.takeOutgoing() {
                    outputs += 1
                    let d = try #require(DecodedFrame(out), "unparseable output after frame \(i)")
                    #expect(d.arp != nil || d.ip != nil, "output neither ARP nor IPv4 after frame \(i)")
                }
            }
        }
        #expect(a.counters.framesReceived == 5000 && c.counters.framesReceived == 5000)
        #expect(a.counters.malformed > 500)
        #expect(a.counters.echoRepliesSent > 0 && a.counters.arpRepliesSent > 0)
        #expect(outputs > 0)
        // The mutated DHCP replies drove the client through its states, not just its xid check.
        #expect(c.counters.dhcpReceived - c.counters.dhcpIgnored > 10 && c.dhcpTransitions.count > 4)

        // Still a working host: a fresh peer resolves it and gets answers.
        let net = TestNetwork(delay: .milliseconds(1))
        let b = host("b", macB)
        net.attach(a); net.attach(b)
        a.configureStatic(address: IPv4Network("10.0.0.1/24")!, now: net.now)
        b.configureStatic(address: IPv4Network("10.0.0.2/24")!, now: net.now)
        let id = b.ping(ipA, count: 3, interval: .milliseconds(100), now: net.now)
        net.run(for: .seconds(1))
        #expect(b.pingResult(id).received == 3)
    }

    /// A busy scenario — DHCP with RFC 5227, ping, a flood, renewals — on a lossy hub; every frame.
    func trace(seed: UInt64) -> [TestNetwork.Sent] {
        let net = TestNetwork(delay: .milliseconds(2))
        let a = host("a", macA, seed: seed) { $0.addressConflictDetection = fastACD }
        let b = host("b", macB, seed: seed)
        let server = FakeDHCPServer()
        net.attach(a); net.attach(b); net.attach(server)
        var loss = SeededRandom(seed: seed, component: "loss")
        // DHCP is spared so that every seed binds by 10 s and the trace stays busy.
        net.impairment = { frame, _, _ in
            DecodedFrame(frame)?.dhcp == nil && loss.nextUnit() < 0.05 ? .drop : .deliver
        }
        b.configureStatic(address: IPv4Network("10.0.0.2/24")!, now: net.now)
        b.startUDPFloodReceiver(port: 9000)
        a.startDHCP(now: net.now)
        net.run(until: .at(.seconds(10)))
        a.ping(ipB, count: 10, interval: .milliseconds(200), now: net.now)
        a.startUDPFlood(to: ipB, port: 9000, size: 300, rate: .packetsPerSecond(200), duration: .seconds(1), now: net.now)
        net.run(until: .at(.seconds(130)))
        return net.log
    }

    @Test("Same seed, same frames at the same times; another seed, another trace")
    func determinism() {
        let first = trace(seed: 42), second = trace(seed: 42), other = trace(seed: 43)
        #expect(first.count > 220)   // DHCP, probes, 10 pings, 200 flood datagrams, renewals
        #expect(first.map(\.frame) == second.map(\.frame))
        #expect(first.map(\.time) == second.map(\.time))
        #expect(first.map(\.frame) != other.map(\.frame))
    }
}
