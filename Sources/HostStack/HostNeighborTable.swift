// The host's IPv6 neighbour table (RFC 4861 §7.2, §7.3, simplified for a host): address → MAC with
// a lifetime (ReachableTime), resolutions in flight (multicast NS one RetransTimer apart, up to
// MAX_MULTICAST_SOLICIT), and the packets waiting on them (the oldest gives way, §7.2.2).
//
// The router's full cache (Sources/Datapath/Router/NeighborCache.swift, every RFC 4861 state) is
// in Datapath, which HostStack may not import (both are layer 2); a host needs only this much.
// Waiting frames are arrays: they allocate, but only while an address resolves (as ARP's do);
// a resolved neighbour's packets are written straight into the outgoing queue.

import Basics
import Wire

/// IPv6 address → MAC mappings with expiry, and the resolutions under way.
struct HostNeighborTable {
    struct Entry {
        var mac: MACAddress
        var expiresAt: Instant
    }

    struct Resolution {
        let address: IPv6Address
        var solicitationsSent: Int
        var nextAt: Instant
        var queue: [[UInt8]]
    }

    var lifetime: Duration
    var retransTimer: Duration
    var maxSolicitations: Int
    var queueLimit: Int
    /// Looked up by key only, never iterated.
    private var entries: [IPv6Address: Entry] = [:]
    /// In the order they started.
    private(set) var resolutions: [Resolution] = []

    init(configuration c: HostIPv6Configuration) {
        lifetime = c.reachableTime; retransTimer = c.retransTimer
        maxSolicitations = max(c.maxMulticastSolicit, 1); queueLimit = max(c.queueLimit, 1)
    }

    mutating func lookup(_ address: IPv6Address, now: Instant) -> MACAddress? {
        guard let entry = entries[address] else { return nil }
        if now >= entry.expiresAt { entries[address] = nil; return nil }
        return entry.mac
    }

    /// Whether an entry or a resolution exists for `address`.
    func knows(_ address: IPv6Address) -> Bool {
        entries[address] != nil || resolutions.contains { $0.address == address }
    }

    /// Records `address` at `mac`; returns the frames that waited for it, destination MAC filled in.
    mutating func update(_ address: IPv6Address, mac: MACAddress, now: Instant) -> [[UInt8]] {
        entries[address] = Entry(mac: mac, expiresAt: now + lifetime)
        guard let index = resolutions.firstIndex(where: { $0.address == address }) else { return [] }
        var frames = resolutions.remove(at: index).queue
        for i in frames.indices { frames[i].withUnsafeMutableBytes { mac.write(to: $0, at: 0) } }
        return frames
    }

    mutating func remove(_ address: IPv6Address) { entries[address] = nil }

    /// Queues `frame` until `address` resolves: whether a resolution started (send the first NS
    /// now) and whether the oldest waiting frame was dropped.
    mutating func enqueue(_ frame: [UInt8], for address: IPv6Address, now: Instant) -> (started: Bool, dropped: Bool) {
        if let index = resolutions.firstIndex(where: { $0.address == address }) {
            var dropped = false
            if resolutions[index].queue.count >= queueLimit { resolutions[index].queue.removeFirst(); dropped = true }
            resolutions[index].queue.append(frame)
            return (false, dropped)
        }
        resolutions.append(Resolution(address: address, solicitationsSent: 1, nextAt: now + retransTimer, queue: [frame]))
        return (true, false)
    }

    /// Due timers: addresses to solicit again, and resolutions given up (with frames dropped).
    mutating func poll(now: Instant) -> (retry: [IPv6Address], failed: [(IPv6Address, Int)]) {
        var retry: [IPv6Address] = []
        var failed: [(IPv6Address, Int)] = []
        var kept: [Resolution] = []
        for var r in resolutions {
            guard r.nextAt <= now else { kept.append(r); continue }
            if r.solicitationsSent >= maxSolicitations {
                failed.append((r.address, r.queue.count))
            } else {
                r.solicitationsSent += 1
                r.nextAt = now + retransTimer
                retry.append(r.address)
                kept.append(r)
            }
        }
        resolutions = kept
        return (retry, failed)
    }

    func nextDeadline() -> Instant? { resolutions.lazy.map(\.nextAt).min() }
}
