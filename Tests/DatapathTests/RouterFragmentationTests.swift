// Fragmentation on egress (RFC 791 §3.2, RFC 1812 §4.2.2.7): every fragment fits the MTU, data
// in multiples of 8, offsets and MF right, options copied per their copy flag, header checksums
// valid (Wire's parser checks them), and the pieces put back together give the datagram that
// came in (TTL decremented) — with its transport checksum still valid.
import Basics
import Testing
import Wire
@testable import Datapath

/// One fragment as sent: header and data.
struct Fragment {
    var ip: IPv4Header
    var bytes: [UInt8]
    var data: [UInt8] { Array(bytes[ip.headerLength..<Int(ip.totalLength)]) }
    var offsetBytes: Int { Int(ip.fragmentOffset) * 8 }

    init(packet: [UInt8]) throws {
        ip = try packet.withUnsafeBytes { (b) throws in try IPv4Header(parsing: b) }
        bytes = packet
    }
    init(frame: [UInt8]) throws { try self.init(packet: Array(frame[14...])) }
}

/// Checks the fragments' shape against `mtu` and puts them back together (RFC 791 reassembly in
/// order): returns the reassembled datagram (first fragment's header, total length and MF fixed
/// up, checksum recomputed). Fails the test on a gap, an overlap or a misfit.
func reassemble(_ fragments: [Fragment], mtu: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
    try #require(!fragments.isEmpty, sourceLocation: sourceLocation)
    let first = fragments[0]
    var data: [UInt8] = []
    for (i, f) in fragments.enumerated() {
        let last = i == fragments.count - 1
        #expect(f.bytes.count <= mtu, "fragment \(i) is \(f.bytes.count) bytes, MTU \(mtu)", sourceLocation: sourceLocation)
        #expect(f.offsetBytes == first.offsetBytes + data.count, "fragment \(i) offset", sourceLocation: sourceLocation)
        if !last {
            #expect(f.ip.moreFragments, "MF on fragment \(i)", sourceLocation: sourceLocation)
            #expect(f.data.count % 8 == 0, "fragment \(i) carries \(f.data.count) bytes", sourceLocation: sourceLocation)
        }
        #expect(f.ip.identification == first.ip.identification && f.ip.source == first.ip.source
                && f.ip.destination == first.ip.destination && f.ip.protocol == first.ip.protocol
                && f.ip.timeToLive == first.ip.timeToLive && !f.ip.dontFragment, sourceLocation: sourceLocation)
        data += f.data
    }
    var whole = Array(first.bytes[0..<first.ip.headerLength]) + data
    let total = whole.count
    whole[2] = UInt8(total >> 8); whole[3] = UInt8(total & 0xFF)
    let flags: UInt16 = fragments.last!.ip.moreFragments ? 0x2000 : 0
    let flagsOffset = flags | first.ip.fragmentOffset
    whole[6] = UInt8(flagsOffset >> 8); whole[7] = UInt8(flagsOffset & 0xFF)
    whole[10] = 0; whole[11] = 0
    let sum = whole.withUnsafeBytes { InternetChecksum.of($0.slice(0..<first.ip.headerLength)) }
    whole[10] = UInt8(sum >> 8); whole[11] = UInt8(sum & 0xFF)
    return whole
}

/// The same datagram with its TTL one less (the router's only change), checksum recomputed.
func decremented(_ packet: [UInt8]) -> [UInt8] {
    var p = packet
    p[8] -= 1
    let headerLength = Int(p[0] & 0x0F) * 4
    p[10] = 0; p[11] = 0
    let sum = p.withUnsafeBytes { InternetChecksum.of($0.slice(0..<headerLength)) }
    p[10] = UInt8(sum >> 8); p[11] = UInt8(sum & 0xFF)
    return p
}

/// A bare IPv4 packet: `options` (a multiple of 4), protocol `proto`, `payload`, any flags.
func ipPacket(options: [UInt8] = [], proto: IPProtocol = .udp, payload: [UInt8], source: IPv4Address = Lab.ipA,
              destination: IPv4Address = Lab.ipB, identification: UInt16 = 0x4242, moreFragments: Bool = false,
              fragmentOffset: UInt16 = 0, dontFragment: Bool = false, ttl: UInt8 = 64) -> [UInt8] {
    var ip = IPv4Header(source: source, destination: destination, protocol: proto, payloadLength: payload.count,
                        timeToLive: ttl, identification: identification, dontFragment: dontFragment,
                        options: HeaderOptions(options)!)
    ip.moreFragments = moreFragments
    ip.fragmentOffset = fragmentOffset
    var bytes = [UInt8](repeating: 0, count: ip.headerLength + payload.count)
    bytes.withUnsafeMutableBytes { b in _ = try! ip.emit(into: b) }
    bytes.replaceSubrange(ip.headerLength..., with: payload)
    return bytes
}

func frame(_ packet: [UInt8], to mac: MACAddress = Lab.routerMAC0, from source: MACAddress = Lab.macA) -> [UInt8] {
    var f = [UInt8](repeating: 0, count: 14)
    f.withUnsafeMutableBytes { b in _ = try! EthernetHeader(destination: mac, source: source, etherType: .ipv4).emit(into: b) }
    return f + packet
}

func sentFragments(_ out: inout CapturedOutput) throws -> [Fragment] {
    try out.take().map { s in
        #expect(s.interface == 1)
        let f = try Fragment(frame: s.frame)
        let e = try SentIPv4(s.frame).ethernet
        #expect(e.destination == Lab.macB && e.source == Lab.routerMAC1)
        return f
    }
}

@Suite struct RouterFragmentationTests {
    @Test(arguments: [68, 100, 576, 1006, 1280, 1400, 1420, 1499])
    func aUDPDatagramIsCutToEveryMTU(mtu: Int) throws {
        let router = try Router(Lab.configuration(mtu1: mtu))
        var out = CapturedOutput()
        learnB(router, now: Lab.t0, output: &out)
        let input = Lab.udpFrame(payloadLength: 1472)                       // a 1500-byte datagram, DF clear
        #expect(router.receive(input, on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        let fragments = try sentFragments(&out)
        let perFragment = (mtu - 20) & ~7
        #expect(fragments.count == (1480 + perFragment - 1) / perFragment)
        let whole = try reassemble(fragments, mtu: mtu)
        #expect(whole == decremented(Array(input[14...])))
        // The UDP checksum (carried in the first fragment) covers the reassembled datagram.
        let s = try SentIPv4(frame(whole))
        #expect(try s.udp().data.count == 1472)
        #expect(!fragments.last!.ip.moreFragments && fragments.first!.ip.fragmentOffset == 0)
        #expect(router.counters.datagramsFragmented == 1 && router.counters.fragmentsCreated == UInt64(fragments.count))
        #expect(router.counters.forwarded == 1 && router.counters.drops.total == 0)
    }

    @Test func onlyWhatDoesNotFitIsCut() throws {
        let router = try Router(Lab.configuration(mtu1: 1400))
        var out = CapturedOutput()
        learnB(router, now: Lab.t0, output: &out)
        // Exactly the MTU: one unfragmented datagram, byte for byte as before.
        let fits = Lab.udpFrame(payloadLength: 1372)
        #expect(router.receive(fits, on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        let sent = out.take()
        try #require(sent.count == 1)
        #expect(Array(sent[0].frame[14...]) == decremented(Array(fits[14...])))
        #expect(router.counters.datagramsFragmented == 0)
        // One byte more: two fragments, 1376 + 97 data bytes (1376 = (1400 - 20) rounded down to 8).
        #expect(router.receive(Lab.udpFrame(payloadLength: 1373), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        let fragments = try sentFragments(&out)
        #expect(fragments.map { $0.data.count } == [1376, 1381 - 1376])
        #expect(fragments.map { Int($0.ip.totalLength) } == [1396, 20 + 5])
    }

    @Test func dontFragmentStillGetsFragmentationNeeded() throws {
        let router = try Router(Lab.configuration(mtu1: 1400))
        var out = CapturedOutput()
        learnB(router, now: Lab.t0, output: &out)
        #expect(router.receive(Lab.udpFrame(dontFragment: true, payloadLength: 1473), on: 0, now: Lab.t0, output: &out)
                == .dropped(.fragmentationNeeded))
        let sent = out.take()
        try #require(sent.count == 1)
        let s = try SentIPv4(sent[0].frame)
        #expect(s.ethernet.destination == Lab.macA && s.ip.protocol == .icmp)
        #expect(try s.icmp().message.nextHopMTU == 1400)
        #expect(router.counters.datagramsFragmented == 0 && router.counters.fragmentsCreated == 0)
    }

    @Test func optionsWithTheCopyFlagGoIntoEveryFragmentTheOthersOnlyIntoTheFirst() throws {
        let router = try Router(Lab.configuration(mtu1: 600))
        var out = CapturedOutput()
        learnB(router, now: Lab.t0, output: &out)
        // Security (type 130: copied, class 0, number 2; 11 bytes), no-operation, record route
        // (type 7: not copied; 7 bytes, one empty slot), a made-up copied option (type 0x9E,
        // 4 bytes), end of list: 11 + 1 + 7 + 4 + 1 = 24 bytes.
        let security: [UInt8] = [130, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let recordRoute: [UInt8] = [7, 7, 4, 0, 0, 0, 0]
        let copied: [UInt8] = [0x9E, 4, 0xAB, 0xCD]
        let options = security + [1] + recordRoute + copied + [0]
        #expect(options.count == 24)
        let payload = (0..<1200).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let input = ipPacket(options: options, payload: payload)
        #expect(router.receive(frame(input), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        let fragments = try sentFragments(&out)
        // First: 44-byte header, (600 - 44) & ~7 = 552 data. Later: 20 + 15 copied → 36-byte
        // header, (600 - 36) & ~7 = 560 data. 1200 = 552 + 560 + 88.
        #expect(fragments.map { $0.ip.headerLength } == [44, 36, 36])
        #expect(fragments.map { $0.data.count } == [552, 560, 88])
        #expect(fragments[0].ip.options.bytes == options)
        for f in fragments.dropFirst() {
            #expect(f.ip.options.bytes == security + copied + [0])
        }
        let whole = try reassemble(fragments, mtu: 600)
        #expect(whole == decremented(input))
    }

    @Test func aFragmentIsCutAgainKeepingItsOffsetAndMF() throws {
        let router = try Router(Lab.configuration(mtu1: 576))
        var out = CapturedOutput()
        learnB(router, now: Lab.t0, output: &out)
        let payload = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        for more in [true, false] {
            // The middle (MF set) or the tail (MF clear) of a bigger datagram, at byte 1480.
            let input = ipPacket(proto: .udp, payload: payload, moreFragments: more, fragmentOffset: 185)
            #expect(router.receive(frame(input), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
            let fragments = try sentFragments(&out)
            #expect(fragments.map { $0.ip.fragmentOffset } == [185, 185 + 69])       // 552 bytes = 69 units
            #expect(fragments.map { $0.ip.moreFragments } == [true, more])
            #expect(try reassemble(fragments, mtu: 576) == decremented(input))
        }
    }

    @Test func theSmallestMTUWithTheLargestHeaderCarriesEightBytesAFragment() throws {
        let router = try Router(Lab.configuration(mtu1: 68))
        var out = CapturedOutput()
        learnB(router, now: Lab.t0, output: &out)
        // 40 bytes of copied options (ten 4-byte options of type 0x9E): every header is 60 bytes.
        let options: [UInt8] = (0..<10).flatMap { i -> [UInt8] in [0x9E, 4, UInt8(i), 0] }
        let payload = (0..<100).map { UInt8($0) }
        let input = ipPacket(options: options, payload: payload)
        #expect(router.receive(frame(input), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        let fragments = try sentFragments(&out)
        #expect(fragments.count == 13)                                           // 12 × 8 + 4
        #expect(fragments.allSatisfy { $0.ip.headerLength == 60 && $0.ip.options.bytes == options })
        #expect(fragments.dropLast().allSatisfy { $0.bytes.count == 68 })
        #expect(try reassemble(fragments, mtu: 68) == decremented(input))
        // Not-copied options leave later fragments with a 20-byte header and 48 bytes of data.
        let recordRoute: [UInt8] = [7, 39, 4] + [UInt8](repeating: 0, count: 36) + [0]
        let input2 = ipPacket(options: recordRoute, payload: payload)
        #expect(router.receive(frame(input2), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        let fragments2 = try sentFragments(&out)
        #expect(fragments2.map { $0.data.count } == [8, 48, 44])
        #expect(try reassemble(fragments2, mtu: 68) == decremented(input2))
    }

    @Test func fragmentsIntoAPointToPointInterfaceCarryTheirRoom() throws {
        let router = try P2P.router()                                            // tunnel MTU 1420
        var out = CapturedOutput()
        let input = Lab.udpFrame(destination: P2P.far, payloadLength: 3972)      // a 4000-byte datagram
        #expect(router.receive(input, on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        #expect(out.sent.isEmpty)
        let fragments = try out.packets.map { p in
            #expect(p.interface == 1)
            #expect(p.headroom >= Router.packetHeadroom && p.tailroom >= Router.packetTailroom)
            return try Fragment(packet: p.packet)
        }
        #expect(fragments.map { $0.data.count } == [1400, 1400, 1180])
        #expect(try reassemble(fragments, mtu: 1420) == decremented(Array(input[14...])))
    }

    @Test func fragmentsWaitForARPTogether() throws {
        let router = try Router(Lab.configuration(mtu1: 1000))
        var out = CapturedOutput()
        let input = Lab.udpFrame(payloadLength: 1472)
        #expect(router.receive(input, on: 0, now: Lab.t0, output: &out) == .queued)
        let request = out.take()
        try #require(request.count == 1)
        #expect(try parseARP(request[0].frame).1.operation == .request)
        #expect(router.arpQueuedCount == 2)
        learnB(router, now: Lab.t0 + .milliseconds(5), output: &out)
        let fragments = try sentFragments(&out)
        #expect(try reassemble(fragments, mtu: 1000) == decremented(Array(input[14...])))
    }

    @Test func datagramsThatCannotBeCutAreCountedNotSent() throws {
        let router = try Router(Lab.configuration(mtu1: 576))
        var out = CapturedOutput()
        learnB(router, now: Lab.t0, output: &out)
        let payload = [UInt8](repeating: 9, count: 800)
        // Malformed options: a length of 1; a length past the header; a length byte missing.
        for options: [UInt8] in [[0x83, 1, 0, 0], [0x44, 9, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0x83]] {
            let input = ipPacket(options: options, payload: payload)
            #expect(router.receive(frame(input), on: 0, now: Lab.t0, output: &out) == .dropped(.fragmentationUnsupported))
        }
        // A fragment so far into the offset space that its pieces would need offsets past 8191.
        let late = ipPacket(payload: payload, moreFragments: true, fragmentOffset: 0x1FF0)
        #expect(router.receive(frame(late), on: 0, now: Lab.t0, output: &out) == .dropped(.fragmentationUnsupported))
        // ... but one whose last piece still fits goes through.
        let fits = ipPacket(payload: payload, fragmentOffset: 0x1FFF - 69)
        #expect(router.receive(frame(fits), on: 0, now: Lab.t0, output: &out) == .forwarded(interface: 1))
        #expect(try sentFragments(&out).last!.ip.fragmentOffset == 0x1FFF)
        #expect(router.counters.drops[.fragmentationUnsupported] == 4 && router.counters.drops.total == 4)
    }

    /// Hostile datagrams — random options, offsets, flags, lengths — at random MTUs: every one is
    /// forwarded (each piece fitting and well-formed) or dropped under a reason; nothing traps.
    @Test func hostileDatagramsNeverCrashTheFragmenter() throws {
        var random = SeededRandom(seed: 0xF4A6)
        for round in 0..<300 {
            let mtu = 68 + Int(random.next() % 1432)
            let router = try Router(Lab.configuration(mtu1: mtu))
            var out = CapturedOutput()
            learnB(router, now: Lab.t0, output: &out)
            let optionWords = Int(random.next() % 11)
            let options = (0..<optionWords * 4).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let payload = (0..<Int(random.next() % 3000)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let input = ipPacket(options: options, proto: IPProtocol(rawValue: UInt8(truncatingIfNeeded: random.next())),
                                 payload: payload, moreFragments: random.next() % 2 == 0,
                                 fragmentOffset: UInt16(truncatingIfNeeded: random.next()) & 0x1FFF)
            let d = router.receive(frame(input), on: 0, now: Lab.t0, output: &out)
            switch d {
            case .forwarded:
                let fragments = try sentFragments(&out)
                if fragments.count > 1 || input.count > mtu {
                    #expect(try reassemble(fragments, mtu: mtu) == decremented(input), "round \(round)")
                }
            case .dropped(let reason):
                #expect(reason == .fragmentationUnsupported, "round \(round): \(reason)")
                #expect(out.sent.isEmpty)
            default:
                Issue.record("round \(round): \(d)")
            }
        }
    }
}
