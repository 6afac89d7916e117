// The pooled secret allocator (SecretSlab.swift): slots are reused, wiped on release, a full pool grows a slab, an
// emptied slab is released, and many keys take few mappings. Each test uses its own pool, so the other tests running
// in parallel (which use `SecretSlabPool.shared` through `SecretKey`) do not disturb the counts.
import Crypto
import Foundation
import Testing

@Test func secretSlabReusesTheLastFreedSlotAndWipesIt() {
    let pool = SecretSlabPool(slotSize: 32, slotsPerSlab: 4)
    let a = pool.allocate(), b = pool.allocate()
    #expect(a.pointer != b.pointer)
    // A fresh slot is zero.
    #expect((0..<32).allSatisfy { b.pointer.load(fromByteOffset: $0, as: UInt8.self) == 0 })
    for i in 0..<32 { a.pointer.storeBytes(of: UInt8(0xA0 | (i & 0xF)), toByteOffset: i, as: UInt8.self) }
    let where_ = a.pointer
    pool.release(a)
    // The slab is still alive (b is in it): the released slot's bytes are zero at once.
    #expect((0..<32).allSatisfy { where_.load(fromByteOffset: $0, as: UInt8.self) == 0 })
    // The next allocation takes the slot just freed.
    let c = pool.allocate()
    #expect(c.pointer == where_)
    #expect(pool.statistics.slabs == 1)
    #expect(pool.statistics.slotsInUse == 2)
    pool.release(b); pool.release(c)
}

@Test func secretSlabPoolGrowsWhenFullAndReleasesEmptiedSlabs() {
    let pool = SecretSlabPool(slotSize: 32, slotsPerSlab: 8)
    var slots = (0..<8).map { _ in pool.allocate() }
    #expect(pool.statistics.slabs == 1)
    // The ninth slot needs a second slab.
    slots.append(pool.allocate())
    #expect(pool.statistics.slabs == 2)
    #expect(pool.statistics.slabsCreated == 2)
    #expect(Set(slots.map(\.pointer)).count == 9)
    // Every slot is a distinct 32-byte range: writing one leaves the others zero.
    for (k, s) in slots.enumerated() { s.pointer.storeBytes(of: UInt8(k + 1), toByteOffset: 31, as: UInt8.self) }
    for (k, s) in slots.enumerated() {
        #expect(s.pointer.load(fromByteOffset: 31, as: UInt8.self) == UInt8(k + 1))
        #expect((0..<31).allSatisfy { s.pointer.load(fromByteOffset: $0, as: UInt8.self) == 0 })
    }
    // Emptying the first slab while the second has room releases it.
    for s in slots[0..<8] { pool.release(s) }
    #expect(pool.statistics.slabs == 1)
    #expect(pool.statistics.slabsReleased == 1)
    pool.release(slots[8])
    // The last slab stays as the reserve: no slab is created and released again and again at the boundary.
    #expect(pool.statistics.slabs == 1)
    #expect(pool.statistics.slotsInUse == 0)
    for _ in 0..<1000 { let s = pool.allocate(); pool.release(s) }
    #expect(pool.statistics.slabsCreated == 2)
}

@Test func secretSlabPoolLeaksNothingOverManyRounds() {
    let pool = SecretSlabPool(slotSize: 32, slotsPerSlab: 16)
    var g = SystemRandomNumberGenerator()
    var live: [SecretSlot] = []
    for round in 0..<50 {
        // Grow to a random size, then shrink to another, releasing in random order.
        let target = Int.random(in: 0...200, using: &g)
        while live.count < target { live.append(pool.allocate()) }
        live.shuffle(using: &g)
        let keep = Int.random(in: 0...live.count, using: &g)
        for s in live[keep...] { pool.release(s) }
        live.removeSubrange(keep...)
        let st = pool.statistics
        #expect(st.slotsInUse == live.count, "round \(round)")
        #expect(Set(live.map(\.pointer)).count == live.count)
        // At most the slabs the live slots need plus one partly used per slab, never a pile of empty ones.
        #expect(st.slabs <= live.count + 1)
    }
    for s in live { pool.release(s) }
    #expect(pool.statistics.slotsInUse == 0)
    #expect(pool.statistics.slabs == 1)
}

@Test func secretKeysShareSlabsSoManyKeysTakeFewMappings() throws {
    // 20,000 keys (64 mesh engines hold about that many): one sodium_malloc each would add ~60,000 mappings, near
    // vm.max_map_count; in slabs of 128 they add a few hundred.
    func mappings() -> Int? {
        (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)).map { $0.split(separator: "\n").count }
    }
    let before = mappings()
    var keys: [SecretKey] = []
    keys.reserveCapacity(20_000)
    for i in 0..<20_000 { keys.append(SecretKey([UInt8](repeating: UInt8(i & 0xFF), count: 32))!) }
    let during = mappings()
    #expect(keys[19_999] == SecretKey([UInt8](repeating: UInt8(19_999 & 0xFF), count: 32))!)
    #expect(keys[0] != keys[1])
    keys.removeAll()
    if let before, let during {
        print("secret slabs: 20000 keys added \(during - before) mappings (other tests run beside this one)")
        #expect(during - before < 5_000)
    } else {
        print("secret slabs: /proc/self/maps not readable, mapping count not checked")
    }
    // A fresh key is zero even when its slot held another key before.
    for _ in 0..<100 { #expect(SecretKey().isZero) }
}
