// An open-addressing hash index over a table's entry numbers, sized once and never grown.
//
// Linear probing, load factor ≤ 1/2 (twice as many slots as entries), backward-shift deletion so
// there are no tombstones — as `MACTable`. Each slot keeps its entry's 32-bit hash, so probing
// rarely touches the entries and deletion needs no callback. The index only finds entries; it
// never decides an order, so hash order cannot leak into behaviour.

/// Entry numbers by hash. Equality is the caller's (`find`'s `matches`). A trivial value over
/// memory its owner frees with `deallocate()` (so copying it never retains anything).
struct NATIndex {
    struct Slot {
        var entry: Int32
        var hash: UInt32
    }

    static let empty: Int32 = -1

    private let slots: UnsafeMutableBufferPointer<Slot>
    private let mask: Int
    private let shift: UInt32

    /// An index for up to `capacity` entries.
    init(capacity: Int) {
        var n = 16
        while n < 2 * capacity { n <<= 1 }
        slots = .allocate(capacity: n)
        slots.initialize(repeating: Slot(entry: Self.empty, hash: 0))
        mask = n - 1
        shift = UInt32(32 - n.trailingZeroBitCount)
    }

    func deallocate() { slots.deallocate() }

    /// Fibonacci-style placement: the hash's top bits.
    @inline(__always) private func home(_ hash: UInt32) -> Int { Int(truncatingIfNeeded: hash >> shift) }

    /// The entry with `hash` for which `matches` holds, or `empty`.
    @inline(__always) func find(_ hash: UInt32, matches: (Int32) -> Bool) -> Int32 {
        var i = home(hash)
        while true {
            let slot = slots[i]
            if slot.entry == Self.empty { return Self.empty }
            if slot.hash == hash, matches(slot.entry) { return slot.entry }
            i = (i &+ 1) & mask
        }
    }

    /// Adds `entry` under `hash`. The caller keeps at most `capacity` entries.
    func insert(_ hash: UInt32, _ entry: Int32) {
        var i = home(hash)
        while slots[i].entry != Self.empty { i = (i &+ 1) & mask }
        slots[i] = Slot(entry: entry, hash: hash)
    }

    /// Removes `entry`, which was inserted under `hash`.
    func remove(_ hash: UInt32, _ entry: Int32) {
        var hole = home(hash)
        while slots[hole].entry != entry { hole = (hole &+ 1) & mask }
        // Pull later members of the probe run into the hole whenever the hole lies between their
        // home slot and where they sit, so lookups never cross an empty slot.
        var probe = hole
        while true {
            probe = (probe &+ 1) & mask
            let moving = slots[probe]
            if moving.entry == Self.empty { break }
            let h = home(moving.hash)
            if (probe &- h) & mask >= (probe &- hole) & mask {
                slots[hole] = moving
                hole = probe
            }
        }
        slots[hole].entry = Self.empty
    }
}

/// Key mixing for the NAT's indexes (SplitMix64's finaliser, keyed by a per-NAT seed).
enum NATHash {
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Hash of an internal endpoint: protocol, address, port.
    @inline(__always) static func endpoint(_ proto: NATProtocol, _ address: UInt32, _ port: UInt16, seed: UInt64) -> UInt32 {
        let key = UInt64(proto.rawValue) << 48 | UInt64(address) << 16 | UInt64(port)
        return UInt32(truncatingIfNeeded: mix(key ^ seed) >> 32)
    }

    /// Hash of a remote endpoint of mapping `mapping`.
    @inline(__always) static func remote(_ mapping: Int32, _ address: UInt32, _ port: UInt16, seed: UInt64) -> UInt32 {
        let a = mix((UInt64(UInt32(bitPattern: mapping)) << 32 | UInt64(address)) ^ seed)
        return UInt32(truncatingIfNeeded: mix(a ^ UInt64(port)) >> 32)
    }
}
