import Basics
import Testing
import Wire
@testable import Datapath

@Test func routerAnswersARPRequestForItsAddress() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    let request = ARPPacket.request(from: Lab.macA, Lab.ipA, asking: Lab.routerIP0)
    #expect(router.receive(Lab.arpFrame(request), on: 0, now: Lab.t0, output: &out) == .answered)
    let sent = out.take()
    try #require(sent.count == 1)
    #expect(sent[0].interface == 0)
    let (ethernet, reply) = try parseARP(sent[0].frame)
    #expect(ethernet.destination == Lab.macA && ethernet.source == Lab.routerMAC0)
    #expect(reply == ARPPacket(operation: .reply, senderHardwareAddress: Lab.routerMAC0, senderProtocolAddress: Lab.routerIP0,
                               targetHardwareAddress: Lab.macA, targetProtocolAddress: Lab.ipA))
    // RFC 826: the requester is learned.
    #expect(router.neighbor(Lab.ipA, on: 0, now: Lab.t0) == Lab.macA)
    #expect(router.counters.arp.requestsReceived == 1 && router.counters.arp.repliesSent == 1)

    // Not for us: another host's address, or our other interface's address asked on this link.
    for target in [IPv4Address(10, 0, 0, 99), Lab.routerIP1] {
        let other = ARPPacket.request(from: MACAddress(0x02, 0xCC, 0, 0, 0, 3), IPv4Address(10, 0, 0, 3), asking: target)
        #expect(router.receive(Lab.arpFrame(other), on: 0, now: Lab.t0, output: &out) == .consumed)
    }
    #expect(out.sent.isEmpty)
    #expect(router.neighbor(IPv4Address(10, 0, 0, 3), on: 0, now: Lab.t0) == nil)   // not learned: not addressed to us
    // Someone claiming our address is not believed.
    let conflict = ARPPacket.request(from: Lab.macA, Lab.routerIP0, asking: Lab.routerIP0)
    #expect(router.receive(Lab.arpFrame(conflict), on: 0, now: Lab.t0, output: &out) == .dropped(.arpAddressConflict))
}

@Test func gratuitousARPUpdatesAKnownNeighbor() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    learnB(router, now: Lab.t0, output: &out)
    #expect(router.neighbor(Lab.ipB, on: 1, now: Lab.t0) == Lab.macB)
    let moved = MACAddress(0x02, 0xBB, 0, 0, 0, 0x99)
    let gratuitous = ARPPacket.request(from: moved, Lab.ipB, asking: Lab.ipB)
    #expect(router.receive(Lab.arpFrame(gratuitous), on: 1, now: Lab.t0 + .seconds(1), output: &out) == .consumed)
    #expect(router.neighbor(Lab.ipB, on: 1, now: Lab.t0 + .seconds(1)) == moved)
    // A gratuitous ARP from an unknown host is not learned (RFC 826 merges only known pairs).
    let stranger = ARPPacket.request(from: MACAddress(0x02, 0xDD, 0, 0, 0, 1), IPv4Address(10, 1, 0, 50), asking: IPv4Address(10, 1, 0, 50))
    router.receive(Lab.arpFrame(stranger), on: 1, now: Lab.t0, output: &out)
    #expect(router.neighbor(IPv4Address(10, 1, 0, 50), on: 1, now: Lab.t0) == nil)
    #expect(out.sent.isEmpty)
}

@Test func arpResolutionThenForwardingBetweenSubnets() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    let first = Lab.udpFrame(ttl: 64, marker: 1)
    #expect(router.receive(first, on: 0, now: Lab.t0, output: &out) == .queued)
    // One broadcast request on the outgoing interface, asking for B.
    var sent = out.take()
    try #require(sent.count == 1)
    #expect(sent[0].interface == 1)
    let (requestEthernet, request) = try parseARP(sent[0].frame)
    #expect(requestEthernet.destination == .broadcast && requestEthernet.source == Lab.routerMAC1)
    #expect(request.operation == .request && request.targetProtocolAddress == Lab.ipB)
    #expect(request.senderProtocolAddress == Lab.routerIP1 && request.senderHardwareAddress == Lab.routerMAC1)
    #expect(router.nextDeadline() == Lab.t0 + .seconds(1))

    // B answers: the waiting datagram goes out.
    learnB(router, now: Lab.t0 + .milliseconds(3), output: &out)
    sent = out.take()
    try #require(sent.count == 1)
    #expect(router.nextDeadline() == nil)
    #expect(sent[0].interface == 1)
    let flushed = try SentIPv4(sent[0].frame)
    #expect(flushed.ethernet.source == Lab.routerMAC1 && flushed.ethernet.destination == Lab.macB)
    #expect(flushed.ip.timeToLive == 63)                      // checksum verified by the parse
    #expect(flushed.ip.source == Lab.ipA && flushed.ip.destination == Lab.ipB && flushed.ip.identification == 77)
    #expect(try flushed.udp().data == (0..<32).map { UInt8(1 + $0) })   // UDP checksum still valid

    // Now resolved: the next datagram is forwarded at once, in place.
    var second = Lab.udpFrame(ttl: 9, marker: 2)
    let disposition = second.withUnsafeMutableBytes { router.receive($0, on: 0, now: Lab.t0 + .seconds(2), output: &out) }
    #expect(disposition == .forwarded(interface: 1))
    sent = out.take()
    try #require(sent.count == 1)
    #expect(sent[0].frame == second)                          // the caller's buffer, rewritten
    let s = try SentIPv4(sent[0].frame)
    #expect(s.ip.timeToLive == 8 && s.ethernet.destination == Lab.macB)
    #expect(router.counters.forwarded == 2 && router.counters.queuedForARP == 1)
    #expect(router.counters.drops.total == 0)
}

@Test func arpRetriesThenHostUnreachable() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    let ghost = IPv4Address(10, 1, 0, 9)
    #expect(router.receive(Lab.udpFrame(destination: ghost, marker: 1), on: 0, now: Lab.t0, output: &out) == .queued)
    #expect(router.receive(Lab.udpFrame(destination: ghost, marker: 2), on: 0, now: Lab.t0 + .milliseconds(10), output: &out) == .queued)
    #expect(out.take().count == 1)                             // one request, not one per datagram

    router.poll(now: Lab.t0 + .milliseconds(500), output: &out)
    #expect(out.sent.isEmpty)
    var requests = 1
    for second in 1...2 {
        #expect(router.nextDeadline() == Lab.t0 + .seconds(second))
        router.poll(now: Lab.t0 + .seconds(second), output: &out)
        let sent = out.take()
        try #require(sent.count == 1)
        #expect(try parseARP(sent[0].frame).1.targetProtocolAddress == ghost)
        requests += 1
    }
    #expect(requests == 3 && router.counters.arp.requestsSent == 3)

    // The third request went unanswered too: host unreachable to each waiting datagram's source.
    router.poll(now: Lab.t0 + .seconds(3), output: &out)
    let errors = out.take()
    #expect(errors.count == 2)
    for e in errors {
        #expect(e.interface == 0)
        let s = try SentIPv4(e.frame)
        #expect(s.ethernet.destination == Lab.macA && s.ethernet.source == Lab.routerMAC0)
        #expect(s.ip.source == Lab.routerIP0 && s.ip.destination == Lab.ipA && s.ip.protocol == .icmp)
        let (message, _) = try s.icmp()
        #expect(message.type == .destinationUnreachable && message.code == ICMPv4UnreachableCode.host)
        #expect(try s.quotedHeader().destination == ghost)
    }
    #expect(router.nextDeadline() == nil)
    #expect(router.counters.arp.resolutionFailures == 1)
    #expect(router.counters.drops[.arpResolutionFailed] == 2)
    #expect(router.arpQueuedCount == 0)
}

@Test func cacheExpiryTriggersReResolution() throws {
    let router = try Lab.router { $0.arp.cacheLifetime = .seconds(60) }
    var out = CapturedOutput()
    learnB(router, now: Lab.t0, output: &out)
    #expect(router.receive(Lab.udpFrame(), on: 0, now: Lab.t0 + .seconds(59), output: &out) == .forwarded(interface: 1))
    _ = out.take()
    #expect(router.receive(Lab.udpFrame(), on: 0, now: Lab.t0 + .seconds(60), output: &out) == .queued)
    let sent = out.take()
    try #require(sent.count == 1)
    #expect(try parseARP(sent[0].frame).1.targetProtocolAddress == Lab.ipB)
    // A fresh answer releases the datagram and refreshes the entry.
    learnB(router, now: Lab.t0 + .seconds(61), output: &out)
    #expect(out.take().count == 1)
    #expect(router.neighbor(Lab.ipB, on: 1, now: Lab.t0 + .seconds(120)) == Lab.macB)
    // poll forgets expired neighbors.
    router.poll(now: Lab.t0 + .seconds(200), output: &out)
    #expect(router.arpCacheCount == 0)
}

@Test func arpQueueIsBoundedPerDestinationAndInAll() throws {
    let router = try Lab.router { $0.arp.queuePerDestination = 2; $0.arp.queueTotal = 3 }
    var out = CapturedOutput()
    let other = IPv4Address(10, 1, 0, 3)
    for marker in [UInt8(1), 2, 3] {                 // the third pushes out the first (keep the latest)
        #expect(router.receive(Lab.udpFrame(marker: marker), on: 0, now: Lab.t0, output: &out) == .queued)
    }
    #expect(router.counters.drops[.arpQueueOverflow] == 1)
    #expect(router.receive(Lab.udpFrame(destination: other), on: 0, now: Lab.t0, output: &out) == .queued)
    // Three held in all: a fourth, for a destination with room of its own, is refused.
    #expect(router.receive(Lab.udpFrame(destination: other), on: 0, now: Lab.t0, output: &out) == .dropped(.arpQueueOverflow))
    #expect(router.arpQueuedCount == 3)
    _ = out.take()
    learnB(router, now: Lab.t0 + .milliseconds(1), output: &out)
    let flushed = try out.take().map { try SentIPv4($0.frame).udp().data.first }
    #expect(flushed == [2, 3])                        // oldest first, the dropped one gone
    #expect(router.arpQueuedCount == 1)
}

@Test func fullCacheEvictsTheEntrySoonestToExpire() throws {
    let router = try Lab.router { $0.arp.cacheCapacity = 2 }
    var out = CapturedOutput()
    for (i, host) in [UInt8(2), 3, 4].enumerated() {
        let request = ARPPacket.request(from: MACAddress(0x02, 0xAA, 0, 0, 0, host), IPv4Address(10, 0, 0, host), asking: Lab.routerIP0)
        router.receive(Lab.arpFrame(request), on: 0, now: Lab.t0 + .seconds(Int64(i)), output: &out)
    }
    let now = Lab.t0 + .seconds(3)
    #expect(router.arpCacheCount == 2)
    #expect(router.neighbor(IPv4Address(10, 0, 0, 2), on: 0, now: now) == nil)      // learned first, expires first
    #expect(router.neighbor(IPv4Address(10, 0, 0, 3), on: 0, now: now) != nil)
    #expect(router.neighbor(IPv4Address(10, 0, 0, 4), on: 0, now: now) != nil)
}
