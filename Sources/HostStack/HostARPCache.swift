// The ARP translation table (RFC 826) with resolution in flight and the datagrams waiting on it
// (RFC 1122 §2.3.2). A value type: the host asks it what to send and when.

import Basics
import Wire

/// Address → MAC mappings with expiry, and the resolutions under way.
struct HostARPCache {
    struct Entry {
        var mac: MACAddress
        var expiresAt: Instant
    }

    /// A resolution under way: requests sent so far, when the next one (or the failure) is due,
    /// and the frames waiting (complete but for their destination MAC).
    struct Resolution {
        let address: IPv4Address
        var requestsSent: Int
        var nextAt: Instant
        var queue: [[UInt8]]
    }

    let configuration: ARPConfiguration
    /// Looked up by key only, never iterated, so its order cannot leak into decisions.
    private var entries: [IPv4Address: Entry] = [:]
    /// In the order they started: timers fire in that order.
    private(set) var resolutions: [Resolution] = []

    init(configuration: ARPConfiguration) { self.configuration = configuration }

    /// The MAC for `address` if known and fresh; an expired entry is forgotten.
    mutating func lookup(_ address: IPv4Address, now: Instant) -> MACAddress? {
        guard let entry = entries[address] else { return nil }
        if now >= entry.expiresAt { entries[address] = nil; return nil }
        return entry.mac
    }

    /// An upper layer saw forward progress with `address` (a TCP ACK for new data, or new data in
    /// order): the neighbour is reachable, so a fresh entry's lifetime starts again — RFC 4861
    /// §7.3.1's reachability confirmation, which Linux applies to ARP too. Without it a busy
    /// connection's entry expires under it and its segments queue (and drop) behind a new request.
    /// Renewed only past half its lifetime, so a steady flow costs one table write per half-life.
    mutating func confirm(_ address: IPv4Address, now: Instant) {
        guard let entry = entries[address], now < entry.expiresAt else { return }
        let renewed = now + configuration.cacheLifetime
        guard entry.expiresAt - now < configuration.cacheLifetime / 2 else { return }
        entries[address]!.expiresAt = renewed
    }

    /// Whether an entry (fresh or not) or a resolution exists for `address`: RFC 826's "already
    /// in my translation table".
    func knows(_ address: IPv4Address) -> Bool {
        entries[address] != nil || resolutions.contains { $0.address == address }
    }

    /// Records `address` at `mac` and returns the frames that were waiting for it, their
    /// destination MAC filled in.
    mutating func update(_ address: IPv4Address, mac: MACAddress, now: Instant) -> [[UInt8]] {
        entries[address] = Entry(mac: mac, expiresAt: now + configuration.cacheLifetime)
        guard let index = resolutions.firstIndex(where: { $0.address == address }) else { return [] }
        var frames = resolutions.remove(at: index).queue
        for i in frames.indices {
            frames[i].withUnsafeMutableBytes { mac.write(to: $0, at: 0) }
        }
        return frames
    }

    /// Forgets `address` (a conflict, or an address given up).
    mutating func remove(_ address: IPv4Address) { entries[address] = nil }

    /// Queues `frame` until `address` resolves. Returns whether a new resolution started (the
    /// host sends the first request now) and whether the oldest waiting frame was dropped.
    mutating func enqueue(_ frame: [UInt8], for address: IPv4Address, now: Instant) -> (started: Bool, dropped: Bool) {
        if let index = resolutions.firstIndex(where: { $0.address == address }) {
            var dropped = false
            if resolutions[index].queue.count >= max(configuration.queueLimit, 1) {
                resolutions[index].queue.removeFirst()
                dropped = true
            }
            resolutions[index].queue.append(frame)
            return (false, dropped)
        }
        resolutions.append(Resolution(address: address, requestsSent: 1,
                                      nextAt: now + configuration.requestInterval, queue: [frame]))
        return (true, false)
    }

    /// Runs due timers: addresses to ask again, and resolutions that gave up (with the number of
    /// frames they dropped).
    mutating func poll(now: Instant) -> (retry: [IPv4Address], failed: [(IPv4Address, Int)]) {
        var retry: [IPv4Address] = []
        var failed: [(IPv4Address, Int)] = []
        var kept: [Resolution] = []
        for var r in resolutions {
            guard r.nextAt <= now else { kept.append(r); continue }
            if r.requestsSent >= configuration.requestCount {
                failed.append((r.address, r.queue.count))
            } else {
                r.requestsSent += 1
                r.nextAt = now + configuration.requestInterval
                retry.append(r.address)
                kept.append(r)
            }
        }
        resolutions = kept
        return (retry, failed)
    }

    /// The earliest retry or give-up.
    func nextDeadline() -> Instant? { resolutions.lazy.map(\.nextAt).min() }
}
