// Whitepaper §5.4.2: the receiver index I_i is "randomly generated" by its owner, and every message to it carries
// it — so a transport message finds its session by one table lookup (wireguard-go device/indextable.go). The
// indices are ours and random, so an open-addressing table that hashes them with one multiplication spreads them
// as well as SipHash would, and a lookup (once per received packet) is a multiply, a mask and usually one probe.
// A sender of forged indices cannot crowd the table: it only holds indices we handed out.

/// Receiver indices we handed out → what they stand for. Linear probing, at most half full; removal shifts the
/// following entries back, so there are no tombstones and a miss stops at the first empty slot.
struct IndexTable {
    struct Slot {
        var index: UInt32
        var entry: WireGuardDevice.IndexEntry?
    }
    private var slots: [Slot]
    private var shift: UInt32
    private(set) var count = 0
    var isEmpty: Bool { count == 0 }
    /// The indices in use, in no particular order.
    var keys: [UInt32] { slots.compactMap { $0.entry == nil ? nil : $0.index } }

    /// An empty table of `capacity` slots (a power of two, at least 8).
    init(capacity: Int = 16) {
        precondition(capacity >= 8 && capacity & (capacity - 1) == 0)
        slots = Array(repeating: Slot(index: 0, entry: nil), count: capacity)
        shift = UInt32(32 - capacity.trailingZeroBitCount)
    }

    /// A table with no slots, to stand in while the real one is changed out of place (allocates nothing; never
    /// looked up).
    static var placeholder: IndexTable { IndexTable(slots: [], shift: 0) }

    private init(slots: [Slot], shift: UInt32) {
        self.slots = slots
        self.shift = shift
    }

    /// Fibonacci hashing: the top bits of index × 2^32/φ.
    @inline(__always) private func home(_ index: UInt32) -> Int { Int((index &* 0x9E37_79B9) >> shift) }

    /// The entry for `index`; setting nil removes it.
    subscript(index: UInt32) -> WireGuardDevice.IndexEntry? {
        @inline(__always) get {
            slots.withUnsafeBufferPointer { s in
                let mask = s.count - 1
                var i = home(index)
                while let entry = s[i].entry {
                    if s[i].index == index { return entry }
                    i = (i + 1) & mask
                }
                return nil
            }
        }
        set {
            if let newValue { insert(newValue, at: index) } else { remove(index) }
        }
    }

    private mutating func insert(_ entry: WireGuardDevice.IndexEntry, at index: UInt32) {
        let mask = slots.count - 1
        var i = home(index)
        while slots[i].entry != nil {
            if slots[i].index == index { slots[i].entry = entry; return }
            i = (i + 1) & mask
        }
        slots[i] = Slot(index: index, entry: entry)
        count += 1
        if count * 2 > slots.count { grow() }
    }

    private mutating func remove(_ index: UInt32) {
        let mask = slots.count - 1
        var i = home(index)
        while slots[i].entry != nil, slots[i].index != index { i = (i + 1) & mask }
        guard slots[i].entry != nil else { return }
        // Backward shift: move later entries of the run into the hole when their home allows it.
        var hole = i
        slots[hole].entry = nil
        count -= 1
        var j = (hole + 1) & mask
        while slots[j].entry != nil {
            let h = home(slots[j].index)
            // The entry at j may move to the hole if its home is not cyclically within (hole, j].
            if (j - h) & mask >= (j - hole) & mask {
                slots[hole] = slots[j]
                slots[j].entry = nil
                hole = j
            }
            j = (j + 1) & mask
        }
    }

    private mutating func grow() {
        let old = slots
        self = IndexTable(capacity: old.count * 2)
        for slot in old { if let entry = slot.entry { insert(entry, at: slot.index) } }
    }
}
