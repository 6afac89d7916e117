// The simulated host's IPv4 fragmentation and reassembly: big UDP datagrams and pings cross a
// 1500-byte link whole; reassembly is bounded and counts every loss (duplicates, overlaps,
// malformed fragments, timeouts, eviction).
import Basics
@testable import HostStack
import Testing
import Wire

/// An Ethernet + IPv4 fragment: `data` at byte offset `offset` (a multiple of 8) of datagram `id`.
private func fragment(_ data: [UInt8], offset: Int, more: Bool, id: UInt16 = 9, proto: IPProtocol = .udp,
                      source: IPv4Address = ipA, destination: IPv4Address = ipB) -> [UInt8] {
    var ip = IPv4Header(source: source, destination: destination, protocol: proto, payloadLength: data.count,
                        identification: id)
    ip.moreFragments = more
    ip.fragmentOffset = UInt16(offset / 8)
    var bytes = [UInt8](repeating: 0, count: 14 + 20 + data.count)
    bytes.withUnsafeMutableBytes { b in
        let h = try! EthernetHeader(destination: macB, source: macA, etherType: .ipv4).emit(into: b)
        _ = try! ip.emit(into: b.slice(from: h))
    }
    bytes.replaceSubrange(34..., with: data)
    return bytes
}

private extension IPv4Reassembly {
    mutating func take(_ frame: [UInt8], at now: Instant = .zero) -> Outcome {
        frame.withUnsafeBytes { b in
            let parsed = try! IPv4Frame.parse(b)
            return receive(b, ipOffset: parsed.ipOffset, ip: parsed.ip, payload: parsed.payloadRange, now: now)
        }
    }
}

@Suite("IPv4 fragmentation and reassembly")
struct IPv4ReassemblyTests {
    @Test("A 4000-byte UDP datagram crosses a 1500-byte link as three fragments and arrives whole")
    func bigUDPDatagram() {
        let (net, a, b) = backToBack()
        b.openUDP(port: 9)
        let payload = (0..<3972).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(a.sendUDP(to: ipB, port: 9, from: 4000, payload: payload, now: net.now))
        net.run(for: .seconds(1))
        #expect(b.takeDatagrams(port: 9).map(\.payload) == [payload])
        #expect(a.counters.fragmentsSent == 3)
        #expect(b.counters.fragmentsReceived == 3 && b.counters.datagramsReassembled == 1)
    }

    @Test("ping -s 3000 both ways: request and reply are fragmented and reassembled")
    func bigPing() {
        let (net, a, b) = backToBack()
        let id = a.ping(ipB, count: 3, interval: .milliseconds(100), size: 3000, now: net.now)
        net.run(for: .seconds(2))
        #expect(a.pingResult(id).received == 3)
        #expect(a.counters.datagramsReassembled == 3 && b.counters.datagramsReassembled == 3)
        #expect(a.counters.fragmentsSent == 9 && b.counters.fragmentsSent == 9)
    }

    @Test("Out of order, with a duplicate: whole once, the header fixed up")
    func outOfOrder() throws {
        var r = IPv4Reassembly()
        let data = (0..<40).map { UInt8($0) }
        #expect(r.take(fragment(Array(data[24...]), offset: 24, more: false)) == .held)
        #expect(r.take(fragment(Array(data[8..<24]), offset: 8, more: true)) == .held)
        #expect(r.take(fragment(Array(data[8..<16]), offset: 8, more: true)) == .duplicate)
        guard case .whole(let frame) = r.take(fragment(Array(data[0..<8]), offset: 0, more: true)) else {
            Issue.record("not whole"); return
        }
        let parsed = try frame.withUnsafeBytes { (b) throws in try IPv4Frame.parse(b) }   // checks the header checksum
        #expect(!parsed.ip.isFragment && parsed.ip.totalLength == 60 && Array(frame[34...]) == data)
        #expect(r.inProgress.isEmpty)
    }

    @Test("Overlaps, bad sizes and two ends drop the datagram; every loss is its own count")
    func malicious() {
        var r = IPv4Reassembly()
        let eight = [UInt8](repeating: 1, count: 8)
        // Overlap with different bytes (the RFC 1858 attack shape): the whole datagram goes.
        #expect(r.take(fragment(eight + eight, offset: 0, more: true, id: 1)) == .held)
        #expect(r.take(fragment([UInt8](repeating: 2, count: 16), offset: 8, more: false, id: 1)) == .overlap)
        #expect(r.inProgress.isEmpty)
        // MF set but not a multiple of 8; a zero-length fragment; past 65535.
        #expect(r.take(fragment([1, 2, 3], offset: 0, more: true, id: 2)) == .malformed)
        #expect(r.take(fragment([], offset: 8, more: true, id: 3)) == .malformed)
        #expect(r.take(fragment(eight, offset: 65528, more: false, id: 4)) == .malformed)
        // Two last fragments that disagree; data past the end.
        #expect(r.take(fragment(eight, offset: 16, more: false, id: 5)) == .held)
        #expect(r.take(fragment(eight, offset: 32, more: false, id: 5)) == .malformed)
        #expect(r.take(fragment(eight, offset: 8, more: false, id: 6)) == .held)
        #expect(r.take(fragment(eight, offset: 40, more: true, id: 6)) == .malformed)
        #expect(r.inProgress.isEmpty)
    }

    @Test("Unfinished datagrams time out after 30 s; at most 16 are held, the oldest evicted")
    func bounded() {
        var r = IPv4Reassembly()
        let eight = [UInt8](repeating: 7, count: 8)
        for id in 0..<20 { #expect(r.take(fragment(eight, offset: 0, more: true, id: UInt16(id))) == .held) }
        #expect(r.inProgress.count == 16 && r.evicted == 4)
        #expect(r.take(fragment(eight, offset: 8, more: false, id: 0)) == .held, "id 0 was evicted: starts again")
        #expect(r.take(fragment(eight, offset: 8, more: false, id: 19), at: .zero + .seconds(30)) == .held)
        #expect(r.timedOut == 16 && r.inProgress.count == 1)
    }

    @Test("Hostile fragments never crash the host; all are counted")
    func hostile() {
        let (net, a, b) = backToBack()
        _ = a
        var random = SeededRandom(seed: 0xF4A5)
        var fragments = 0
        for _ in 0..<500 {
            let n = Int(random.next() % 64)
            let data = (0..<n).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let offset = Int(random.next() % 16) * 8
            let more = random.next() % 3 != 0
            let frame = fragment(data, offset: offset, more: more, id: UInt16(random.next() % 4),
                                 proto: random.next() % 2 == 0 ? .udp : .icmp)
            if more || offset != 0 { fragments += 1 }
            b.receive(frame, now: net.now)
        }
        let c = b.counters
        #expect(c.fragmentsReceived == fragments && fragments > 400)
        #expect(c.duplicateFragments + c.reassemblyOverlaps + c.reassemblyMalformed > 0)
    }
}
