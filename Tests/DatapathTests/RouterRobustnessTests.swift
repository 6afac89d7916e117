import Basics
import Testing
import Wire
@testable import Datapath

@Test func malformedFramesAreDroppedByReason() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    func expectDrop(_ frame: [UInt8], _ reason: RouterDropReason, on interface: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) {
        let before = router.counters.drops[reason]
        #expect(router.receive(frame, on: interface, now: Lab.t0, output: &out) == .dropped(reason), sourceLocation: sourceLocation)
        #expect(router.counters.drops[reason] == before + 1, sourceLocation: sourceLocation)
    }
    let good = Lab.udpFrame()
    expectDrop(Array(good[0..<13]), .ethernetTruncated)
    expectDrop(good, .unknownInterface, on: 7)
    var bytes = good; bytes[0] = 0x02; bytes[5] = 0x77                 // another host's MAC
    expectDrop(bytes, .notForUs)
    bytes = good; bytes[12] = 0x86; bytes[13] = 0xDD
    expectDrop(bytes, .unsupportedEtherType)
    bytes = Array(good[0..<12]) + [0x81, 0x00, 0x00, 0x05] + Array(good[12...])
    expectDrop(bytes, .vlanTagged)
    expectDrop(Array(good[0..<30]), .ipv4Truncated)
    bytes = good; bytes[14 + 10] ^= 0xFF
    expectDrop(bytes, .ipv4BadChecksum)
    bytes = good; bytes[14] = 0x65
    expectDrop(bytes, .ipv4Unsupported)
    bytes = good; bytes[14] = 0x44
    expectDrop(bytes, .ipv4BadLength)
    expectDrop(Lab.udpFrame(source: IPv4Address(224, 0, 0, 5)), .martianSource)
    expectDrop(Lab.udpFrame(destination: IPv4Address(127, 0, 0, 1)), .martianDestination)
    expectDrop(Lab.udpFrame(destination: IPv4Address(239, 1, 1, 1)), .multicast)
    expectDrop(Lab.udpFrame(to: .broadcast, destination: Lab.ipB), .linkBroadcastToUnicast)
    expectDrop(Lab.udpFrame(destination: IPv4Address(10, 1, 0, 255)), .directedBroadcast)
    expectDrop(Lab.udpFrame(destination: Lab.routerIP0) { $0.moreFragments = true }, .fragmentToLocal)
    bytes = Lab.udpFrame(destination: Lab.routerIP0, destinationPort: 67); bytes[14 + 20 + 6] ^= 0x01
    expectDrop(bytes, .udpMalformed)
    bytes = Lab.icmpFrame(.echoRequest(identifier: 1, sequenceNumber: 1)); bytes[14 + 20 + 2] ^= 0x01
    expectDrop(bytes, .icmpMalformed)
    var arp = Lab.arpFrame(.request(from: Lab.macA, Lab.ipA, asking: Lab.routerIP0))
    arp[14 + 4] = 8
    expectDrop(arp, .arpMalformed)
    arp = Lab.arpFrame(.request(from: Lab.macA, Lab.ipA, asking: Lab.routerIP0)); arp[14 + 1] = 6
    expectDrop(arp, .arpUnsupported)
    expectDrop(Array(Lab.arpFrame(.request(from: Lab.macA, Lab.ipA, asking: Lab.routerIP0))[0..<41]), .arpMalformed)
    #expect(router.counters.forwarded == 0 && router.counters.delivered == 0)
}

/// Random and mutated frames on random interfaces, with time moving on: never a crash, every
/// frame accounted for, every drop counted, and the same seed gives the same output.
@Test func tenThousandHostileFramesNeverCrashAndAreCounted() throws {
    func run(seed: UInt64) throws -> (dispositions: [RouterDisposition], sent: [[UInt8]], counters: RouterCounters) {
        let router = try Lab.router { $0.defaultGateway = IPv4Address(10, 1, 0, 254) }
        var rng = SeededRandom(seed: seed, component: "router-fuzz")
        var out = CapturedOutput()
        var sent: [[UInt8]] = []
        var dispositions: [RouterDisposition] = []
        let templates: [[UInt8]] = [
            Lab.udpFrame(), Lab.udpFrame(ttl: 1), Lab.udpFrame(destination: Lab.routerIP0, destinationPort: 67),
            Lab.icmpFrame(.echoRequest(identifier: 3, sequenceNumber: 4)),
            Lab.icmpFrame(.destinationUnreachable(code: 1), data: Array(Lab.udpFrame()[14...]), destination: Lab.ipB),
            Lab.arpFrame(.request(from: Lab.macA, Lab.ipA, asking: Lab.routerIP0)),
            Lab.arpFrame(ARPPacket(operation: .reply, senderHardwareAddress: Lab.macB, senderProtocolAddress: Lab.ipB,
                                   targetHardwareAddress: Lab.routerMAC1, targetProtocolAddress: Lab.routerIP1), to: Lab.routerMAC1),
            Lab.udpFrame(from: Lab.macB, to: Lab.routerMAC1, source: Lab.ipB, destination: IPv4Address(10, 0, 0, 77)),
        ]
        var now = Lab.t0
        for _ in 0..<10_000 {
            var frame: [UInt8]
            switch rng.next() % 4 {
            case 0:                                            // pure noise
                frame = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:                                            // a valid frame, truncated
                let t = templates[Int(rng.next() % UInt64(templates.count))]
                frame = Array(t[0..<Int(rng.next() % UInt64(t.count + 1))])
            default:                                           // a valid frame with a few bytes changed
                frame = templates[Int(rng.next() % UInt64(templates.count))]
                for _ in 0..<Int(1 + rng.next() % 4) {
                    frame[Int(rng.next() % UInt64(frame.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                // Keep the header checksum right half the time, so deeper layers are reached.
                if rng.next() % 2 == 0, frame.count >= 34, frame[12] == 0x08, frame[13] == 0x00, frame[14] >> 4 == 4 {
                    let ihl = Int(frame[14] & 0xF) * 4
                    if ihl >= 20, 14 + ihl <= frame.count {
                        frame[24] = 0; frame[25] = 0
                        let c = frame.withUnsafeBytes { InternetChecksum.of($0.slice(14..<14 + ihl)) }
                        frame[24] = UInt8(c >> 8); frame[25] = UInt8(c & 0xFF)
                    }
                }
            }
            let interface = Int(rng.next() % 3)                // 2 is not an interface
            now = now + .milliseconds(Int64(rng.next() % 50))
            dispositions.append(router.receive(frame, on: interface, now: now, output: &out))
            if let deadline = router.nextDeadline(), deadline <= now { router.poll(now: now, output: &out) }
            sent += out.take().map(\.frame)
        }
        return (dispositions, sent, router.counters)
    }

    let a = try run(seed: 42)
    let dropped = a.dispositions.filter { if case .dropped = $0 { true } else { false } }.count
    #expect(a.counters.framesReceived == 10_000)
    #expect(a.counters.drops.total >= UInt64(dropped))   // plus queue overflow and ARP failures
    #expect(dropped > 5_000)                              // most hostile frames are refused...
    #expect(a.dispositions.contains(.answered) && a.dispositions.contains(.delivered))   // ...some get through
    // Everything the router sent parses back cleanly.
    for frame in a.sent {
        let ethernet = try frame.withUnsafeBytes { (b) throws in try EthernetHeader(parsing: b) }
        if ethernet.etherType == .ipv4 { _ = try SentIPv4(frame) } else { _ = try parseARP(frame) }
    }
    let b = try run(seed: 42)
    #expect(a.dispositions == b.dispositions && a.sent == b.sent && a.counters == b.counters)
    let c = try run(seed: 43)
    #expect(a.sent != c.sent)
}

@Test func dropReasonsFitTheInlineCounters() {
    #expect(ReasonCounts<RouterDropReason>.fits)
    var counts = ReasonCounts<RouterDropReason>()
    for reason in RouterDropReason.allCases { counts[reason] += UInt64(reason.rawValue + 1) }
    #expect(counts.total == UInt64((1...RouterDropReason.allCases.count).reduce(0, +)))
    #expect(counts.nonzero.first?.0 == .unknownInterface)
}
