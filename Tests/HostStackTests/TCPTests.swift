import Basics
@testable import HostStack
import Testing
import Wire

private func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
    var r = SeededRandom(seed: seed)
    var out = [UInt8](repeating: 0, count: n)
    var i = 0
    while i < n {
        let v = r.next()
        for k in 0..<8 where i + k < n { out[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
        i += 8
    }
    return out
}

/// Short TIME-WAIT and quick timers for simulations.
private func quick(_ c: inout HostConfiguration) {
    c.tcp.maximumSegmentLifetime = .seconds(1)
}

@Suite("TCP")
struct TCPTests {
    @Test("Three-way handshake: both sides ESTABLISHED with MSS, window scale, SACK and timestamps agreed")
    func handshake() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 80, receiveMode: .buffer)
        let id = try #require(a.tcpConnect(to: ipB, port: 80, now: link.now))
        #expect(a.tcpInfo(id)?.state == .synSent)
        link.run(for: .seconds(1))
        let client = try #require(a.tcpInfo(id))
        #expect(client.state == .established)
        let server = try #require(b.tcpAccept(port: 80).flatMap { b.tcpInfo($0) })
        #expect(server.state == .established)
        #expect(b.tcpAccept(port: 80) == nil)
        // MTU 1500: MSS 1460, minus 12 bytes of timestamps per segment.
        #expect(client.sendMSS == 1448 && server.sendMSS == 1448)
        #expect(client.sackEnabled && client.timestampsEnabled && server.sackEnabled && server.timestampsEnabled)
        // 1 MiB buffers need a shift of 5 (2^20 >> 5 = 32768 ≤ 65535 < 2^20 >> 4).
        #expect(client.receiveWindowScale == 5 && client.sendWindowScale == 5)
        // The SYN-ACK's window is never scaled (RFC 7323 §2.2); the server has sent nothing since.
        #expect(client.sendWindow == 65535)
        // The SYN waited for ARP (one 10 ms round trip), then SYN → SYN-ACK took another.
        #expect(client.smoothedRTT == 20_000_000)
        #expect(client.localPort >= 32768 && client.remotePort == 80 && server.remotePort == client.localPort)
        #expect(a.tcpCounters.connectionsEstablished == 1 && b.tcpCounters.connectionsAccepted == 1)
    }

    @Test("MSS follows the interface MTU, and options are not used when the peer does not offer them")
    func mssClampAndNoOptions() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(1)) { c in
            c.mtu = 1000
            c.tcp.timestamps = false
        }
        b.tcpListen(port: 80)
        let id = try #require(a.tcpConnect(to: ipB, port: 80, now: link.now))
        link.run(for: .seconds(1))
        let info = try #require(a.tcpInfo(id))
        #expect(info.state == .established && info.sendMSS == 960 && !info.timestampsEnabled && info.sackEnabled)
        a.tcpSendBulk(id, bytes: 100_000, now: link.now)
        link.run(for: .seconds(5))
        let sink = try #require(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) })
        #expect(sink.stats.bytesReceived == 100_000 && sink.stats.patternMismatches == 0)
        #expect(a.counters.tooBig == 0)
    }

    @Test("1 MB each way, byte-exact, then FIN from both sides, TIME-WAIT for 2·MSL, then CLOSED")
    func transferBothWaysAndClose() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 5001, receiveMode: .buffer)
        let ida = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
        link.run(for: .milliseconds(100))
        let idb = try #require(b.tcpAccept(port: 5001))
        let toB = randomBytes(1 << 20, seed: 1), toA = randomBytes(1 << 20, seed: 2)
        var sentA = 0, sentB = 0
        var gotA: [UInt8] = [], gotB: [UInt8] = []
        link.run(for: .seconds(20), stop: {
            if sentA < toB.count { sentA += a.tcpWrite(ida, Array(toB[sentA..<min(sentA + 65536, toB.count)]), now: link.now) }
            if sentB < toA.count { sentB += b.tcpWrite(idb, Array(toA[sentB..<min(sentB + 65536, toA.count)]), now: link.now) }
            gotB += b.tcpRead(idb, now: link.now)
            gotA += a.tcpRead(ida, now: link.now)
            link.collect()
            return gotA.count == toA.count && gotB.count == toB.count
        })
        #expect(gotB == toB)
        #expect(gotA == toA)
        #expect(a.tcpInfo(ida)?.stats.segmentsRetransmitted == 0)

        // A closes first: A goes FIN-WAIT → TIME-WAIT, B goes CLOSE-WAIT → LAST-ACK → CLOSED.
        a.tcpClose(ida, now: link.now)
        #expect(a.tcpInfo(ida)?.state == .finWait1)
        link.run(for: .milliseconds(50))
        #expect(b.tcpInfo(idb)?.state == .closeWait)
        #expect(a.tcpInfo(ida)?.state == .finWait2)
        b.tcpClose(idb, now: link.now)
        link.run(for: .milliseconds(50))
        #expect(b.tcpInfo(idb)?.state == .closed && b.tcpInfo(idb)?.closeReason == .normal)
        let enteredTimeWait = link.now
        #expect(a.tcpInfo(ida)?.state == .timeWait)
        link.run(until: enteredTimeWait + .milliseconds(1900))
        #expect(a.tcpInfo(ida)?.state == .timeWait)
        link.run(until: enteredTimeWait + .milliseconds(2100))
        #expect(a.tcpInfo(ida)?.state == .closed && a.tcpInfo(ida)?.closeReason == .normal)
        #expect(a.tcpLiveConnectionCount == 0 && b.tcpLiveConnectionCount == 0)
        #expect(a.nextDeadline() == nil || a.nextDeadline()! > link.now + .seconds(10))
    }

    @Test("A SYN to a port nobody listens on draws a RST, and connect reports refused")
    func refused() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(1))
        let id = try #require(a.tcpConnect(to: ipB, port: 81, now: link.now))
        link.run(for: .seconds(1))
        #expect(a.tcpInfo(id)?.state == .closed && a.tcpInfo(id)?.closeReason == .refused)
        #expect(b.tcpCounters.drops[.noConnection] == 1 && b.tcpCounters.resetsSent == 1)
    }

    @Test("Under 1 % loss, 20 ms delay and a 20 Mbit/s bottleneck, NewReno and CUBIC both deliver every byte")
    func lossyTransfer() throws {
        for algorithm in TCPCongestionControlAlgorithm.allCases {
            let (link, a, b) = tcpPair(delay: .milliseconds(20), rate: 20e6, queueLimit: 100_000, loss: 0.01, seed: 7, quick)
            b.tcpListen(port: 5001, receiveMode: .sink)
            let id = try #require(a.tcpConnect(to: ipB, port: 5001, congestionControl: algorithm, now: link.now))
            a.tcpSendBulk(id, bytes: 2_000_000, now: link.now)
            link.run(for: .seconds(120), stop: { a.tcpInfo(id)?.state == .closed })
            let sender = try #require(a.tcpInfo(id))
            let sink = try #require(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) })
            #expect(sender.congestionControl == algorithm)
            #expect(sink.stats.bytesReceived == 2_000_000, "\(algorithm)")
            #expect(sink.stats.patternMismatches == 0)
            #expect(sender.stats.bytesAcknowledged == 2_000_000)
            #expect(sender.stats.segmentsRetransmitted > 0 && sender.stats.fastRetransmits > 0)
            #expect(a.tcpCounters.segmentsRetransmitted >= sender.stats.segmentsRetransmitted)
            #expect(sender.state == .closed && sender.closeReason == .normal)
            #expect(link.ab.lost > 0)
            // Retransmissions repair losses, not much more (no timeouts on this path).
            #expect(sender.stats.segmentsRetransmitted <= link.ab.lost + link.ba.lost + 5)
            #expect(!sender.samples.isEmpty && sender.stats.rttSamples > 100)
            let seconds = Double((try #require(sink.closedAt ?? sender.closedAt) - (try #require(sender.establishedAt))).nanosecondsClamped) / 1e9
            print("TCP \(algorithm) 1% loss 20 Mbit/s 40 ms RTT: 2 MB in \(seconds) s = \(16 / seconds) Mbit/s, " +
                  "\(sender.stats.segmentsRetransmitted) retransmitted (\(link.ab.lost) lost), \(sender.stats.fastRetransmits) fast, \(sender.stats.timeouts) timeouts")
        }
    }

    @Test("Without SACK and timestamps (NewReno partial ACKs, Karn's rule) a lossy transfer still completes")
    func lossyWithoutOptions() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(20), rate: 20e6, queueLimit: 100_000, loss: 0.01, seed: 8) { c in
            c.tcp.sack = false
            c.tcp.timestamps = false
            c.tcp.maximumSegmentLifetime = .seconds(1)
        }
        b.tcpListen(port: 5001)
        let id = try #require(a.tcpConnect(to: ipB, port: 5001, congestionControl: .newReno, now: link.now))
        a.tcpSendBulk(id, bytes: 1_000_000, now: link.now)
        link.run(for: .seconds(120), stop: { a.tcpInfo(id)?.state == .closed })
        let sender = try #require(a.tcpInfo(id))
        let sink = try #require(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) })
        #expect(!sender.sackEnabled && !sender.timestampsEnabled)
        #expect(sink.stats.bytesReceived == 1_000_000 && sink.stats.patternMismatches == 0)
        #expect(sender.state == .closed && sender.closeReason == .normal)
        // Slow start overfills the 100 kB queue; without SACK, NewReno repairs one hole per RTT
        // (RFC 6582 partial ACKs), and Karn's rule allows few RTT samples meanwhile.
        #expect(sender.stats.segmentsRetransmitted > 0 && sender.stats.rttSamples > 0)
    }

    @Test("Both sides close at once: FIN-WAIT-1 → CLOSING → TIME-WAIT on both, then CLOSED")
    func simultaneousClose() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 7, receiveMode: .buffer)
        let ida = try #require(a.tcpConnect(to: ipB, port: 7, now: link.now))
        link.run(for: .milliseconds(100))
        let idb = try #require(b.tcpAccept(port: 7))
        a.tcpClose(ida, now: link.now)
        b.tcpClose(idb, now: link.now)
        link.run(for: .milliseconds(7))
        #expect(a.tcpInfo(ida)?.state == .closing && b.tcpInfo(idb)?.state == .closing)
        link.run(for: .milliseconds(10))
        #expect(a.tcpInfo(ida)?.state == .timeWait && b.tcpInfo(idb)?.state == .timeWait)
        link.run(for: .seconds(3))
        #expect(a.tcpInfo(ida)?.closeReason == .normal && b.tcpInfo(idb)?.closeReason == .normal)
    }

    @Test("ABORT sends a RST; the peer's connection closes as reset")
    func abortResets() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 7, receiveMode: .buffer)
        let ida = try #require(a.tcpConnect(to: ipB, port: 7, now: link.now))
        link.run(for: .milliseconds(100))
        let idb = try #require(b.tcpAccept(port: 7))
        a.tcpWrite(ida, [1, 2, 3], now: link.now)
        link.run(for: .milliseconds(100))
        a.tcpAbort(ida, now: link.now)
        #expect(a.tcpInfo(ida)?.closeReason == .aborted)
        link.run(for: .milliseconds(100))
        #expect(b.tcpInfo(idb)?.state == .closed && b.tcpInfo(idb)?.closeReason == .reset)
        #expect(b.tcpRead(idb, now: link.now) == [1, 2, 3])
        #expect(b.tcpLiveConnectionCount == 0)
    }

    @Test("Delayed ACKs: one small segment is ACKed after the timeout, two full ones at once")
    func delayedACK() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 7, receiveMode: .buffer)
        let ida = try #require(a.tcpConnect(to: ipB, port: 7, now: link.now))
        link.run(for: .milliseconds(100))
        var acks: [Instant] = []
        link.ba.dropFilter = { frame, now in
            if frame.count <= 14 + 20 + 32 + 12 { acks.append(now) }   // header-only segments from B
            return false
        }
        let sent = link.now
        a.tcpWrite(ida, [1], now: link.now)
        link.run(for: .milliseconds(200))
        // Arrives 5 ms after sending; the ACK leaves 40 ms later.
        #expect(acks == [sent + .milliseconds(45)])
        acks = []
        let second = link.now
        a.tcpWrite(ida, [UInt8](repeating: 7, count: 2 * 1448), now: link.now)
        link.run(for: .milliseconds(200))
        #expect(acks.first == second + .milliseconds(5))
    }

    @Test("Both directions cross the 2^32 sequence wrap under loss, byte-exact")
    func sequenceWrap() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), rate: 50e6, queueLimit: 60_000, loss: 0.01, seed: 12, quick)
        a.tcp.fixedInitialSequenceNumber = UInt32.max - 100_000
        b.tcp.fixedInitialSequenceNumber = UInt32.max - 3000
        b.tcpListen(port: 5001, receiveMode: .buffer)
        let ida = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
        link.run(for: .milliseconds(100))
        let idb = try #require(b.tcpAccept(port: 5001))
        let toB = randomBytes(400_000, seed: 5), toA = randomBytes(300_000, seed: 6)
        var sentA = 0, sentB = 0
        var gotA: [UInt8] = [], gotB: [UInt8] = []
        link.run(for: .seconds(60), stop: {
            if sentA < toB.count { sentA += a.tcpWrite(ida, Array(toB[sentA...]), now: link.now) }
            if sentB < toA.count { sentB += b.tcpWrite(idb, Array(toA[sentB...]), now: link.now) }
            gotB += b.tcpRead(idb, now: link.now)
            gotA += a.tcpRead(ida, now: link.now)
            link.collect()
            return gotA.count == toA.count && gotB.count == toB.count
        })
        #expect(gotB == toB && gotA == toA)
        #expect((a.tcpInfo(ida)?.stats.segmentsRetransmitted ?? 0) > 0)
    }

    @Test("PMTUD: a link that drops big frames and says so with ICMP fragmentation needed; segments shrink, the transfer completes")
    func pathMTUDiscovery() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 5001)
        let id = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
        link.run(for: .milliseconds(100))
        // A "router" on the path with MTU 1000: frames with more than 1000 IP bytes are dropped
        // and answered with fragmentation needed, quoting the IP header and 8 bytes.
        var errors: [[UInt8]] = []
        var biggestDelivered = 0
        link.ab.dropFilter = { frame, _ in
            guard frame.count - 14 > 1000 else { biggestDelivered = max(biggestDelivered, frame.count - 14); return false }
            let quote = Array(frame[14..<(14 + 20 + 8)])
            let ip = IPv4Header(source: IPv4Address(10, 0, 0, 254), destination: ipA, protocol: .icmp,
                                payloadLength: 8 + quote.count, timeToLive: 64, identification: 9)
            var out = [UInt8](repeating: 0, count: 14 + 20 + 8 + quote.count)
            let n = out.withUnsafeMutableBytes { buf in
                quote.withUnsafeBytes { q in
                    try! IPv4Frame.emitICMP(into: buf, ethernet: EthernetHeader(destination: macA, source: macB, etherType: .ipv4),
                                            ip: ip, icmp: .destinationUnreachable(code: ICMPv4UnreachableCode.fragmentationNeeded, nextHopMTU: 1000),
                                            data: q)
                }
            }
            errors.append(Array(out[0..<n]))
            return true
        }
        a.tcpSendBulk(id, bytes: 300_000, now: link.now)
        link.run(for: .seconds(20), stop: {
            for e in errors { a.receive(e, now: link.now) }
            errors = []
            link.collect()
            return a.tcpInfo(id)?.state == .closed
        })
        let info = try #require(a.tcpInfo(id))
        #expect(info.stats.pathMTUReductions == 1 && info.sendMSS == 1000 - 40 - 12)
        #expect(biggestDelivered == 1000)
        #expect(info.state == .closed && info.closeReason == .normal && info.stats.timeouts == 0)
        #expect(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) }?.stats.bytesReceived == 300_000)
        // An error quoting a sequence number outside the window is not believed (RFC 5927 §4.1).
        let (link2, c, d) = tcpPair(delay: .milliseconds(5), quick)
        d.tcpListen(port: 5001)
        let id2 = try #require(c.tcpConnect(to: ipB, port: 5001, now: link2.now))
        link2.run(for: .milliseconds(100))
        let info2 = try #require(c.tcpInfo(id2))
        var bogus = [UInt8](repeating: 0, count: 28)
        bogus[0] = 0x45; bogus[2] = 0x05; bogus[3] = 0xDC; bogus[8] = 64; bogus[9] = 6
        bogus[12] = 10; bogus[15] = 1; bogus[16] = 10; bogus[19] = 2
        // The quoted TCP header: our port, port 5001, sequence number 0 (not in flight).
        bogus[20] = UInt8(info2.localPort >> 8); bogus[21] = UInt8(info2.localPort & 0xFF)
        bogus[22] = 0x13; bogus[23] = 0x89
        let ip = IPv4Header(source: IPv4Address(10, 0, 0, 254), destination: ipA, protocol: .icmp, payloadLength: 36, timeToLive: 64, identification: 1)
        var out = [UInt8](repeating: 0, count: 14 + 20 + 36)
        _ = out.withUnsafeMutableBytes { buf in
            bogus.withUnsafeBytes { q in
                try! IPv4Frame.emitICMP(into: buf, ethernet: EthernetHeader(destination: macA, source: macB, etherType: .ipv4),
                                        ip: ip, icmp: .destinationUnreachable(code: ICMPv4UnreachableCode.fragmentationNeeded, nextHopMTU: 600),
                                        data: q)
            }
        }
        c.tcpSendBulk(id2, bytes: 100_000, now: link2.now)   // data in flight, but not at sequence 0
        c.receive(out, now: link2.now)
        #expect(c.tcpInfo(id2)?.stats.pathMTUReductions == 0 && c.tcpInfo(id2)?.sendMSS == 1448)
    }

    @Test("PLPMTUD (RFC 4821): a black hole above 1400 bytes and no ICMP; after two timeouts the size falls to 1024, probes climb to exactly 1400, the transfer completes")
    func pathMTUBlackHole() throws {
        func transfer(probing: Bool) throws -> (info: TCPConnectionInfo, received: UInt64, biggest: Int, probeSizes: [Int]) {
            let (link, a, b) = tcpPair(delay: .milliseconds(5), rate: 100e6, queueLimit: 500_000) { c in
                quick(&c)
                c.tcp.pathMTUProbing = probing
            }
            b.tcpListen(port: 5001)
            let id = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
            link.run(for: .milliseconds(100))
            var biggest = 0
            var sizes: [Int] = []
            // A link whose MTU is 1400: larger datagrams vanish without a word.
            link.ab.dropFilter = { frame, _ in
                let ipLength = frame.count - 14
                if ipLength > 1400 { sizes.append(ipLength); return true }
                sizes.append(ipLength)
                biggest = max(biggest, ipLength)
                return false
            }
            a.tcpSendBulk(id, bytes: 3_000_000, now: link.now)
            link.run(for: .seconds(30), stop: { a.tcpInfo(id)?.state == .closed })
            let info = try #require(a.tcpInfo(id))
            let received = b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) }?.stats.bytesReceived ?? 0
            // The probe sizes: datagrams larger than every one before them since the fallback.
            var probeSizes: [Int] = []
            var settled = 1024
            for size in sizes.drop(while: { $0 != 1024 }) where size > settled {
                probeSizes.append(size)
                if size <= 1400 { settled = size }
            }
            return (info, received, biggest, probeSizes)
        }
        let on = try transfer(probing: true)
        print("PLPMTUD: probes \(on.probeSizes), \(on.info.stats.pathMTUProbes) sent, \(on.info.stats.pathMTUProbesLost) lost,",
              "mss \(on.info.sendMSS), timeouts \(on.info.stats.timeouts), retransmitted \(on.info.stats.segmentsRetransmitted)")
        #expect(on.info.state == .closed && on.info.closeReason == .normal)
        #expect(on.received == 3_000_000)
        #expect(on.info.stats.pathMTUBlackHoles == 1)
        // 1400 − 20 (IP) − 20 (TCP) − 12 (timestamps).
        #expect(on.info.sendMSS == 1348)
        #expect(on.biggest == 1400)
        // A binary search between 1024 and 1499: each probe's size is the midpoint of what is left.
        #expect(on.info.stats.pathMTUProbes >= 5 && on.info.stats.pathMTUProbes <= 10)
        #expect(on.info.stats.pathMTUProbesLost >= 1 && on.info.stats.pathMTUProbesLost < on.info.stats.pathMTUProbes)
        let firstProbe: Int = 1024 + (1499 - 1024 + 1) / 2
        #expect(on.probeSizes.first == firstProbe)
        // Without it the connection retransmits full-size segments into the hole until it gives up.
        let off = try transfer(probing: false)
        #expect(off.received == 0)
        #expect(off.info.stats.pathMTUBlackHoles == 0 && off.info.sendMSS == 1448)
    }

    @Test("A transfer longer than the ARP cache lifetime keeps its entry fresh: one ARP request, nothing queued or dropped")
    func forwardProgressConfirmsTheNeighbour() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), rate: 10e6, queueLimit: 200_000) { c in
            quick(&c)
            c.arp.cacheLifetime = .seconds(1)
        }
        b.tcpListen(port: 5001)
        let id = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
        a.tcpSendBulk(id, bytes: 5_000_000, now: link.now)   // 4 s at 10 Mbit/s: four lifetimes
        link.run(for: .seconds(30), stop: { a.tcpInfo(id)?.state == .closed })
        let info = try #require(a.tcpInfo(id))
        #expect(info.state == .closed && info.closeReason == .normal)
        #expect(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) }?.stats.bytesReceived == 5_000_000)
        #expect(a.counters.arpRequestsSent == 1 && a.counters.arpQueueDrops == 0)
        #expect(b.counters.arpQueueDrops == 0)
    }

    @Test("Same seed, same trace; another seed, another trace")
    func determinism() {
        func trace(_ seed: UInt64) -> UInt64 {
            let (link, a, b) = tcpPair(delay: .milliseconds(10), rate: 50e6, queueLimit: 50_000, loss: 0.01, seed: seed, quick)
            b.tcpListen(port: 5001)
            let id = a.tcpConnect(to: ipB, port: 5001, now: link.now)!
            a.tcpSendBulk(id, bytes: 500_000, now: link.now)
            link.run(for: .seconds(30))
            #expect(a.tcpInfo(id)?.state == .closed)
            return link.trace
        }
        let first = trace(42)
        #expect(trace(42) == first)
        #expect(trace(43) != first)
    }

    @Test("After a timeout the SACK scoreboard is kept (RFC 6675 §5.1): only the holes are resent, not the SACKed data between them")
    func timeoutKeepsSACKScoreboard() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 5001)
        let id = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
        link.run(for: .milliseconds(100))
        // Data segments 30 and 40 are lost, and so are their retransmissions in the SACK recovery:
        // only a timeout repairs them, with SACKed data between and after the two holes.
        var dataSegments = 0
        var lost: [UInt32: (length: Int, drops: Int)] = [:]
        var highestEnd: UInt32?
        var resentOther = 0
        link.ab.dropFilter = { frame, _ in
            guard let (seq, length) = tcpData(frame), length > 0 else { return false }
            dataSegments += 1
            if dataSegments == 30 || dataSegments == 40 { lost[seq] = (length, 0) }
            if let l = lost[seq], l.drops < 2 { lost[seq]!.drops += 1; return true }
            let end = seq &+ UInt32(length)
            // Ending at or below the highest end seen: a retransmission (sequence space, mod 2^32).
            if let highest = highestEnd, Int32(bitPattern: end &- highest) <= 0 {
                if lost[seq] == nil { resentOther += 1 }
            } else {
                highestEnd = end
            }
            return false
        }
        a.tcpSendBulk(id, bytes: 300_000, now: link.now)
        link.run(for: .seconds(20), stop: { a.tcpInfo(id)?.state == .closed })
        let info = try #require(a.tcpInfo(id))
        #expect(lost.count == 2 && lost.values.allSatisfy { $0.drops == 2 })
        #expect(info.stats.timeouts == 1 && info.stats.fastRetransmits == 1)
        // Each hole went three times (first, in recovery, after the timeout); nothing the receiver
        // had SACKed went again. (The old go-back resent the SACKed segments after the second hole.)
        // The FIN, if it rode on the last data segment, may go alone again: SACK blocks cover data.
        #expect(info.stats.bytesRetransmitted == 2 * UInt64(lost.values.reduce(0) { $0 + $1.length }))
        #expect(resentOther == 0)
        #expect(info.state == .closed && info.closeReason == .normal)
        let sink = try #require(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) })
        #expect(sink.stats.bytesReceived == 300_000 && sink.stats.patternMismatches == 0)
    }

    @Test("Every segment lost for a while: the RTO doubles per timeout, then the transfer recovers")
    func rtoBackoff() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5), quick)
        b.tcpListen(port: 5001)
        let id = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
        link.run(for: .milliseconds(200))
        var sendTimes: [Instant] = []
        let blackoutEnd = link.now + .seconds(10)
        link.ab.dropFilter = { frame, now in
            guard now < blackoutEnd, frame.count > 100 else { return false }
            sendTimes.append(now)
            return true
        }
        a.tcpSendBulk(id, bytes: 50_000, now: link.now)
        link.run(for: .seconds(30))
        // The first flight (10 segments) left at once; then one retransmission per timeout.
        let retransmissions = Array(sendTimes.dropFirst(10))
        let gaps = zip(retransmissions.dropFirst(), retransmissions).map { ($0 - $1).nanosecondsClamped }
        #expect(retransmissions.count >= 4)
        for (later, earlier) in zip(gaps.dropFirst(), gaps) { #expect(later == 2 * earlier) }
        let info = try #require(a.tcpInfo(id))
        // One more timeout after the blackout: that retransmission got through.
        #expect(info.stats.timeouts == retransmissions.count + 1)
        #expect(info.state == .closed && info.closeReason == .normal)
        #expect(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) }?.stats.bytesReceived == 50_000)
    }

    @Test("A receiver that stops reading closes the window; persist probes follow; reading reopens it")
    func zeroWindow() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(5)) { c in
            c.tcp.receiveBufferSize = 65536
            c.tcp.maximumSegmentLifetime = .seconds(1)
        }
        b.tcpListen(port: 5001, receiveMode: .buffer)
        let id = try #require(a.tcpConnect(to: ipB, port: 5001, now: link.now))
        link.run(for: .milliseconds(100))
        let server = try #require(b.tcpAccept(port: 5001))
        let data = randomBytes(300_000, seed: 3)
        var written = 0
        written += a.tcpWrite(id, data, now: link.now)
        link.run(for: .seconds(10))
        let stalled = try #require(a.tcpInfo(id))
        #expect(stalled.sendWindow == 0)
        #expect(stalled.stats.windowProbes >= 3)
        // Full but for less than a segment: receiver SWS avoidance never opens a sliver (the SYN
        // promised 65535 of the 65536).
        let readable = try #require(b.tcpInfo(server)?.bytesReadable)
        #expect(readable > 65536 - 1448 && readable <= 65536)
        #expect(stalled.state == .established)
        var received: [UInt8] = []
        link.run(for: .seconds(30), stop: {
            if written < data.count { written += a.tcpWrite(id, Array(data[written...]), now: link.now) }
            received += b.tcpRead(server, now: link.now)
            link.collect()
            return received.count == data.count
        })
        #expect(received == data)
    }

    @Test("A SYN flood fills the backlog and no more; the established connection carries on")
    func synFlood() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(1)) { c in c.tcp.synBacklog = 16 }
        b.tcpListen(port: 80)
        let id = try #require(a.tcpConnect(to: ipB, port: 80, now: link.now))
        link.run(for: .milliseconds(50))
        #expect(a.tcpInfo(id)?.state == .established)
        var r = SeededRandom(seed: 5)
        for i in 0..<10_000 {
            let source = IPv4Address(rawValue: 0x0A00_0000 | UInt32(truncatingIfNeeded: r.next() % 200 + 3))
            let frame = tcpFrame(from: source, to: ipB, sourcePort: UInt16(truncatingIfNeeded: 1024 + i), destinationPort: 80,
                                 sequence: UInt32(truncatingIfNeeded: r.next()), flags: [.syn])
            b.receive(frame, now: link.now)
        }
        #expect(b.tcpLiveConnectionCount <= 16 + 1)
        #expect(b.tcpCounters.drops[.synBacklogFull] >= 10_000 - 16)
        _ = b.takeOutgoing()
        a.tcpSendBulk(id, bytes: 100_000, now: link.now)
        link.run(for: .seconds(5))
        let sink = try #require(b.tcpConnectionIDs.first.flatMap { b.tcpInfo($0) })
        #expect(sink.stats.bytesReceived == 100_000)
        // The half-open ones give up after their SYN-ACK retries and leave nothing behind.
        link.run(for: .seconds(200))
        #expect(b.tcpLiveConnectionCount == 0)
    }

    @Test("10,000 random and mutated segments: nothing traps, every segment is processed or counted as a drop")
    func fuzz() throws {
        let (link, a, b) = tcpPair(delay: .milliseconds(1))
        b.tcpListen(port: 80)
        let id = try #require(a.tcpConnect(to: ipB, port: 80, now: link.now))
        a.tcpSendBulk(id, bytes: 20_000, close: false, now: link.now)
        link.run(for: .milliseconds(300))
        let sinkID = try #require(b.tcpConnectionIDs.first)
        let clientPort = try #require(a.tcpInfo(id)).localPort
        // Real segments from the established flow as mutation seeds.
        var seeds: [[UInt8]] = []
        a.tcpSendBulk(id, bytes: 20_000, close: false, now: link.now)
        a.drainOutgoing { seeds.append(Array($0)) }
        #expect(!seeds.isEmpty)
        var r = SeededRandom(seed: 99)
        let before = b.tcpCounters
        let framesBefore = b.counters.framesReceived
        var toTCP = 0
        for i in 0..<10_000 {
            var frame: [UInt8]
            switch i % 4 {
            case 0:
                // A valid checksum over random header fields and options.
                var opts = [UInt8](repeating: 0, count: Int(r.next() % 11) * 4)
                for k in opts.indices { opts[k] = UInt8(truncatingIfNeeded: r.next() % 3 == 0 ? r.next() % 9 : r.next()) }
                frame = tcpFrame(from: ipA, to: ipB, sourcePort: r.next() % 2 == 0 ? clientPort : UInt16(truncatingIfNeeded: r.next()),
                                 destinationPort: r.next() % 2 == 0 ? 80 : UInt16(truncatingIfNeeded: r.next()),
                                 sequence: UInt32(truncatingIfNeeded: r.next()), ack: UInt32(truncatingIfNeeded: r.next()),
                                 flags: TCPFlags(rawValue: UInt8(truncatingIfNeeded: r.next())),
                                 window: UInt16(truncatingIfNeeded: r.next()), options: opts,
                                 payload: Array(repeating: 0x55, count: Int(r.next() % 1400)))
            case 1, 2:
                // A real segment with bytes flipped in the TCP header (checksum fixed up half the time).
                frame = seeds[Int(r.next() % UInt64(seeds.count))]
                for _ in 0..<Int(1 + r.next() % 4) {
                    let k = 34 + Int(r.next() % UInt64(min(40, frame.count - 34)))
                    frame[k] ^= UInt8(truncatingIfNeeded: r.next() | 1)
                }
                if i % 4 == 1 { fixTCPChecksum(&frame) }
            default:
                // Truncated: the IP total length cut to a random length into the TCP header.
                frame = seeds[Int(r.next() % UInt64(seeds.count))]
                let cut = Int(r.next() % 60)
                frame = Array(frame[0..<min(frame.count, 34 + cut)])
                let total = frame.count - 14
                frame[16] = UInt8(total >> 8); frame[17] = UInt8(total & 0xFF)
                fixIPChecksum(&frame)
            }
            if frame[23] == 6 { toTCP += 1 }
            b.receive(frame, now: link.now)
            _ = b.takeOutgoing()
        }
        let c = b.tcpCounters
        #expect(b.counters.framesReceived - framesBefore == 10_000)
        #expect(c.segmentsReceived - before.segmentsReceived == toTCP)
        #expect(c.segmentsReceived == c.segmentsProcessed + c.dropped)
        #expect(c.drops[.malformed] > before.drops[.malformed] && c.drops[.noConnection] > 0 && c.drops[.outOfWindow] > 0)
        print("TCP fuzz counters:", c.fields.filter { $0.value > 0 }.map { "\($0.name)=\($0.value)" }.joined(separator: " "))
        _ = sinkID
    }

    @Test("NewReno goodput at 100 Mbit/s, 20 ms RTT, 0.1 % loss against the Mathis formula", .timeLimit(.minutes(5)))
    func mathis() throws {
        var results: [TCPCongestionControlAlgorithm: Double] = [:]
        for algorithm in TCPCongestionControlAlgorithm.allCases {
            let (link, a, b) = tcpPair(delay: .milliseconds(10), rate: 100e6, queueLimit: 1 << 22, loss: 0.001, seed: 3, quick)
            b.tcpListen(port: 5001)
            let id = try #require(a.tcpConnect(to: ipB, port: 5001, congestionControl: algorithm, now: link.now))
            link.run(for: .milliseconds(100))
            let start = link.now
            let startBytes = try #require(a.tcpInfo(id)).stats.bytesAcknowledged
            a.tcpSendBulk(id, bytes: 1 << 40, close: false, now: link.now)
            link.run(for: .seconds(30))
            let info = try #require(a.tcpInfo(id))
            let seconds = Double((link.now - start).nanosecondsClamped) / 1e9
            let goodput = Double(info.stats.bytesAcknowledged - startBytes) * 8 / seconds
            results[algorithm] = goodput
            print("TCP \(algorithm) 100 Mbit/s 20 ms 0.1% loss: \(goodput / 1e6) Mbit/s, " +
                  "\(info.stats.fastRetransmits) fast retransmits, \(info.stats.timeouts) timeouts, srtt \(Double(info.smoothedRTT ?? 0) / 1e6) ms")
        }
        // Mathis et al.: BW = MSS/RTT · C/√p with C = √(3/2) ≈ 1.22.
        let predicted = 1448.0 * 8 / 0.020 * 1.22 / 0.001.squareRoot()
        print("Mathis prediction: \(predicted / 1e6) Mbit/s")
        let newReno = try #require(results[.newReno])
        #expect(newReno > predicted * 0.5 && newReno < predicted * 2)
        #expect(try #require(results[.cubic]) > newReno)
    }
}

// MARK: Hand-made segments

private func tcpFrame(from source: IPv4Address, to destination: IPv4Address, sourcePort: UInt16, destinationPort: UInt16,
                      sequence: UInt32, ack: UInt32 = 0, flags: TCPFlags, window: UInt16 = 65535,
                      options: [UInt8] = [], payload: [UInt8] = []) -> [UInt8] {
    let header = TCPHeader(sourcePort: sourcePort, destinationPort: destinationPort, sequenceNumber: sequence,
                           acknowledgmentNumber: ack, flags: flags, window: window, options: HeaderOptions(options)!)
    let ip = IPv4Header(source: source, destination: destination, protocol: .tcp,
                        payloadLength: header.headerLength + payload.count, timeToLive: 64, identification: 1)
    var frame = [UInt8](repeating: 0, count: 14 + 20 + header.headerLength + payload.count)
    let n = frame.withUnsafeMutableBytes { buf in
        let offset = 14 + 20 + header.headerLength
        payload.withUnsafeBytes { buf.copyBytes($0, at: offset) }
        return try! IPv4Frame.emitTCP(into: buf, ethernet: EthernetHeader(destination: macB, source: macA, etherType: .ipv4),
                                      ip: ip, tcp: header, payloadLength: payload.count)
    }
    return Array(frame[0..<n])
}

private func fixIPChecksum(_ frame: inout [UInt8]) {
    frame[24] = 0; frame[25] = 0
    let c = frame.withUnsafeBytes { InternetChecksum.of($0.slice(14..<34)) }
    frame[24] = UInt8(c >> 8); frame[25] = UInt8(c & 0xFF)
}

private func fixTCPChecksum(_ frame: inout [UInt8]) {
    guard frame.count >= 54 else { return }
    frame[50] = 0; frame[51] = 0
    let source = IPv4Address(frame[26], frame[27], frame[28], frame[29])
    let destination = IPv4Address(frame[30], frame[31], frame[32], frame[33])
    var sum = InternetChecksum()
    frame.withUnsafeBytes { b in
        sum.addPseudoHeader(source: source, destination: destination, protocol: .tcp, length: b.count - 34)
        sum.add(b.slice(from: 34))
    }
    frame[50] = UInt8(sum.value >> 8); frame[51] = UInt8(sum.value & 0xFF)
}

/// A TCP/IPv4 frame's sequence number and payload length (nil for anything else).
private func tcpData(_ frame: [UInt8]) -> (sequence: UInt32, length: Int)? {
    guard frame.count >= 14 + 20 + 20, frame[12] == 0x08, frame[13] == 0x00, frame[14 + 9] == 6 else { return nil }
    let ipLength = Int(frame[14] & 0x0F) * 4
    let total = Int(frame[16]) << 8 | Int(frame[17])
    let tcp = 14 + ipLength
    guard frame.count >= tcp + 20 else { return nil }
    let sequence = UInt32(frame[tcp + 4]) << 24 | UInt32(frame[tcp + 5]) << 16 | UInt32(frame[tcp + 6]) << 8 | UInt32(frame[tcp + 7])
    let length = total - ipLength - Int(frame[tcp + 12] >> 4) * 4
    return (sequence, length)
}
