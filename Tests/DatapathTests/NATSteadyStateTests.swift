// Steady-state memory check for NAT translation (docs/performance.md: zero heap allocations per packet),
// measured as `SteadyStateAllocationTests` does for the switch: bytes held in live heap chunks
// (mallinfo2, through CShims) before and after 200 000 translations, after a warm-up of 20 000. Tables
// that grow, or a leak, show up as growth; see that file for what this does and does not measure.
import Basics
import Testing
import Wire
@testable import Datapath
#if canImport(Glibc)
import Glibc

private typealias L = NATLab

/// A NAT and a fixed set of packets: UDP out and back, ICMP echo out and back, and an ICMP error
/// about a UDP datagram — for two groups of internal endpoints that take turns, so sessions keep
/// timing out and being made again.
private final class NATWorkload {
    let nat: NAT
    let templates: [(outbound: Bool, bytes: [UInt8])]
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    var clock = L.t0
    var step = 0
    var translated = 0, dropped = 0

    init() throws {
        nat = try L.nat { $0.capacity = 1024; $0.timeouts.udp = .seconds(10); $0.timeouts.icmpQuery = .seconds(10) }
        var t: [(Bool, [UInt8])] = []
        for group in 0..<2 {
            for i in 0..<100 {
                let host = IPv4Address(10, 0, UInt8(group), UInt8(10 + i))
                let port = UInt16(40000 + 200 * group + 2 * i)               // preserved: replies know it
                let out = L.udp(host, port, L.server, 53)
                t.append((true, out))
                t.append((false, L.udp(L.server, 53, L.external, port)))
                t.append((true, L.icmp(host, L.server, .echoRequest(identifier: port, sequenceNumber: 1))))
                t.append((false, L.icmp(L.server, L.external, .echoReply(identifier: port, sequenceNumber: 1))))
                t.append((false, L.icmpError(L.pathRouter, L.external, .timeExceeded(code: 0),
                                             quoting: L.udp(L.external, port, L.server, 53))))
            }
        }
        templates = t
    }

    deinit { scratch.deallocate() }

    /// Translates `count` packets; no expectations inside (they allocate).
    func run(_ count: Int) {
        let perGroup = templates.count / 2
        for _ in 0..<count {
            step &+= 1
            clock = clock + .milliseconds(1)
            let group = (step / 20_000) % 2                                   // 20 s per group > 10 s timeout
            let (outbound, bytes) = templates[group * perGroup + step % perGroup]
            let packet = scratch.slice(0..<bytes.count)
            bytes.withUnsafeBytes { packet.copyBytes($0, at: 0) }
            let verdict = outbound ? nat.translateOutbound(packet, now: clock) : nat.translateInbound(packet, now: clock)
            if case .drop = verdict { dropped += 1 } else { translated += 1 }
            if step % 1_000 == 0, let deadline = nat.nextDeadline(), deadline <= clock { nat.expire(now: clock) }
        }
    }
}

@Test(.enabled(if: runsAlone, runsAloneWhy))
func natTranslationDoesNotGrowTheHeap() throws {
    let warmUp = 20_000, span = 200_000, allowance = 64 * 1024
    var growth: [Int] = []
    growth.reserveCapacity(3)
    var workload = try NATWorkload()
    while growth.count < 3 {
        workload = try NATWorkload()
        workload.run(warmUp)
        let before = bytesInUse()
        workload.run(span)
        let after = bytesInUse()
        growth.append(after - before)
        if growth.last! < allowance { break }
    }
    #expect(growth.min()! < allowance, "heap growth over \(span) packets, per attempt: \(growth)")
    let c = workload.nat.counters
    #expect(workload.translated + workload.dropped == warmUp + span)
    #expect(c.sessionsExpired > 1_000 && c.mappingsCreated > 1_000, "sessions keep expiring and coming back")
    #expect(c.icmpErrorsTranslated > 10_000 && c.inboundTranslated > 50_000)
    #expect(Double(workload.dropped) < 0.01 * Double(warmUp + span), "drops: \(c.drops.nonzero)")
}
#endif
