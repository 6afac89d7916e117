// Pooled secret memory: sodium_malloc'd slabs of fixed-size key slots.
//
// STYLE.md: "Secrets live in sodium_malloc memory." One sodium_malloc per key costs a guard page on each side and
// three or four memory mappings (guard, data, guard; mlocked), so a process with many sessions — 64 mesh engines in
// one simulation hold ~4,000 sessions, each several keys — exceeds Linux's vm.max_map_count (65,530) and aborts.
// A slab is one sodium_malloc'd block (mlocked, between guard pages, like any sodium_malloc memory) holding
// `slotsPerSlab` keys of `slotSize` bytes. Keys take a slot and give it back: the slot is wiped with sodium_memzero
// at once and reused (last freed, first reused); a full pool grows by a new slab; a slab whose slots are all free is
// released with sodium_free (which wipes it again) as soon as another slab has room, so an idle process keeps at
// most one empty slab. What the guard pages no longer give is a fence between two keys of the same slab: an overrun
// of one key's 32 bytes reaches the next key instead of faulting. Every user of a slot goes through `SecretKey`'s
// fixed-length accessors.

import CSodium
import Synchronization

/// One sodium_malloc'd block of `slotCount` slots of `slotSize` bytes. Its bookkeeping is guarded by the pool's lock.
public final class SecretSlab: @unchecked Sendable {
    /// The slab's memory (sodium_malloc'd, mlocked, guarded).
    let base: UnsafeMutableRawPointer
    let slotSize: Int
    let slotCount: Int
    /// Free slot numbers, the most recently freed last.
    var free: [Int32]
    /// True while the slab is on the pool's list of slabs with a free slot.
    var listed = false

    init(slotSize: Int, slotCount: Int) {
        precondition(Sodium.ready, "sodium_init failed")
        guard let p = sodium_malloc(slotSize * slotCount) else { fatalError("sodium_malloc failed: out of memory") }
        base = p
        self.slotSize = slotSize
        self.slotCount = slotCount
        sodium_memzero(p, slotSize * slotCount)
        free = []
        free.reserveCapacity(slotCount)
        for i in stride(from: slotCount - 1, through: 0, by: -1) { free.append(Int32(i)) }
    }

    deinit { sodium_free(base) }

    /// The memory of slot `slot`.
    func pointer(_ slot: Int32) -> UnsafeMutableRawPointer { base + Int(slot) * slotSize }

    /// Slots handed out and not yet given back.
    var inUse: Int { slotCount - free.count }
}

/// A slot of a slab: where a secret lives, and what to give back when it is released.
public struct SecretSlot: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    let slab: SecretSlab
    let slot: Int32
}

/// Fixed-size secret slots in sodium_malloc'd slabs; thread-safe. `SecretKey` takes its 32 bytes from `shared`.
public final class SecretSlabPool: Sendable {
    /// The pool every `SecretKey` uses: 32-byte slots, 128 to a slab (one 4 KiB page of secrets between guard pages).
    public static let shared = SecretSlabPool(slotSize: SecretKey.length, slotsPerSlab: 128)

    public let slotSize: Int
    public let slotsPerSlab: Int

    struct State {
        /// Every live slab.
        var slabs: [SecretSlab] = []
        /// Slabs with at least one free slot; allocation takes from the last.
        var withRoom: [SecretSlab] = []
        var slabsCreated = 0
        var slabsReleased = 0
    }

    let state = Mutex(State())

    /// A pool of `slotsPerSlab` slots of `slotSize` bytes per slab (both at least 1).
    public init(slotSize: Int, slotsPerSlab: Int) {
        precondition(slotSize >= 1 && slotsPerSlab >= 1 && slotsPerSlab <= Int(Int32.max), "bad secret pool geometry")
        self.slotSize = slotSize
        self.slotsPerSlab = slotsPerSlab
    }

    /// A zeroed slot; a new slab when every slab is full.
    public func allocate() -> SecretSlot {
        state.withLock { s in
            if s.withRoom.isEmpty {
                let slab = SecretSlab(slotSize: slotSize, slotCount: slotsPerSlab)
                slab.listed = true
                s.slabs.append(slab)
                s.withRoom.append(slab)
                s.slabsCreated += 1
            }
            let slab = s.withRoom[s.withRoom.count - 1]
            let slot = slab.free.removeLast()
            if slab.free.isEmpty {
                slab.listed = false
                s.withRoom.removeLast()
            }
            return SecretSlot(pointer: slab.pointer(slot), slab: slab, slot: slot)
        }
    }

    /// Wipes the slot (sodium_memzero) and gives it back; a slab left empty is released when another has room.
    public func release(_ slot: SecretSlot) {
        sodium_memzero(slot.pointer, slotSize)
        state.withLock { s in
            let slab = slot.slab
            slab.free.append(slot.slot)
            if !slab.listed {
                slab.listed = true
                s.withRoom.append(slab)
            }
            if slab.free.count == slab.slotCount && s.withRoom.count > 1 {
                slab.listed = false
                if let i = s.withRoom.lastIndex(where: { $0 === slab }) { s.withRoom.remove(at: i) }
                if let i = s.slabs.lastIndex(where: { $0 === slab }) { s.slabs.remove(at: i) }
                s.slabsReleased += 1
            }
        }
    }

    /// Live slabs, slots in use, and slabs created and released so far.
    public var statistics: (slabs: Int, slotsInUse: Int, slabsCreated: Int, slabsReleased: Int) {
        state.withLock { s in (s.slabs.count, s.slabs.reduce(0) { $0 + $1.inUse }, s.slabsCreated, s.slabsReleased) }
    }
}
