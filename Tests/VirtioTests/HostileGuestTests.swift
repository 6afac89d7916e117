import Basics
import Testing
@testable import Virtio

/// Every way a guest can break a split virtqueue: the queue stops with the reason, and nothing
/// crashes, nothing is read or written outside guest memory, nothing more is popped or used.
@Suite struct HostileGuestTests {
    typealias Env = QueueEnvironment
    static let flagNext = VirtqLayout.descriptorFlagNext
    static let flagWrite = VirtqLayout.descriptorFlagWrite
    static let flagIndirect = VirtqLayout.descriptorFlagIndirect

    /// Lets `corrupt` write the rings, pops once, and checks the queue broke for `expected` and
    /// stays dead even when the guest then offers a good chain.
    func expectBroken(_ expected: VirtqueueBrokenReason, features: VirtioFeatures = [.version1, .indirectDescriptors, .ringEventIndex],
                      memory: GuestMemoryRegions? = nil, chainCapacity: Int = VirtqChain.defaultCapacity,
                      sourceLocation: SourceLocation = #_sourceLocation,
                      _ corrupt: (inout Env) throws -> Void) throws {
        var env = try Env(features: features, memory: memory)
        var queue = try env.makeQueue()
        var chain = VirtqChain(capacity: chainCapacity)
        try corrupt(&env)
        let popped = queue.popAvailable(into: &chain)
        #expect(!popped, sourceLocation: sourceLocation)
        #expect(queue.brokenReason == expected, sourceLocation: sourceLocation)
        // Dead from now on, whatever the guest does.
        env.ring.setAvailIndexRaw(env.ring.availIndex)
        VirtqDescriptor(address: env.buffer(0), length: 10, flags: 0, next: 0).store(table: env.ring.descriptorTable, index: 0)
        env.ring.makeAvailable(head: 0)
        let poppedAgain = queue.popAvailable(into: &chain)
        #expect(!poppedAgain, sourceLocation: sourceLocation)
        queue.pushUsed(head: 0, length: 1)
        let notify = queue.shouldNotifyGuest()
        #expect(!notify, sourceLocation: sourceLocation)
        #expect(env.ring.usedPending() == 0, sourceLocation: sourceLocation)
        #expect(queue.brokenReason == expected, "the first reason sticks", sourceLocation: sourceLocation)
    }

    /// Writes descriptor `index` of the ring's table.
    static func put(_ env: Env, _ index: Int, _ address: UInt64, _ length: UInt32, _ flags: UInt16 = 0, next: UInt16 = 0) {
        VirtqDescriptor(address: address, length: length, flags: flags, next: next).store(table: env.ring.descriptorTable, index: index)
    }

    /// Writes entry `index` of an indirect table at buffer offset `tableOffset`.
    static func putIndirect(_ env: Env, _ tableOffset: Int, _ index: Int, _ address: UInt64, _ length: UInt32,
                            _ flags: UInt16 = 0, next: UInt16 = 0) {
        VirtqDescriptor(address: address, length: length, flags: flags, next: next).store(table: env.bufferPointer(tableOffset), index: index)
    }

    // MARK: Addresses and lengths

    @Test func descriptorAddressOutsideGuestMemory() throws {
        try expectBroken(.descriptorOutOfBounds(index: 0)) { env in
            Self.put(env, 0, 0x1000, 64)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func descriptorLengthRunsPastTheEnd() throws {
        try expectBroken(.descriptorOutOfBounds(index: 1)) { env in
            Self.put(env, 3, env.buffer(0), 64, Self.flagNext, next: 1)
            Self.put(env, 1, Env.base + (1 << 20) - 10, 11)
            env.ring.makeAvailable(head: 3)
        }
    }

    @Test func descriptorAddressPlusLengthOverflows() throws {
        try expectBroken(.descriptorOutOfBounds(index: 0)) { env in
            Self.put(env, 0, UInt64.max - 5, 100)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func descriptorWrappingPast2To64IntoMappedLowMemoryIsRefused() throws {
        // Guest memory at 0 and, in a sparse test memory, everything from 2^63 to 2^64 - 1: a
        // buffer starting 6 bytes below 2^64 must not continue at address 0.
        let real = try GuestMemoryRegions(allocating: [(guestPhysicalAddress: 0, size: 4096),
                                                       (guestPhysicalAddress: Env.base, size: 1 << 20)])
        var env = try Env(memory: real)
        let sparse = SparseHugeMemory(real: real, hugeBase: 1 << 63, hugeSize: 1 << 63)
        var queue = try SplitVirtqueue(memory: sparse, configuration: env.configuration, features: env.features)
        var chain = VirtqChain()
        Self.put(env, 0, UInt64.max - 5, 100)
        env.ring.makeAvailable(head: 0)
        let popped = queue.popAvailable(into: &chain)
        #expect(!popped)
        #expect(queue.brokenReason == .descriptorOutOfBounds(index: 0))
    }

    @Test func chainOfMoreThan4GiBInTotal() throws {
        // "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in total"
        var env = try Env()
        let sparse = SparseHugeMemory(real: env.memory, hugeBase: 1 << 40, hugeSize: 1 << 40)
        var queue = try SplitVirtqueue(memory: sparse, configuration: env.configuration, features: env.features)
        var chain = VirtqChain()
        Self.put(env, 0, 1 << 40, 0xFFFF_FFFF, Self.flagNext, next: 1)
        Self.put(env, 1, 1 << 40, 1)
        env.ring.makeAvailable(head: 0)
        let popped = queue.popAvailable(into: &chain)
        #expect(!popped)
        #expect(queue.brokenReason == .chainTooLarge)
    }

    // MARK: Indices and loops

    @Test func headIndexPastTheTable() throws {
        try expectBroken(.descriptorIndexOutOfRange(index: 8)) { env in env.ring.makeAvailable(head: 8) }
        try expectBroken(.descriptorIndexOutOfRange(index: 0xFFFF)) { env in env.ring.makeAvailable(head: 0xFFFF) }
    }

    @Test func nextIndexPastTheTable() throws {
        try expectBroken(.descriptorIndexOutOfRange(index: 9)) { env in
            Self.put(env, 0, env.buffer(0), 10, Self.flagNext, next: 9)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func descriptorLoops() throws {
        try expectBroken(.descriptorLoop) { env in
            Self.put(env, 0, env.buffer(0), 10, Self.flagNext, next: 1)
            Self.put(env, 1, env.buffer(100), 10, Self.flagNext, next: 0)
            env.ring.makeAvailable(head: 0)
        }
        try expectBroken(.descriptorLoop) { env in
            Self.put(env, 5, env.buffer(0), 10, Self.flagNext, next: 5)
            env.ring.makeAvailable(head: 5)
        }
    }

    @Test func overLongChainVisitsEveryDescriptorThenLoops() throws {
        // All 8 descriptors in one chain is fine; the 9th step can only be a revisit.
        try expectBroken(.descriptorLoop) { env in
            for i in 0..<8 { Self.put(env, i, env.buffer(i * 16), 16, Self.flagNext, next: UInt16((i + 1) % 8)) }
            env.ring.makeAvailable(head: 0)
        }
        var env = try Env()
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        for i in 0..<8 { Self.put(env, i, env.buffer(i * 16), 16, i < 7 ? Self.flagNext : 0, next: UInt16(i + 1)) }
        env.ring.makeAvailable(head: 0)
        let popped = queue.popAvailable(into: &chain)
        #expect(popped && chain.readableLength == 128)
    }

    @Test func moreSegmentsThanTheDeviceAccepts() throws {
        try expectBroken(.tooManySegments(limit: 2), chainCapacity: 2) { env in
            _ = env.ring.add([Env.readable(env.buffer(0), 1), Env.readable(env.buffer(10), 1), Env.readable(env.buffer(20), 1)])
        }
    }

    @Test func availableIndexJumpsMoreThanAQueueAhead() throws {
        try expectBroken(.availableIndexJump(from: 0, to: 9)) { env in env.ring.setAvailIndexRaw(9) }
        try expectBroken(.availableIndexJump(from: 0, to: 0x8000)) { env in env.ring.setAvailIndexRaw(0x8000) }
        // Exactly a queue's worth is legal.
        var env = try Env()
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        for i in 0..<8 { _ = env.ring.add([Env.readable(env.buffer(i * 16), 16)]) }
        for _ in 0..<8 { let popped = queue.popAvailable(into: &chain); #expect(popped) }
        // Decrementing ("A driver MUST NOT decrement the available idx") is a jump of 65535.
        env.ring.setAvailIndexRaw(7)
        let popped = queue.popAvailable(into: &chain)
        #expect(!popped)
        #expect(queue.brokenReason == .availableIndexJump(from: 8, to: 7))
    }

    // MARK: Framing

    @Test func readableAfterWritable() throws {
        try expectBroken(.readableAfterWritable(index: 1)) { env in
            Self.put(env, 0, env.buffer(0), 10, Self.flagWrite | Self.flagNext, next: 1)
            Self.put(env, 1, env.buffer(100), 10)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func zeroLengthDescriptorsAndChains() throws {
        try expectBroken(.zeroLengthDescriptor(index: 0)) { env in
            Self.put(env, 0, env.buffer(0), 0)
            env.ring.makeAvailable(head: 0)
        }
        try expectBroken(.zeroLengthDescriptor(index: 2)) { env in
            Self.put(env, 0, env.buffer(0), 10, Self.flagNext, next: 2)
            Self.put(env, 2, env.buffer(0), 0, Self.flagWrite)
            env.ring.makeAvailable(head: 0)
        }
    }

    // MARK: Indirect tables

    @Test func indirectWithoutTheFeature() throws {
        try expectBroken(.indirectNotNegotiated, features: [.version1]) { env in
            Self.putIndirect(env, 0x8000, 0, env.buffer(0), 10)
            Self.put(env, 0, env.buffer(0x8000), 16, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func nestedIndirect() throws {
        try expectBroken(.nestedIndirect) { env in
            Self.putIndirect(env, 0x8000, 0, env.buffer(0), 10, Self.flagNext, next: 1)
            Self.putIndirect(env, 0x8000, 1, env.buffer(0x8000), 32, Self.flagIndirect)
            Self.put(env, 0, env.buffer(0x8000), 32, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func indirectWithNext() throws {
        try expectBroken(.indirectWithNext) { env in
            Self.putIndirect(env, 0x8000, 0, env.buffer(0), 10)
            Self.put(env, 0, env.buffer(0x8000), 16, Self.flagIndirect | Self.flagNext, next: 1)
            Self.put(env, 1, env.buffer(0), 10)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func indirectTableMisaligned() throws {
        try expectBroken(.indirectTableMisaligned(length: 24)) { env in
            Self.put(env, 0, env.buffer(0x8000), 24, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
        try expectBroken(.indirectTableMisaligned(length: 0)) { env in
            Self.put(env, 0, env.buffer(0x8000), 0, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func indirectTableTooLarge() throws {
        try expectBroken(.indirectTableTooLarge(entries: 9)) { env in
            Self.put(env, 0, env.buffer(0x8000), 16 * 9, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func indirectTableOutsideGuestMemory() throws {
        try expectBroken(.descriptorOutOfBounds(index: 0)) { env in
            Self.put(env, 0, Env.base + (1 << 20) - 16, 32, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
    }

    @Test func indirectTableLoopsAndBadNext() throws {
        try expectBroken(.descriptorLoop) { env in
            Self.putIndirect(env, 0x8000, 0, env.buffer(0), 10, Self.flagNext, next: 1)
            Self.putIndirect(env, 0x8000, 1, env.buffer(0), 10, Self.flagNext, next: 0)
            Self.put(env, 0, env.buffer(0x8000), 32, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
        try expectBroken(.descriptorIndexOutOfRange(index: 2)) { env in
            Self.putIndirect(env, 0x8000, 0, env.buffer(0), 10, Self.flagNext, next: 2)
            Self.put(env, 0, env.buffer(0x8000), 32, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
        try expectBroken(.descriptorOutOfBounds(index: 1)) { env in
            Self.putIndirect(env, 0x8000, 0, env.buffer(0), 10, Self.flagNext, next: 1)
            Self.putIndirect(env, 0x8000, 1, 0x10, 10)
            Self.put(env, 0, env.buffer(0x8000), 32, Self.flagIndirect)
            env.ring.makeAvailable(head: 0)
        }
    }

    // MARK: virtio-net rules

    @Test func writableBufferOnTheTransmitQueue() throws {
        let rig = try Rig { $0.receiveBufferCount = 0 }
        _ = rig.driver.transmitRing.add([Env.readable(rig.driver.scratchAddress, 64), Env.writable(rig.driver.scratchAddress + 64, 64)])
        var delivered = 0
        let batch = rig.device.transmit(limit: 8) { _, _ in delivered += 1 }
        #expect(delivered == 0 && batch.frames == 0 && !batch.notifyGuest)
        #expect(rig.device.transmitQueue.brokenReason == .unexpectedWritable)
        #expect(rig.device.brokenQueues == 1)
        // Later frames are not taken.
        rig.driver.transmit(makeFrame(60))
        #expect(rig.device.transmit(limit: 8) { _, _ in delivered += 1 }.frames == 0)
        var buffer = [UInt8](repeating: 0, count: 100)
        let outcome = buffer.withUnsafeMutableBytes { rig.device.transmit(into: $0) }
        #expect(outcome == .queueBroken(.unexpectedWritable))
    }

    @Test func transmitChainShorterThanTheNetHeader() throws {
        let rig = try Rig { $0.receiveBufferCount = 0 }
        _ = rig.driver.transmitRing.add([Env.readable(rig.driver.scratchAddress, 5), Env.readable(rig.driver.scratchAddress + 8, 6)])
        let batch = rig.device.transmit(limit: 8) { _, _ in Issue.record("no frame expected") }
        #expect(batch.frames == 0)
        #expect(rig.device.transmitQueue.brokenReason == .truncatedNetHeader(length: 11))
    }

    @Test func readableBufferOnTheReceiveQueue() throws {
        for mergeable in [false, true] {
            let rig = try Rig {
                $0.receiveBufferCount = 0
                if !mergeable { $0.features.remove(.netMergeableRxBuffers) }
            }
            _ = rig.driver.receiveRing.add([Env.readable(rig.driver.scratchAddress, 64), Env.writable(rig.driver.scratchAddress + 64, 2000)])
            let outcome = makeFrame(60).withUnsafeBytes { rig.device.receive($0) }
            #expect(outcome == .queueBroken(.unexpectedReadable))
            #expect(rig.device.receiveQueue.brokenReason == .unexpectedReadable)
            #expect(rig.device.brokenQueues == 1)
        }
    }

    @Test func mergeableReceiveBufferSmallerThanTheHeader() throws {
        let rig = try Rig { $0.receiveBufferCount = 0 }
        _ = rig.driver.receiveRing.add([Env.writable(rig.driver.scratchAddress, 8)])
        let outcome = makeFrame(60).withUnsafeBytes { rig.device.receive($0) }
        #expect(outcome == .queueBroken(.receiveBufferTooSmall(length: 8)))
        #expect(rig.driver.receiveRing.usedPending() == 0)
    }

    // MARK: Random rings

    /// Random descriptor tables, indirect tables and available rings: whatever happens, every
    /// segment the device is handed lies inside guest memory, and a broken queue says why.
    @Test(arguments: [1, 2, 3, 4])
    func randomRingsNeverEscapeGuestMemory(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed, component: "hostile-rings")
        var popped = 0, broken = 0
        var reasons = Set<String>()
        for _ in 0..<400 {
            var env = try Env(size: 8)
            var queue = try env.makeQueue()
            var chain = VirtqChain(capacity: 64)
            let region = env.memory.regions[0]
            func randomAddress() -> UInt64 {
                switch rng.next() % 8 {
                case 0: return rng.next()
                case 1: return Env.base + (1 << 20) - rng.next() % 64
                case 2: return Env.base &- rng.next() % 64
                default: return env.buffer(Int(rng.next() % 0x8000))
                }
            }
            func randomLength() -> UInt32 {
                switch rng.next() % 6 {
                case 0: return UInt32(truncatingIfNeeded: rng.next())
                case 1: return 0
                case 2: return UInt32(16 * (rng.next() % 10))
                default: return UInt32(1 + rng.next() % 4096)
                }
            }
            func randomDescriptor(tableSize: Int) -> VirtqDescriptor {
                VirtqDescriptor(address: rng.next() % 4 == 0 ? env.buffer(0x9000 + Int(rng.next() % 4) * 256) : randomAddress(),
                                length: randomLength(), flags: rng.next() % 2 == 0 ? UInt16(rng.next() % 8) : 0,
                                next: UInt16(rng.next() % UInt64(tableSize + 2)))
            }
            for i in 0..<8 { randomDescriptor(tableSize: 8).store(table: env.ring.descriptorTable, index: i) }
            for t in 0..<4 {
                for i in 0..<10 { randomDescriptor(tableSize: 10).store(table: env.bufferPointer(0x9000 + t * 256), index: i) }
            }
            let entries = Int(rng.next() % 10)
            for _ in 0..<entries { env.ring.makeAvailable(head: UInt16(rng.next() % 10)) }
            if rng.next() % 8 == 0 { env.ring.setAvailIndexRaw(UInt16(truncatingIfNeeded: rng.next())) }
            while queue.popAvailable(into: &chain) {
                popped += 1
                for segment in Array(chain.readableSegments) + Array(chain.writableSegments) {
                    let start = UInt(bitPattern: segment.pointer), base = UInt(bitPattern: region.pointer)
                    #expect(segment.length > 0)
                    #expect(start >= base && start + UInt(segment.length) <= base + UInt(region.size))
                }
                queue.pushUsed(head: chain.head, length: 0)
            }
            if let reason = queue.brokenReason {
                broken += 1
                reasons.insert(reason.description.split(separator: " ").prefix(2).joined(separator: " "))
            }
            _ = queue.shouldNotifyGuest()
        }
        // The generator reaches both outcomes and many different rules.
        #expect(popped > 40, "chains popped: \(popped)")
        #expect(broken > 150, "queues broken: \(broken)")
        #expect(reasons.count >= 6, "\(reasons.sorted())")
    }
}
