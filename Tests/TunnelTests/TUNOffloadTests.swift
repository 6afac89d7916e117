import Basics
import HostIO
import Testing
import Wire
@testable import Tunnel

/// An IPv4/TCP packet: 20-byte IP header, TCP header with `options` bytes of options, `payload` bytes.
private func tcpPacket(seq: UInt32, payload: Int, flags: UInt8 = TCPv4.flagACK, options: [UInt8] = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9],
                       source: UInt32 = 0xCB00_7101, destinationPort: UInt16 = 5201, fill: UInt8 = 0) -> [UInt8] {
    let thl = 20 + options.count
    var p = [UInt8](repeating: 0, count: 20 + thl + payload)
    p.withUnsafeMutableBytes { b in
        b[0] = 0x45; b.setU16(2, UInt16(b.count)); b.setU16(4, 0x1234); b.setU16(6, 0x4000); b[8] = 64; b[9] = 6
        b.setU32(12, source); b.setU32(16, 0xCB00_7102)
        b.setU16(20, 40000); b.setU16(22, destinationPort); b.setU32(24, seq); b.setU32(28, 777)
        b[32] = UInt8(thl / 4) << 4; b[33] = flags; b.setU16(34, 512)
        for (i, o) in options.enumerated() { b[40 + i] = o }
        for i in 0..<payload { b[20 + thl + i] = UInt8(truncatingIfNeeded: Int(fill) &+ i &* 7 &+ Int(seq)) }
        TCPv4.setIPChecksum(b, headerLength: 20)
        var c = TCPv4.pseudoHeaderSum(UnsafeRawBufferPointer(b), tcpLength: b.count - 20)
        c.add(UnsafeRawBufferPointer(rebasing: b[20...]))
        b.setU16(36, c.value)
    }
    return p
}

/// True when the IPv4 header checksum and the TCP checksum (with its pseudo-header) both verify.
private func checksumsVerify(_ p: UnsafeRawBufferPointer) -> Bool {
    guard InternetChecksum.of(UnsafeRawBufferPointer(rebasing: p[0..<20])) == 0 else { return false }
    var c = TCPv4.pseudoHeaderSum(p, tcpLength: p.count - 20)
    c.add(UnsafeRawBufferPointer(rebasing: p[20...]))
    return c.value == 0
}

@Suite struct TUNOffloadTests {
    @Test func virtioNetHeaderRoundTrip() {
        var bytes = [UInt8](repeating: 0xEE, count: 14)
        let h = TUNPacketHeader(flags: 1, gsoType: 1, headerLength: 52, gsoSize: 1368, checksumStart: 20, checksumOffset: 16)
        bytes.withUnsafeMutableBytes { h.write(to: $0, at: 2) }
        let back = bytes.withUnsafeBytes { TUNPacketHeader(UnsafeRawBufferPointer(rebasing: $0[2...])) }
        #expect(back.flags == 1 && back.gsoType == 1 && back.headerLength == 52 && back.gsoSize == 1368
                && back.checksumStart == 20 && back.checksumOffset == 16)
        #expect(bytes[0] == 0xEE && bytes[12] == 0xEE)
    }

    /// A 64 KiB-style super-packet cut at gso_size: valid checksums, advancing sequence numbers, PSH/FIN only last.
    @Test func segmentationCutsASuperPacket() throws {
        let mss = 1368
        let whole = tcpPacket(seq: 1000, payload: mss * 5 + 100, flags: TCPv4.flagACK | TCPv4.flagPSH | TCPv4.flagFIN)
        var segments: [[UInt8]] = []
        try whole.withUnsafeBytes { p in
            let s = try #require(TCPSegmentation(packet: p, gsoSize: mss))
            #expect(s.count == 6 && s.headerLength == 52)
            for i in 0..<s.count {
                var out = [UInt8](repeating: 0xFF, count: 2000)
                let n = out.withUnsafeMutableBytes { s.write(segment: i, of: p, to: $0) }
                segments.append(Array(out[0..<n]))
            }
        }
        var payload: [UInt8] = []
        for (i, seg) in segments.enumerated() {
            seg.withUnsafeBytes { b in
                #expect(checksumsVerify(b), "segment \(i)")
                #expect(Int(b.u16(2)) == b.count)
                #expect(b.u16(4) == 0x1234 &+ UInt16(i))
                #expect(b.u32(24) == 1000 &+ UInt32(i * mss))
                let last = i == segments.count - 1
                #expect(b[33] & (TCPv4.flagPSH | TCPv4.flagFIN) == (last ? TCPv4.flagPSH | TCPv4.flagFIN : 0))
                #expect(b[33] & TCPv4.flagACK != 0)
                #expect(Array(b[40..<52]) == Array(whole[40..<52]))
            }
            payload += seg[52...]
        }
        #expect(payload == Array(whole[52...]))
        #expect(segments.dropLast().allSatisfy { $0.count == 52 + mss } && segments.last!.count == 152)
    }

    /// The eight-bytes-at-a-time sum equals RFC 1071's word-by-word sum for every length and alignment.
    @Test func fastChecksumMatchesInternetChecksum() {
        var g = SeededRandom(seed: 1071)
        for length in Array(0..<80) + [1420, 1421, 8919, 65535] {
            var bytes = (0..<length + 3).map { _ in UInt8.random(in: 0...255, using: &g) }
            if length % 5 == 0 { for i in bytes.indices { bytes[i] = 0xFF } }  // many end-around carries
            for offset in 0..<3 {
                bytes.withUnsafeBytes { b in
                    let slice = UnsafeRawBufferPointer(rebasing: b[offset..<(offset + length)])
                    var fast = InternetChecksum()
                    fast.add(FastChecksum.sum(slice))
                    #expect(fast.value == InternetChecksum.of(slice), "length \(length) offset \(offset)")
                }
            }
        }
    }

    @Test func segmentationRejectsWhatIsNotTCPv4() {
        var udp = tcpPacket(seq: 1, payload: 100)
        udp[9] = 17
        #expect(udp.withUnsafeBytes { TCPSegmentation(packet: $0, gsoSize: 50) } == nil)
        let short = Array(tcpPacket(seq: 1, payload: 0)[0..<30])
        #expect(short.withUnsafeBytes { TCPSegmentation(packet: $0, gsoSize: 50) } == nil)
        #expect(tcpPacket(seq: 1, payload: 100).withUnsafeBytes { TCPSegmentation(packet: $0, gsoSize: 0) } == nil)
    }

    @Test func partialChecksumIsCompleted() {
        var p = tcpPacket(seq: 5, payload: 333)
        p.withUnsafeMutableBytes { b in
            // What the kernel hands over with NEEDS_CSUM: the pseudo-header sum in the checksum field.
            let pseudo = TCPv4.pseudoHeaderSum(UnsafeRawBufferPointer(b), tcpLength: b.count - 20)
            b.setU16(36, ~pseudo.value)
            #expect(!checksumsVerify(UnsafeRawBufferPointer(b)))
            #expect(TCPSegmentation.completeChecksum(b, start: 20, offset: 16))
            #expect(checksumsVerify(UnsafeRawBufferPointer(b)))
            #expect(!TCPSegmentation.completeChecksum(b, start: b.count - 1, offset: 16))
        }
    }

    /// Segments cut by TCPSegmentation join back into one GSO packet with the original payload.
    @Test func coalescingJoinsARun() throws {
        let mss = 1000
        let packets = (0..<5).map { tcpPacket(seq: 7000 + UInt32($0 * mss), payload: $0 == 4 ? 300 : mss,
                                              flags: $0 == 4 ? TCPv4.flagACK | TCPv4.flagPSH : TCPv4.flagACK) }
        let c = TCPCoalescer()
        #expect(packets[0].withUnsafeBytes { c.start($0) })
        for p in packets.dropFirst() { #expect(p.withUnsafeBytes { c.append($0) }) }
        // PSH closed the run.
        #expect(!tcpPacket(seq: 7000 + 4300, payload: mss).withUnsafeBytes { c.append($0) })
        let out = Array(c.finish())
        #expect(c.isEmpty)
        let header = out.withUnsafeBytes { TUNPacketHeader($0) }
        #expect(header.gsoType == TUNPacketHeader.gsoTCPv4 && header.flags == TUNPacketHeader.needsChecksum)
        #expect(header.gsoSize == UInt16(mss) && header.headerLength == 52 && header.checksumStart == 20 && header.checksumOffset == 16)
        var packet = Array(out[TUNPacketHeader.size...])
        #expect(packet.count == 52 + 4300 && Int(packet.withUnsafeBytes { $0.u16(2) }) == packet.count)
        #expect(Array(packet[52...]) == packets.flatMap { $0[52...] })
        #expect(packet[33] == TCPv4.flagACK | TCPv4.flagPSH)
        // Completing the partial checksum as the kernel would gives a valid segment.
        packet.withUnsafeMutableBytes { b in
            #expect(TCPSegmentation.completeChecksum(b, start: 20, offset: 16))
            #expect(checksumsVerify(UnsafeRawBufferPointer(b)))
        }
    }

    @Test func coalescingKeepsFlowsAndGapsApart() {
        let c = TCPCoalescer()
        let first = tcpPacket(seq: 100, payload: 500)
        let cases: [(String, [UInt8])] = [
            ("gap in sequence", tcpPacket(seq: 700, payload: 500)),
            ("other source", tcpPacket(seq: 600, payload: 500, source: 0xCB00_7109)),
            ("other port", tcpPacket(seq: 600, payload: 500, destinationPort: 5202)),
            ("longer than the first", tcpPacket(seq: 600, payload: 501)),
            ("different options", tcpPacket(seq: 600, payload: 500, options: [1, 1, 8, 10, 0, 0, 0, 8, 0, 0, 0, 9])),
            ("SYN", tcpPacket(seq: 600, payload: 500, flags: 0x12)),
            ("FIN", tcpPacket(seq: 600, payload: 500, flags: 0x11)),
        ]
        for (why, p) in cases {
            #expect(first.withUnsafeBytes { c.start($0) })
            #expect(!p.withUnsafeBytes { c.append($0) }, "\(why)")
            let out = c.finish()
            // A run of one goes out as a plain packet marked DATA_VALID.
            #expect(out.count == TUNPacketHeader.size + first.count)
            #expect(TUNPacketHeader(out).gsoType == TUNPacketHeader.gsoNone && TUNPacketHeader(out).flags == TUNPacketHeader.dataValid)
        }
        // Not candidates at all: UDP, IP options, a fragment, a pure SYN.
        var udp = tcpPacket(seq: 1, payload: 10); udp[9] = 17
        var fragment = tcpPacket(seq: 1, payload: 10); fragment[6] = 0x20
        for p in [udp, fragment, tcpPacket(seq: 1, payload: 10, flags: 0x02), tcpPacket(seq: 1, payload: 0)] {
            #expect(!p.withUnsafeBytes { c.start($0) })
        }
    }
}
