// A transparent learning bridge (IEEE 802.1Q-2018 §8.7 learning process, §8.8 filtering database),
// sans-IO: frames' addresses in, a `SwitchDecision` out, time passed in as `now`.
//
// Rules, in the order `receive` applies them:
//   1. A group (multicast/broadcast) or all-zero source is dropped — IEEE 802.3-2018 §3.2.3: "In the
//      Source Address field, the first bit is reserved and set to 0." No station owns such an
//      address, so it is never learned (Linux's bridge drops these frames the same way:
//      br_handle_frame → !is_valid_ether_addr).
//   2. The source is learned on the ingress port (a known address seen on another port moves there).
//   3. Group destinations, and unicast destinations not in the table, are flooded to every port
//      but the ingress.
//   4. A known destination is forwarded to its port — unless that is the ingress port, in which
//      case the frame is dropped: a bridge never sends a frame back where it came from.
//
// Aging (the filtering database's Ageing Time; IEEE 802.1D recommends 300 s): an entry not refreshed for
// `agingTime` is gone. Expired entries are removed lazily (a lookup that finds one removes it and
// floods; a full table first reclaims expired entries) and eagerly by `expire(now:)`, which the
// driver calls at `nextDeadline()`. Time never runs backwards inside the switch: an earlier `now`
// than one already seen is treated as the latest one.
//
// Steady state allocates nothing: the table is fixed-size (see MACTable.swift).

import Basics
import Wire

/// A MAC-learning switch. Value type; one per bridge, owned by the driver.
public struct LearningSwitch: Sendable {
    /// What to do when a new address arrives and the table is full (after expired entries are reclaimed).
    public enum FullTablePolicy: Sendable, Equatable {
        /// Forget the least recently seen address (counted in `statistics.evicted`).
        case evictOldest
        /// Keep the table; the new address stays unknown and frames to it flood (`statistics.refused`).
        case refuseNew
    }

    /// Table size, aging time and full-table policy.
    public struct Configuration: Sendable, Equatable {
        /// Addresses the table holds (at least 1).
        public var capacity: Int
        /// How long an address stays without being seen.
        public var agingTime: Duration
        /// What happens when the table is full.
        public var whenFull: FullTablePolicy

        public init(capacity: Int = 4096, agingTime: Duration = .seconds(300), whenFull: FullTablePolicy = .evictOldest) {
            self.capacity = capacity
            self.agingTime = agingTime
            self.whenFull = whenFull
        }
    }

    /// Counts of table events (drops are counted per port by the driver from `SwitchDecision.drop`).
    public struct Statistics: Equatable, Sendable {
        /// New addresses entered.
        public var learned: UInt64 = 0
        /// Known addresses seen on a different port.
        public var moved: UInt64 = 0
        /// Entries removed because they were not seen within the aging time.
        public var aged: UInt64 = 0
        /// Entries evicted to make room (`evictOldest`).
        public var evicted: UInt64 = 0
        /// New addresses not learned because the table was full (`refuseNew`).
        public var refused: UInt64 = 0
        /// Entries removed by `removePort`.
        public var flushed: UInt64 = 0

        public init() {}
    }

    public internal(set) var configuration: Configuration
    public private(set) var statistics = Statistics()
    private var table: MACTable
    private var latest = Instant.zero

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.agingTime >= .zero, "LearningSwitch: agingTime must not be negative")
        self.configuration = configuration
        table = MACTable(capacity: configuration.capacity)
    }

    /// Addresses currently in the table (expired ones not yet removed included).
    public var count: Int { table.count }

    /// Learns `source` on `port` and decides where the frame goes.
    public mutating func receive(source: MACAddress, destination: MACAddress, on port: PortID, now: Instant) -> SwitchDecision {
        let now = advance(to: now)
        guard source.isUnicast, source != .zero else { return .drop(.invalidSourceAddress) }
        learn(source, on: port, now: now)

        if destination.isMulticast { return .flood(except: port) }
        let e = table.find(destination.rawValue)
        if e == MACTable.none { return .flood(except: port) }
        if isExpired(e, now: now) {
            table.remove(e)
            statistics.aged &+= 1
            return .flood(except: port)
        }
        let egress = table[e].port
        return egress == port ? .drop(.sameIngressPort) : .forward(egress)
    }

    /// The port `address` was last seen on, if known and not expired at `now`. Does not learn.
    public func lookup(_ address: MACAddress, now: Instant) -> PortID? {
        let e = table.find(address.rawValue)
        guard e != MACTable.none, !isExpired(e, now: max(now, latest)) else { return nil }
        return table[e].port
    }

    /// Removes every entry whose aging time has run out at `now`, oldest first; returns how many.
    @discardableResult
    public mutating func expire(now: Instant) -> Int {
        let now = advance(to: now)
        var removed = 0
        while table.oldest != MACTable.none, isExpired(table.oldest, now: now) {
            table.remove(table.oldest)
            removed += 1
        }
        statistics.aged &+= UInt64(removed)
        return removed
    }

    /// When the oldest entry expires (call `expire(now:)` then), or nil when the table is empty.
    public func nextDeadline() -> Instant? {
        table.oldest == MACTable.none ? nil : table[table.oldest].lastSeen + configuration.agingTime
    }

    /// Forgets every address learned on `port` (the port went away); returns how many.
    @discardableResult
    public mutating func removePort(_ port: PortID) -> Int {
        var removed = 0
        var e = table.oldest
        while e != MACTable.none {
            let next = table[e].newer
            if table[e].port == port {
                table.remove(e)
                removed += 1
            }
            e = next
        }
        statistics.flushed &+= UInt64(removed)
        return removed
    }

    /// The table, least recently seen first (allocates; for inspection and tests).
    public var entries: [MACTableEntry] {
        var result: [MACTableEntry] = []
        result.reserveCapacity(table.count)
        var e = table.oldest
        while e != MACTable.none {
            let entry = table[e]
            result.append(MACTableEntry(address: MACAddress(rawValue: entry.address), port: entry.port, lastSeen: entry.lastSeen))
            e = entry.newer
        }
        return result
    }

    private mutating func learn(_ source: MACAddress, on port: PortID, now: Instant) {
        let e = table.find(source.rawValue)
        if e != MACTable.none {
            if table[e].port != port { statistics.moved &+= 1 }
            table.touch(e, port: port, now: now)
            return
        }
        if table.isFull {
            expire(now: now)
        }
        if table.isFull {
            switch configuration.whenFull {
            case .evictOldest:
                table.remove(table.oldest)
                statistics.evicted &+= 1
            case .refuseNew:
                statistics.refused &+= 1
                return
            }
        }
        table.insert(source.rawValue, port: port, now: now)
        statistics.learned &+= 1
    }

    private func isExpired(_ e: Int32, now: Instant) -> Bool {
        now >= table[e].lastSeen + configuration.agingTime
    }

    private mutating func advance(to now: Instant) -> Instant {
        if now > latest { latest = now }
        return latest
    }
}
