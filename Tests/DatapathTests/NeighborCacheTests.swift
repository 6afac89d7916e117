// The RFC 4861 §7.3 neighbour cache, driven through every state and timer with virtual time.
import Basics
import Testing
import Wire
@testable import Datapath

private let t0 = Instant(nanoseconds: 1_000_000_000)
private func at(_ seconds: Double) -> Instant { t0 + .milliseconds(Int64(seconds * 1000)) }
private let n1 = IPv6Address("2001:db8::1")!, n2 = IPv6Address("2001:db8::2")!, n3 = IPv6Address("2001:db8::3")!
private let mac1 = MACAddress(0x02, 0, 0, 0, 0, 1), mac2 = MACAddress(0x02, 0, 0, 0, 0, 2)

@Test func addressResolutionQueuesThenFlushesOnASolicitedAdvertisement() {
    var cache = NeighborCache()
    var actions: [NeighborAction] = []
    cache.send(token: 10, to: n1, now: t0, actions: &actions)
    #expect(actions == [.solicit(target: n1, unicastTo: nil)])
    #expect(cache.entry(n1)?.state == .incomplete && cache.nextDeadline == at(1))
    actions = []
    cache.send(token: 11, to: n1, now: at(0.1), actions: &actions)
    cache.send(token: 12, to: n1, now: at(0.2), actions: &actions)
    #expect(actions.isEmpty)                                                   // queued, one solicitation outstanding
    // A fourth packet: the queue holds three, the oldest gives way (§7.2.2).
    cache.send(token: 13, to: n1, now: at(0.3), actions: &actions)
    #expect(actions == [.drop(token: 10, reason: .queueOverflow)])
    actions = []
    // An NA without a target link-layer address is ignored while INCOMPLETE.
    cache.receiveAdvertisement(target: n1, linkLayer: nil, solicited: true, override: true, router: false, now: at(0.4), actions: &actions)
    #expect(actions.isEmpty && cache.entry(n1)?.state == .incomplete)
    cache.receiveAdvertisement(target: n1, linkLayer: mac1, solicited: true, override: false, router: true, now: at(0.5), actions: &actions)
    #expect(actions == [.transmit(token: 11, mac: mac1), .transmit(token: 12, mac: mac1), .transmit(token: 13, mac: mac1)])
    #expect(cache.entry(n1)?.state == .reachable && cache.entry(n1)?.isRouter == true && cache.entry(n1)?.queue == [])
    #expect(cache.nextDeadline == at(30.5))
    actions = []
    cache.send(token: 14, to: n1, now: at(1), actions: &actions)
    #expect(actions == [.transmit(token: 14, mac: mac1)])
    // An NA for a neighbour with no entry is discarded.
    cache.receiveAdvertisement(target: n2, linkLayer: mac2, solicited: true, override: true, router: false, now: at(1), actions: &actions)
    #expect(cache.entry(n2) == nil)
}

@Test func resolutionFailsAfterThreeSolicitationsAndDropsTheQueue() {
    var cache = NeighborCache()
    var actions: [NeighborAction] = []
    cache.send(token: 1, to: n1, now: t0, actions: &actions)
    cache.send(token: 2, to: n1, now: t0, actions: &actions)
    for s in 1...2 {
        actions = []
        cache.service(now: at(Double(s) - 0.001), actions: &actions)
        #expect(actions.isEmpty)                                               // not yet due
        cache.service(now: at(Double(s)), actions: &actions)
        #expect(actions == [.solicit(target: n1, unicastTo: nil)], "retransmission \(s)")
    }
    actions = []
    cache.service(now: at(3), actions: &actions)
    #expect(actions == [.drop(token: 1, reason: .resolutionFailed), .drop(token: 2, reason: .resolutionFailed)])
    #expect(cache.entry(n1) == nil && cache.nextDeadline == .distantFuture)
}

/// REACHABLE → STALE → DELAY → PROBE → REACHABLE, and PROBE → deleted (§7.3.3, Appendix C).
@Test func unreachabilityDetectionWalksTheStates() {
    var config = NeighborCacheConfiguration()
    config.reachableTime = .seconds(20)
    var cache = NeighborCache(configuration: config)
    var actions: [NeighborAction] = []
    cache.send(token: 1, to: n1, now: t0, actions: &actions)
    cache.receiveAdvertisement(target: n1, linkLayer: mac1, solicited: true, override: true, router: false, now: t0, actions: &actions)
    actions = []
    cache.service(now: at(20), actions: &actions)
    #expect(cache.entry(n1)?.state == .stale && actions.isEmpty && cache.nextDeadline == .distantFuture)
    // Sending to a STALE entry goes out at once and starts the delay.
    cache.send(token: 2, to: n1, now: at(25), actions: &actions)
    #expect(actions == [.transmit(token: 2, mac: mac1)] && cache.entry(n1)?.state == .delay && cache.nextDeadline == at(30))
    actions = []
    cache.service(now: at(30), actions: &actions)
    #expect(actions == [.solicit(target: n1, unicastTo: mac1)] && cache.entry(n1)?.state == .probe)
    // Packets still flow while probing.
    actions = []
    cache.send(token: 3, to: n1, now: at(30.5), actions: &actions)
    #expect(actions == [.transmit(token: 3, mac: mac1)])
    // A solicited NA confirms: REACHABLE again.
    cache.receiveAdvertisement(target: n1, linkLayer: nil, solicited: true, override: false, router: false, now: at(30.6), actions: &actions)
    #expect(cache.entry(n1)?.state == .reachable && cache.nextDeadline == at(50.6))
    // This time nobody answers the probes: three, then the entry is deleted.
    cache.service(now: at(50.6), actions: &actions)                            // → STALE
    cache.send(token: 4, to: n1, now: at(51), actions: &actions)               // → DELAY
    actions = []
    for s in [56.0, 57.0, 58.0] { cache.service(now: at(s), actions: &actions) }
    #expect(actions == Array(repeating: .solicit(target: n1, unicastTo: mac1), count: 3))
    cache.service(now: at(59), actions: &actions)
    #expect(cache.entry(n1) == nil)
    // An upper-layer hint skips the probe: DELAY → REACHABLE.
    cache.learn(address: n2, mac: mac2, now: at(60), actions: &actions)
    cache.send(token: 5, to: n2, now: at(61), actions: &actions)
    cache.confirmReachability(n2, now: at(62))
    #expect(cache.entry(n2)?.state == .reachable && cache.nextDeadline == at(82))
}

/// §7.2.5's table for an entry that is not INCOMPLETE.
@Test func advertisementsUpdateOrIgnoreAsTheOverrideFlagSays() {
    var cache = NeighborCache()
    var actions: [NeighborAction] = []
    cache.send(token: 1, to: n1, now: t0, actions: &actions)
    cache.receiveAdvertisement(target: n1, linkLayer: mac1, solicited: true, override: true, router: false, now: t0, actions: &actions)
    #expect(actions == [.solicit(target: n1, unicastTo: nil), .transmit(token: 1, mac: mac1)])
    actions = []
    // Override clear, different address: REACHABLE becomes STALE, the address stays.
    cache.receiveAdvertisement(target: n1, linkLayer: mac2, solicited: true, override: false, router: true, now: at(1), actions: &actions)
    #expect(cache.entry(n1)?.state == .stale && cache.entry(n1)?.mac == mac1 && cache.entry(n1)?.isRouter == false)
    // ... and when already STALE it is ignored.
    cache.receiveAdvertisement(target: n1, linkLayer: mac2, solicited: true, override: false, router: true, now: at(2), actions: &actions)
    #expect(cache.entry(n1)?.state == .stale && cache.entry(n1)?.mac == mac1)
    // Override set, unsolicited, different address: updated, STALE.
    cache.receiveAdvertisement(target: n1, linkLayer: mac2, solicited: false, override: true, router: true, now: at(3), actions: &actions)
    #expect(cache.entry(n1)?.state == .stale && cache.entry(n1)?.mac == mac2 && cache.entry(n1)?.isRouter == true)
    // Solicited with the same address: REACHABLE.
    cache.receiveAdvertisement(target: n1, linkLayer: mac2, solicited: true, override: false, router: true, now: at(4), actions: &actions)
    #expect(cache.entry(n1)?.state == .reachable && cache.entry(n1)?.mac == mac2)
    // Unsolicited with the same address changes nothing.
    cache.receiveAdvertisement(target: n1, linkLayer: mac2, solicited: false, override: false, router: true, now: at(5), actions: &actions)
    #expect(cache.entry(n1)?.state == .reachable)
    #expect(actions.isEmpty)
}

/// §7.2.3: a link-layer address seen in a solicitation creates or updates a STALE entry, and
/// completes a pending resolution.
@Test func learnedLinkLayerAddressesAreStale() {
    var cache = NeighborCache()
    var actions: [NeighborAction] = []
    cache.learn(address: n1, mac: mac1, now: t0, actions: &actions)
    #expect(cache.entry(n1)?.state == .stale && cache.entry(n1)?.mac == mac1)
    cache.receiveAdvertisement(target: n1, linkLayer: mac1, solicited: true, override: false, router: false, now: t0, actions: &actions)
    cache.learn(address: n1, mac: mac1, now: at(1), actions: &actions)
    #expect(cache.entry(n1)?.state == .reachable)                              // same address: unchanged
    cache.learn(address: n1, mac: mac2, now: at(2), actions: &actions)
    #expect(cache.entry(n1)?.state == .stale && cache.entry(n1)?.mac == mac2)
    cache.send(token: 7, to: n2, now: at(3), actions: &actions)
    actions = []
    cache.learn(address: n2, mac: mac2, now: at(3.5), actions: &actions)
    #expect(actions == [.transmit(token: 7, mac: mac2)] && cache.entry(n2)?.state == .stale && cache.entry(n2)?.deadline == .distantFuture)
    actions = []
    cache.send(token: 8, to: n3, now: at(4), actions: &actions)
    cache.remove(n3, actions: &actions)
    #expect(actions == [.solicit(target: n3, unicastTo: nil), .drop(token: 8, reason: .resolutionFailed)] && cache.entry(n3) == nil)
}

@Test func aFullCacheReplacesTheLeastRecentlyUsedStaleEntryOrRefuses() {
    var config = NeighborCacheConfiguration()
    config.capacity = 2
    var cache = NeighborCache(configuration: config)
    var actions: [NeighborAction] = []
    cache.send(token: 1, to: n1, now: t0, actions: &actions)
    cache.send(token: 2, to: n2, now: t0, actions: &actions)
    actions = []
    // Both INCOMPLETE: nothing may be replaced.
    cache.send(token: 3, to: n3, now: at(0.5), actions: &actions)
    #expect(actions == [.drop(token: 3, reason: .cacheFull)] && cache.entries.count == 2)
    cache.learn(address: n1, mac: mac1, now: at(0.6), actions: &actions)
    cache.learn(address: n2, mac: mac2, now: at(0.7), actions: &actions)
    cache.send(token: 4, to: n2, now: at(0.8), actions: &actions)              // n2 used later than n1
    actions = []
    cache.send(token: 5, to: n3, now: at(0.9), actions: &actions)
    #expect(actions == [.solicit(target: n3, unicastTo: nil)])
    #expect(cache.entry(n1) == nil && cache.entry(n2) != nil && cache.entry(n3)?.state == .incomplete)
}

/// Seeded random events: the cache stays within its bounds, every token is accounted for exactly
/// once (transmitted, dropped, or still queued), and two runs with one seed act identically.
@Test func randomEventsKeepTheBoundsAndAccountForEveryPacket() {
    func run(seed: UInt64) -> [NeighborAction] {
        var config = NeighborCacheConfiguration()
        config.capacity = 4
        var cache = NeighborCache(configuration: config)
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var all: [NeighborAction] = []
        var now = t0
        var sent = 0
        for _ in 0..<5000 {
            var actions: [NeighborAction] = []
            now = now + .milliseconds(Int64(next() % 1500))
            let address = IPv6Address(high: 0x2001_0DB8_0000_0000, low: next() % 6)
            let mac = MACAddress(rawValue: 0x0200_0000_0000 | (next() % 3))
            switch next() % 6 {
            case 0, 1: cache.send(token: sent, to: address, now: now, actions: &actions); sent += 1
            case 2: cache.receiveAdvertisement(target: address, linkLayer: next() % 4 == 0 ? nil : mac, solicited: next() % 2 == 0,
                                               override: next() % 2 == 0, router: false, now: now, actions: &actions)
            case 3: cache.learn(address: address, mac: mac, now: now, actions: &actions)
            case 4: cache.confirmReachability(address, now: now)
            default: cache.service(now: now, actions: &actions)
            }
            #expect(cache.entries.count <= 4)
            #expect(cache.entries.values.allSatisfy { $0.queue.count <= 3 && ($0.state == .incomplete) == ($0.mac == nil) })
            #expect(cache.entries.values.allSatisfy { $0.state == .incomplete || $0.queue.isEmpty })
            all += actions
        }
        var seen = Set<Int>()
        for case .transmit(let token, _) in all { #expect(seen.insert(token).inserted) }
        for case .drop(let token, _) in all { #expect(seen.insert(token).inserted) }
        let queued = cache.entries.values.flatMap(\.queue)
        for token in queued { #expect(seen.insert(token).inserted) }
        #expect(seen == Set(0..<sent))
        return all
    }
    let a = run(seed: 7)
    #expect(a == run(seed: 7))
    #expect(a.contains { if case .drop(_, .resolutionFailed) = $0 { true } else { false } })
    #expect(a.contains { if case .solicit(_, .some) = $0 { true } else { false } })
}
