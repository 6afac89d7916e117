// The NAT and fragments: every fragment of a datagram translated consistently, both ways, with
// the transport checksum (in the first fragment, over the whole datagram) still right; tiny and
// overlapping-offset fragments dropped and counted; hostile fragments never crash it.
import Basics
import Testing
import Wire
@testable import Datapath

private typealias L = NATLab

/// Cuts a bare datagram (any header length) into fragments of at most `size` data bytes (a
/// multiple of 8), keeping the input's own offset and MF like RFC 791.
private func cut(_ packet: [UInt8], size: Int) -> [[UInt8]] {
    let headerLength = Int(packet[0] & 0x0F) * 4
    let data = Array(packet[headerLength...])
    var pieces: [[UInt8]] = []
    var position = 0
    while position < data.count {
        let n = min(size, data.count - position)
        var p = Array(packet[0..<headerLength]) + data[position..<(position + n)]
        let total = p.count
        p[2] = UInt8(total >> 8); p[3] = UInt8(total & 0xFF)
        let more: UInt16 = position + n < data.count ? 0x2000 : 0
        let flags = more | UInt16(position / 8)
        p[6] = UInt8(flags >> 8); p[7] = UInt8(flags & 0xFF)
        fixIPChecksum(&p)
        pieces.append(p)
        position += n
    }
    return pieces
}

/// Fragments in any order back into one bare datagram (each checked by Wire's parser).
private func joined(_ fragments: [[UInt8]]) throws -> [UInt8] {
    let parsed = try fragments.map { f in (f, try f.withUnsafeBytes { (b) throws in try IPv4Header(parsing: b) }) }
        .sorted { $0.1.fragmentOffset < $1.1.fragmentOffset }
    var data: [UInt8] = []
    for (bytes, ip) in parsed {
        #expect(Int(ip.fragmentOffset) * 8 == data.count)
        data += bytes[ip.headerLength...]
    }
    let first = parsed[0].0
    var whole = Array(first[0..<parsed[0].1.headerLength]) + data
    let total = whole.count
    whole[2] = UInt8(total >> 8); whole[3] = UInt8(total & 0xFF)
    whole[6] = 0; whole[7] = 0
    fixIPChecksum(&whole)
    return whole
}

/// A router (LAN 10.0.0.1/24 on Ethernet, a point-to-point WAN with MTU 1420 and the default
/// route) whose WAN packets go through a NAT, as the bridge's WAN does (WAN+Masquerade.swift).
private struct RouterAndNAT {
    let router: Router
    let nat: NAT
    init(mtu: Int = 1420) throws {
        var c = RouterConfiguration(interfaces: [
            RouterInterface(mac: Lab.routerMAC0, network: IPv4Network("10.0.0.1/24")!, mtu: 1500),
            .pointToPoint(network: IPv4Network("203.0.113.7/32")!, mtu: mtu),
        ])
        c.staticRoutes = [StaticRoute(destination: IPv4Network("0.0.0.0/0")!, interface: 1)]
        router = try Router(c)
        nat = try L.nat()
    }

    /// Sends a guest's frame through the router; returns the WAN packets after the NAT.
    func outbound(_ frame: [UInt8], now: Instant = L.t0) -> [[UInt8]] {
        var out = CapturedOutput()
        router.receive(frame, on: 0, now: now, output: &out)
        return out.packets.compactMap { p in
            var bytes = p.packet
            let verdict = bytes.withUnsafeMutableBytes { nat.translateOutbound($0, now: now) }
            return verdict == .translated ? bytes : nil
        }
    }
}

@Suite struct NATFragmentTests {
    @Test(arguments: [1500, 4000])
    func aGuestsBigDatagramLeavesAsTranslatedFragmentsThatReassembleWithAValidChecksum(size: Int) throws {
        let lab = try RouterAndNAT()
        // Another host holds external port 40000, so this flow's port is changed too: the
        // incremental checksum update covers a port and an address, in the first fragment only.
        #expect(lab.outbound(Lab.udpFrame(source: IPv4Address(10, 0, 0, 3), destination: L.server, payloadLength: 10,
                                          sourcePort: 40000, destinationPort: 9)).count == 1)
        let payloadLength = size - 28
        let frame = Lab.udpFrame(source: L.hostA, destination: L.server, payloadLength: payloadLength, marker: 3,
                                 sourcePort: 40000, destinationPort: 4500)
        let sent = lab.outbound(frame)
        #expect(sent.count == (size - 20 + 1399) / 1400)
        #expect(sent.allSatisfy { $0.count <= 1420 })
        for f in sent {
            let ip = try f.withUnsafeBytes { (b) throws in try IPv4Header(parsing: b) }
            #expect(ip.source == L.external && ip.identification == 77, "every fragment from the external address, same ID")
        }
        let whole = try NATPacket(joined(sent))
        let (udp, data) = try whole.udp()                                          // verifies the checksum
        let mapping = try #require(lab.nat.mapping(.udp, internalAddress: L.hostA, internalPort: 40000))
        #expect(mapping.externalPort != 40000 && udp.sourcePort == mapping.externalPort)
        #expect(data == (0..<payloadLength).map { UInt8(truncatingIfNeeded: 3 + $0) })

        // The reply, fragmented on its way (by the server's side), comes back in pieces.
        let reply = L.udp(L.server, 4500, L.external, mapping.externalPort, payload: Array(data.reversed()))
        let pieces = cut(reply, size: 1400)
        var translated: [[UInt8]] = []
        for var p in pieces {
            #expect(lab.nat.inbound(&p) == .translated)
            translated.append(p)
        }
        let back = try NATPacket(joined(translated))
        let (udpBack, dataBack) = try back.udp()
        #expect(back.ip.destination == L.hostA && udpBack.destinationPort == 40000 && dataBack == Array(data.reversed()))
        #expect(lab.nat.counters.drops.total == 0)
    }

    @Test func aGuestsOwnFragmentsAreTranslatedInAnyOrder() throws {
        let nat = try L.nat()
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let datagram = L.udp(L.hostA, 5353, L.server, 53, payload: payload)
        var pieces = cut(datagram, size: 1024)
        #expect(pieces.count == 3)
        // Later fragments first: they need only the external address.
        for i in [2, 1, 0] { #expect(nat.outbound(&pieces[i]) == .translated) }
        let whole = try NATPacket(joined(pieces))
        let data = try whole.udp().data
        #expect(whole.ip.source == L.external && data == payload)
    }

    @Test func tinyAndOverlappingOffsetFragmentsAreDroppedAndCounted() throws {
        let nat = try L.nat()
        // A first fragment with 4 bytes of UDP header: the ports would be in the next one.
        let udp = L.udp(L.hostA, 40000, L.server, 4500, payload: Array(0..<40))
        var tiny = Array(udp[0..<24]); tiny[2] = 0; tiny[3] = 24; tiny[6] = 0x20; fixIPChecksum(&tiny)
        #expect(nat.outbound(&tiny) == .drop(.tinyFragment))
        // A first TCP fragment of 16 bytes: the flags would be in the next.
        let tcp = L.tcp(L.hostA, 40001, L.server, 443, flags: [.syn], payload: Array(0..<32))
        var tinyTCP = Array(tcp[0..<36]); tinyTCP[2] = 0; tinyTCP[3] = 36; tinyTCP[6] = 0x20; fixIPChecksum(&tinyTCP)
        #expect(nat.outbound(&tinyTCP) == .drop(.tinyFragment))
        // RFC 1858 §3.2: a TCP fragment at offset 1 overwrites the header's flags at reassembly.
        var overlap = Array(tcp[0..<20]) + Array(tcp[28...]); overlap[2] = 0; overlap[3] = UInt8(overlap.count)
        overlap[6] = 0; overlap[7] = 1; fixIPChecksum(&overlap)
        var overlapIn = overlap
        #expect(nat.outbound(&overlap) == .drop(.tinyFragment))
        overlapIn.replaceSubrange(12..<16, with: [198, 51, 100, 10]); overlapIn.replaceSubrange(16..<20, with: [203, 0, 113, 7])
        fixIPChecksum(&overlapIn)
        #expect(nat.inbound(&overlapIn) == .drop(.tinyFragment))
        // A whole datagram that short is malformed, not a tiny fragment.
        var short = Array(udp[0..<24]); short[2] = 0; short[3] = 24; fixIPChecksum(&short)
        #expect(nat.outbound(&short) == .drop(.malformed))
        #expect(nat.counters.drops[.tinyFragment] == 4 && nat.counters.drops[.malformed] == 1)
        #expect(nat.mappingCount == 0, "nothing mapped for a fragment that was dropped")
    }

    /// Random fragments — offsets, flags, lengths, protocols, both ways — after a real flow:
    /// every one translated or dropped under a reason; nothing traps.
    @Test func hostileFragmentsAreCountedNotCrashing() throws {
        let nat = try L.nat()
        var flow = L.udp(L.hostA, 40000, L.server, 4500)
        #expect(nat.outbound(&flow) == .translated)
        var random = SeededRandom(seed: 0xF4A9)
        let rounds = 2000
        var translated = 0
        for _ in 0..<rounds {
            let inbound = random.next() % 2 == 0
            let protocols: [UInt8] = [1, 6, 17, 47]
            let proto = protocols[Int(random.next() % 4)]
            var p = [UInt8](repeating: 0, count: 20 + Int(random.next() % 64))
            for i in 20..<p.count { p[i] = UInt8(truncatingIfNeeded: random.next()) }
            p[0] = 0x45; p[8] = 64; p[9] = proto
            p[2] = UInt8(p.count >> 8); p[3] = UInt8(p.count & 0xFF)
            p[4] = 0x12; p[5] = UInt8(truncatingIfNeeded: random.next() % 4)
            let flags = UInt16(truncatingIfNeeded: random.next()) & 0x6000 | UInt16(random.next() % 4)   // DF, MF, offsets 0-3
            p[6] = UInt8(flags >> 8); p[7] = UInt8(flags & 0xFF)
            let (src, dst) = inbound ? ([UInt8](arrayLiteral: 198, 51, 100, 10), [UInt8](arrayLiteral: 203, 0, 113, 7))
                                     : ([UInt8](arrayLiteral: 10, 0, 0, 2), [UInt8](arrayLiteral: 198, 51, 100, 10))
            p.replaceSubrange(12..<16, with: src); p.replaceSubrange(16..<20, with: dst)
            fixIPChecksum(&p)
            let verdict = inbound ? nat.inbound(&p) : nat.outbound(&p)
            if verdict == .translated { translated += 1 }
        }
        #expect(nat.counters.drops.total + UInt64(translated) == UInt64(rounds))
        #expect(nat.counters.drops[.tinyFragment] > 0 && nat.counters.drops[.fragment] > 0)
    }
}
