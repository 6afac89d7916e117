// Random and mutated packets both ways, with time moving on: never a crash, every verdict
// accounted for, checksums that were right stay right, the tables stay consistent, and the same
// seed gives the same run.
import Basics
import Testing
import Wire
@testable import Datapath

private typealias L = NATLab

/// True if the packet is IPv4 whose transport checksum verifies (UDP, TCP, ICMP), false if it
/// does not, nil if there is nothing to verify (not IPv4, a fragment, another protocol).
private func transportChecksumVerifies(_ bytes: [UInt8]) -> Bool? {
    guard let ip = try? bytes.withUnsafeBytes({ (b) throws(WireError) in try IPv4Header(parsing: b) }), !ip.isFragment else { return nil }
    let payload = Array(bytes[ip.payloadRange])
    return payload.withUnsafeBytes { b -> Bool? in
        switch ip.protocol {
        case .udp: (try? UDPHeader(parsing: b, source: ip.source, destination: ip.destination)) != nil
        case .tcp: (try? TCPHeader(parsing: b, source: ip.source, destination: ip.destination)) != nil
        case .icmp: (try? ICMPv4Message(parsing: b)) != nil
        default: nil
        }
    }
}

/// Recomputes the ICMP checksum of an IPv4/ICMP packet a mutation broke, so deeper code is reached.
private func fixICMPChecksum(_ b: inout [UInt8]) {
    let ihl = Int(b[0] & 0xF) * 4
    guard b.count >= ihl + 8, b[9] == 1 else { return }
    let end = min(b.count, max(ihl + 8, Int(b[2]) << 8 | Int(b[3])))
    b[ihl + 2] = 0; b[ihl + 3] = 0
    let sum = b.withUnsafeBytes { InternetChecksum.of(UnsafeRawBufferPointer(rebasing: $0[ihl..<end])) }
    b[ihl + 2] = UInt8(sum >> 8); b[ihl + 3] = UInt8(sum & 0xFF)
}

private struct FuzzRun: Equatable {
    var verdicts: [NATVerdict] = []
    var digest: UInt64 = 0xCBF2_9CE4_8422_2325
    var counters = NATCounters()
    var mappings: [NATMapping] = []
}

private func fuzz(seed: UInt64, packets: Int, filtering: NATFiltering) throws -> FuzzRun {
    let nat = try L.nat { $0.capacity = 64; $0.portRange = 40000...40031; $0.filtering = filtering }
    var rng = SeededRandom(seed: seed, component: "nat-fuzz")
    func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
    func chance(_ p: Double) -> Bool { rng.nextUnit() < p }
    let hosts = (2..<8).map { IPv4Address(10, 0, 0, UInt8($0)) }
    let remotes = [L.server, L.server2, L.pathRouter, IPv4Address(8, 8, 8, 8)]
    let internalPorts: [UInt16] = [53, 1000, 40000, 40001, 40030, 50000, 65535]
    let remotePorts: [UInt16] = [53, 80, 443, 3478, 3479]
    let flags: [TCPFlags] = [.syn, [.syn, .ack], .ack, [.fin, .ack], .rst, [.psh, .ack], [], [.syn, .fin]]
    var recentOut: [[UInt8]] = [], recentIn: [[UInt8]] = []
    var run = FuzzRun()
    var now = L.t0

    for i in 0..<packets {
        now = now + .milliseconds(Int64(rng.next() % (chance(0.01) ? 200_000 : 400)))
        var outbound = true
        var packet: [UInt8]
        switch rng.next() % 9 {
        case 0, 1:
            let hairpin = chance(0.1)
            packet = L.udp(pick(hosts), pick(internalPorts), hairpin ? L.external : pick(remotes),
                           hairpin ? 40000 + UInt16(rng.next() % 32) : pick(remotePorts), checksum: chance(0.8))
        case 2:
            outbound = false
            let port = recentOut.last(where: { $0.count >= 22 }).map { UInt16($0[20]) << 8 | UInt16($0[21]) } ?? 40000
            packet = L.udp(pick(remotes), pick(remotePorts), L.external, chance(0.8) ? port : pick(internalPorts))
        case 3:
            packet = L.tcp(pick(hosts), pick(internalPorts), pick(remotes), pick(remotePorts), flags: pick(flags))
        case 4:
            outbound = false
            packet = L.tcp(pick(remotes), pick(remotePorts), L.external, 40000 + UInt16(rng.next() % 32), flags: pick(flags))
        case 5:
            outbound = chance(0.5)
            packet = outbound
                ? L.icmp(pick(hosts), pick(remotes), .echoRequest(identifier: pick(internalPorts), sequenceNumber: 1))
                : L.icmp(pick(remotes), L.external, .echoReply(identifier: 40000 + UInt16(rng.next() % 32), sequenceNumber: 1))
        case 6:
            outbound = false
            let quoted = recentOut.isEmpty ? L.udp(L.external, 40000, L.server, 53) : pick(recentOut)
            packet = L.icmpError(pick(remotes), L.external, .timeExceeded(code: 0), quoting: quoted,
                                 quoteLength: chance(0.5) ? nil : 20 + Int(rng.next() % 24))
        case 7:
            let quoted = recentIn.isEmpty ? L.udp(L.server, 53, pick(hosts), 40000) : pick(recentIn)
            packet = L.icmpError(pick(hosts), pick(remotes), .destinationUnreachable(code: 3), quoting: quoted,
                                 quoteLength: chance(0.5) ? nil : 20 + Int(rng.next() % 24))
        default:
            outbound = chance(0.5)
            packet = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if packet.count > 20, chance(0.7) { packet[0] = 0x45; packet.withFixedLengthInPlace() }
        }
        if chance(0.5) {
            for _ in 0..<(1 + rng.next() % 4) where !packet.isEmpty {
                packet[Int(rng.next() % UInt64(packet.count))] ^= UInt8(truncatingIfNeeded: 1 | rng.next())
            }
            if chance(0.2), !packet.isEmpty { packet.removeLast(Int(rng.next() % UInt64(packet.count))) }
            if chance(0.7), packet.count >= 20, packet[0] >> 4 == 4, Int(packet[0] & 0xF) * 4 <= packet.count {
                fixIPChecksum(&packet)
                if chance(0.7) { fixICMPChecksum(&packet) }
            }
        }
        if chance(0.05) { packet += [0xEE, 0xEE] }                // link-layer padding past the total length

        let before = transportChecksumVerifies(packet)
        let original = packet
        let verdict = outbound ? nat.outbound(&packet, at: now) : nat.inbound(&packet, at: now)
        run.verdicts.append(verdict)
        for byte in packet { run.digest = (run.digest ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }

        switch verdict {
        case .drop:
            // (A hairpinned packet refused on its way back in has been translated outbound already.)
            let hairpin = outbound && original.count >= 20 && original[16..<20] == [203, 0, 113, 7]
            #expect(hairpin || packet == original, "packet \(i): a dropped packet is left alone")
        case .translated, .hairpinned:
            #expect((try? NATPacket(packet)) != nil, "packet \(i): the IPv4 header checksum still verifies")
            if before == true {
                #expect(transportChecksumVerifies(packet) == true, "packet \(i): a good transport checksum stays good")
            }
            #expect(packet.suffix(2) == original.suffix(2) || original.count == packet.count)
            if outbound, verdict == .translated { recentOut.append(packet) } else { recentIn.append(packet) }
            if recentOut.count > 16 { recentOut.removeFirst() }
            if recentIn.count > 16 { recentIn.removeFirst() }
        }

        if i % 500 == 499 {
            let mappings = nat.mappings(), sessions = nat.sessions()
            #expect(mappings.count == nat.mappingCount && sessions.count == nat.sessionCount)
            #expect(mappings.map(\.sessionCount).reduce(0, +) == sessions.count)
            #expect(sessions.allSatisfy { $0.expires > now }, "translation expires what is due")
            for proto in NATProtocol.allCases {
                let held = mappings.filter { $0.protocol == proto }
                #expect(Set(held.map(\.externalPort)).count == held.count, "no port overloading")
                #expect(nat.availablePorts(proto) + held.count == 32)
            }
            if let deadline = nat.nextDeadline() {
                #expect(deadline == sessions.map(\.expires).min())
                #expect(nat.expire(now: deadline - .nanoseconds(1)) == 0)
                #expect(nat.expire(now: deadline) >= 1)
                now = deadline
            }
        }
    }
    let drops = run.verdicts.filter { if case .drop = $0 { true } else { false } }.count
    #expect(UInt64(drops) == nat.counters.drops.total, "every drop counted once")
    #expect(nat.counters.outboundTranslated > 100 && nat.counters.inboundTranslated > 100)
    #expect(nat.counters.icmpErrorsTranslated > 0 && nat.counters.drops[.malformed] > 0)
    #expect(nat.counters.hairpinned > 0)
    run.counters = nat.counters
    run.mappings = nat.mappings()
    return run
}

@Test func tenThousandHostilePacketsNeverCrashAndAreCounted() throws {
    let first = try fuzz(seed: 42, packets: 10_000, filtering: .addressDependent)
    let again = try fuzz(seed: 42, packets: 10_000, filtering: .addressDependent)
    #expect(first == again, "same seed, same verdicts, bytes, counters and tables")
    let other = try fuzz(seed: 43, packets: 10_000, filtering: .addressDependent)
    #expect(first.digest != other.digest)
    #expect(first.counters.drops[.tableFull] + first.counters.drops[.portExhausted] > 0, "the small tables fill up")
}

@Test(arguments: [NATFiltering.endpointIndependent, .addressAndPortDependent])
func hostilePacketsUnderOtherFilteringBehaviours(_ filtering: NATFiltering) throws {
    _ = try fuzz(seed: 7, packets: 3_000, filtering: filtering)
}

extension Array where Element == UInt8 {
    /// As `withFixedLength`, in place.
    mutating func withFixedLengthInPlace() { self = withFixedLength() }
}
