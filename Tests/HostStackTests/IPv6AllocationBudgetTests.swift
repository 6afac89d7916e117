#if canImport(Glibc)
import Basics
import Glibc
@testable import HostStack
import Testing
import Wire

/// Answering ICMPv6 echo requests from a resolved neighbour allocates nothing per packet, like the
/// IPv4 paths with budgets. Needs the CMallocCounter interposer preloaded (see
/// TCPAllocationBudgetTests.swift for the commands; `--filter AllocationBudget` runs both).
@Suite(.serialized) struct IPv6AllocationBudgetTests {
    @Test(.enabled(if: TCPAllocationBudgetTests.counter != nil, "needs LD_PRELOAD of the CMallocCounter interposer (see TCPAllocationBudgetTests.swift)"))
    func echoReplyAllocatesNothing() throws {
        let count = try #require(TCPAllocationBudgetTests.counter)
        var c = HostConfiguration()
        c.ipv6.autoconfigures = false
        let a = Host(name: "a", mac: macA, random: SeededRandom(seed: 1, component: "a"), configuration: c)
        let b = Host(name: "b", mac: macB, random: SeededRandom(seed: 1, component: "b"), configuration: c)
        var now = Instant.zero
        a.startIPv6(now: now); b.startIPv6(now: now)
        func step() {
            now = now + .milliseconds(1)
            if let d = a.nextDeadline(), d <= now { a.poll(now: now) }
            if let d = b.nextDeadline(), d <= now { b.poll(now: now) }
            a.drainOutgoing { b.receive($0, now: now) }
            b.drainOutgoing { a.receive($0, now: now) }
        }
        for _ in 0..<3000 { step() }   // DAD done
        let llA = IPv6Address.linkLocal(mac: macA), llB = IPv6Address.linkLocal(mac: macB)
        // One ping resolves B at A and A at B; then a request frame is replayed into B.
        a.ping6(llB, count: 1, now: now)
        for _ in 0..<20 { step() }
        #expect(b.neighborEntry(for: llA, now: now) == macA)
        var request = [UInt8](repeating: 0, count: 14 + 40 + 8 + 56)
        _ = try request.withUnsafeMutableBytes { f in
            try IPv6Frame.emitICMPv6(into: f, ethernet: EthernetHeader(destination: macB, source: macA, etherType: .ipv6),
                                     ip: IPv6Header(source: llA, destination: llB, nextHeader: .icmpv6, payloadLength: 0, hopLimit: 64),
                                     icmp: .echoRequest(identifier: 7, sequenceNumber: 1), data: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        request.removeLast(56)
        var replies = 0
        for _ in 0..<50 { b.receive(request, now: now); b.drainOutgoing { _ in replies += 1 } }   // warm up
        let start = count()
        for _ in 0..<1000 { request.withUnsafeBytes { b.receive($0, now: now) }; b.drainOutgoing { _ in replies += 1 } }
        let allocations = count() - start
        #expect(replies == 1050 && b.ipv6Counters.echoRepliesSent == 1051)
        #expect(allocations == 0, "allocations for 1,000 echo replies: \(allocations)")
    }
}
#endif
