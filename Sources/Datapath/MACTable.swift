// The switch's filtering database: MAC address → port, with the time each address was last seen.
//
// Two structures over one fixed array of entries, all sized in `init` and never grown:
//   • an open-addressing hash index (linear probing, Fibonacci hashing of the 48-bit address,
//     load factor ≤ 1/2, backward-shift deletion so there are no tombstones), slot → entry number;
//   • a doubly linked list of the entries in last-seen order, oldest first. Every sighting moves an
//     entry to the newest end, so aging and eviction look only at the oldest end: O(1), and the
//     order is deterministic (it never depends on hash order).
// Free entries are chained through `newer`.

import Basics
import Wire

/// One learned address, as reported by `LearningSwitch.entries`.
public struct MACTableEntry: Equatable, Sendable {
    public var address: MACAddress
    public var port: PortID
    public var lastSeen: Instant
}

struct MACTable: Sendable {
    struct Entry {
        var address: UInt64
        var lastSeen: Instant
        var port: PortID
        var older: Int32
        var newer: Int32
    }

    static let none: Int32 = -1

    private(set) var entries: [Entry]
    private var index: [Int32]
    private let mask: Int
    private let shift: UInt64
    private var freeHead: Int32
    private(set) var oldest: Int32 = none
    private(set) var newest: Int32 = none
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0 && capacity < Int(Int32.max) / 4, "MACTable: capacity out of range")
        self.capacity = capacity
        var slots = 16
        while slots < 2 * capacity { slots <<= 1 }
        mask = slots - 1
        shift = UInt64(64 - slots.trailingZeroBitCount)
        index = Array(repeating: Self.none, count: slots)
        entries = (0..<capacity).map {
            Entry(address: 0, lastSeen: .zero, port: PortID(0), older: Self.none,
                  newer: $0 + 1 < capacity ? Int32($0 + 1) : Self.none)
        }
        freeHead = 0
    }

    var isFull: Bool { count == capacity }

    subscript(entry: Int32) -> Entry { entries[Int(entry)] }

    /// The entry holding `address`, or `none`.
    func find(_ address: UInt64) -> Int32 {
        var slot = home(address)
        while true {
            let e = index[slot]
            if e == Self.none || entries[Int(e)].address == address { return e }
            slot = (slot &+ 1) & mask
        }
    }

    /// Adds `address` (which must be absent) as the newest entry. The table must not be full.
    @discardableResult
    mutating func insert(_ address: UInt64, port: PortID, now: Instant) -> Int32 {
        precondition(freeHead != Self.none, "MACTable: insert into a full table")
        let e = freeHead
        freeHead = entries[Int(e)].newer
        entries[Int(e)] = Entry(address: address, lastSeen: now, port: port, older: Self.none, newer: Self.none)
        linkNewest(e)
        var slot = home(address)
        while index[slot] != Self.none { slot = (slot &+ 1) & mask }
        index[slot] = e
        count += 1
        return e
    }

    /// Marks entry `e` as seen at `now` on `port` (moves it to the newest end).
    mutating func touch(_ e: Int32, port: PortID, now: Instant) {
        entries[Int(e)].port = port
        entries[Int(e)].lastSeen = now
        guard e != newest else { return }
        unlink(e)
        linkNewest(e)
    }

    /// Removes entry `e`.
    mutating func remove(_ e: Int32) {
        var hole = home(entries[Int(e)].address)
        while index[hole] != e { hole = (hole &+ 1) & mask }
        // Backward-shift deletion: pull later members of the probe run into the hole whenever the
        // hole lies between their home slot and where they sit, so lookups never cross an empty slot.
        var probe = hole
        while true {
            probe = (probe &+ 1) & mask
            let moving = index[probe]
            if moving == Self.none { break }
            let h = home(entries[Int(moving)].address)
            if (probe &- h) & mask >= (probe &- hole) & mask {
                index[hole] = moving
                hole = probe
            }
        }
        index[hole] = Self.none
        unlink(e)
        entries[Int(e)].newer = freeHead
        freeHead = e
        count -= 1
    }

    private func home(_ address: UInt64) -> Int {
        Int(truncatingIfNeeded: (address &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    private mutating func unlink(_ e: Int32) {
        let older = entries[Int(e)].older, newer = entries[Int(e)].newer
        if older != Self.none { entries[Int(older)].newer = newer } else { oldest = newer }
        if newer != Self.none { entries[Int(newer)].older = older } else { newest = older }
        entries[Int(e)].older = Self.none
        entries[Int(e)].newer = Self.none
    }

    private mutating func linkNewest(_ e: Int32) {
        entries[Int(e)].older = newest
        entries[Int(e)].newer = Self.none
        if newest != Self.none { entries[Int(newest)].newer = e } else { oldest = e }
        newest = e
    }
}
