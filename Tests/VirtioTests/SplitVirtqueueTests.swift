import Testing
@testable import Virtio

@Suite struct SplitVirtqueueTests {
    typealias Env = QueueEnvironment

    @Test func setupChecksSizeAlignmentAndBounds() throws {
        let env = try Env()
        func attempt(size: UInt16 = 8, desc: UInt64? = nil, avail: UInt64? = nil, used: UInt64? = nil) -> VirtqueueSetupError? {
            var c = env.configuration
            c.size = size
            if let desc { c.addresses.descriptorTable = desc }
            if let avail { c.addresses.availableRing = avail }
            if let used { c.addresses.usedRing = used }
            do { _ = try SplitVirtqueue(memory: env.memory, configuration: c, features: env.features); return nil }
            catch { return error }
        }
        #expect(attempt() == nil)
        #expect(attempt(size: 32768) == nil)
        #expect(attempt(size: 0) == .invalidQueueSize(0))
        #expect(attempt(size: 12) == .invalidQueueSize(12))
        #expect(attempt(size: 65535) == .invalidQueueSize(65535))
        #expect(attempt(desc: Env.base + 8) == .misaligned(.descriptorTable, address: Env.base + 8))
        #expect(attempt(avail: Env.base + 0x4001) == .misaligned(.availableRing, address: Env.base + 0x4001))
        #expect(attempt(used: Env.base + 0x8002) == .misaligned(.usedRing, address: Env.base + 0x8002))
        #expect(attempt(used: 0x1000) == .outsideGuestMemory(.usedRing, address: 0x1000))
        // The used ring would run past the end of guest memory.
        let end = Env.base + (1 << 20)
        #expect(attempt(used: end - 64) == .outsideGuestMemory(.usedRing, address: end - 64))
    }

    @Test func popsReadableThenWritableSegmentsAndPushesUsed() throws {
        var env = try Env()
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        do { let popped = queue.popAvailable(into: &chain); #expect(!popped) }
        let head = try added(env.ring.add([Env.readable(env.buffer(0), 100), Env.readable(env.buffer(1000), 50),
                                              Env.writable(env.buffer(2000), 200)]))
        do { let popped = queue.popAvailable(into: &chain); #expect(popped) }
        #expect(chain.head == head)
        #expect(chain.readableLength == 150)
        #expect(chain.writableLength == 200)
        #expect(chain.readableSegments.map(\.length) == [100, 50])
        #expect(chain.readableSegments.map(\.pointer) == [env.bufferPointer(0), env.bufferPointer(1000)])
        #expect(chain.writableSegments.map(\.pointer) == [env.bufferPointer(2000)])
        do { let popped = queue.popAvailable(into: &chain); #expect(!popped) }

        queue.pushUsed(head: head, length: 123)
        #expect(env.ring.usedPending() == 0, "not visible before it is published")
        queue.publishUsed()
        #expect(env.ring.usedPending() == 1)
        let popUsed = env.ring.popUsed()
        let used = try #require(popUsed)
        #expect(used.id == UInt32(head) && used.length == 123)
        #expect(env.ring.freeCount == 8)
        #expect(queue.brokenReason == nil)
    }

    @Test func gatherAndScatterFollowSegments() throws {
        var env = try Env()
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        let source: [UInt8] = (0..<30).map { UInt8($0) }
        source.withUnsafeBytes { env.bufferPointer(0).copyMemory(from: $0.baseAddress!, byteCount: 10) }
        source.withUnsafeBytes { env.bufferPointer(500).copyMemory(from: $0.baseAddress! + 10, byteCount: 20) }
        _ = env.ring.add([Env.readable(env.buffer(0), 10), Env.readable(env.buffer(500), 20),
                          Env.writable(env.buffer(1000), 7), Env.writable(env.buffer(2000), 100)])
        do { let popped = queue.popAvailable(into: &chain); #expect(popped) }
        var out = [UInt8](repeating: 0xEE, count: 40)
        let n = out.withUnsafeMutableBytes { chain.gatherReadable(into: $0, from: 5) }
        #expect(n == 25)
        #expect(Array(out[0..<25]) == Array(source[5...]))
        #expect(out[25] == 0xEE)
        #expect(chain.readableContiguous(from: 10, count: 20) != nil)
        #expect(chain.readableContiguous(from: 5, count: 10) == nil)
        let written = source.withUnsafeBytes { chain.scatterWritable($0, at: 3) }
        #expect(written == 30)
        #expect(Array(UnsafeRawBufferPointer(start: env.bufferPointer(1003), count: 4)) == Array(source[0..<4]))
        #expect(Array(UnsafeRawBufferPointer(start: env.bufferPointer(2000), count: 26)) == Array(source[4...]))
        #expect(chain.writableByte(at: 7) == env.bufferPointer(2000))
        #expect(chain.writableByte(at: 107) == nil)
    }

    @Test func aBufferStraddlingTwoRegionsBecomesTwoSegments() throws {
        let memory = try GuestMemoryRegions(allocating: [(guestPhysicalAddress: Env.base, size: 0x2_0000),
                                                         (guestPhysicalAddress: Env.base + 0x2_0000, size: 0x1_0000)])
        var env = try Env(memory: memory)
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        let start = Env.base + 0x2_0000 - 100
        _ = env.ring.add([Env.readable(start, 300)])
        do { let popped = queue.popAvailable(into: &chain); #expect(popped) }
        #expect(chain.readableSegments.map(\.length) == [100, 200])
        #expect(chain.readableSegments[0].pointer == memory.translate(start, length: 100))
        #expect(chain.readableSegments[1].pointer == memory.translate(Env.base + 0x2_0000, length: 200))
    }

    @Test func indirectTablesAloneAndAfterDirectDescriptors() throws {
        var env = try Env()
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        let table = env.bufferPointer(0x8000)
        let head = try added(env.ring.addIndirect(
            [Env.readable(env.buffer(0), 12), Env.readable(env.buffer(100), 60), Env.writable(env.buffer(200), 30)],
            table: table, tableAddress: env.buffer(0x8000)))
        do { let popped = queue.popAvailable(into: &chain); #expect(popped) }
        #expect(chain.head == head)
        #expect(chain.readableSegments.map(\.length) == [12, 60])
        #expect(chain.writableSegments.map(\.length) == [30])

        // "The device MUST handle the case of zero or more normal chained descriptors followed by
        // a single descriptor with flags & VIRTQ_DESC_F_INDIRECT."
        Env.readable(env.buffer(300), 40).store(table: table, index: 0)
        Env.writable(env.buffer(400), 50).store(table: table, index: 1)
        VirtqDescriptor(address: env.buffer(0), length: 10, flags: VirtqLayout.descriptorFlagNext, next: 5).store(table: env.ring.descriptorTable, index: 4)
        // The indirect descriptor's WRITE flag must be ignored.
        VirtqDescriptor(address: env.buffer(0x8000), length: 32,
                        flags: VirtqLayout.descriptorFlagIndirect | VirtqLayout.descriptorFlagWrite, next: 0)
            .store(table: env.ring.descriptorTable, index: 5)
        VirtqDescriptor(address: env.buffer(300), length: 40, flags: VirtqLayout.descriptorFlagNext, next: 1).store(table: table, index: 0)
        env.ring.makeAvailable(head: 4)
        do { let popped = queue.popAvailable(into: &chain); #expect(popped) }
        #expect(chain.head == 4)
        #expect(chain.readableSegments.map(\.length) == [10, 40])
        #expect(chain.writableSegments.map(\.length) == [50])
        #expect(queue.brokenReason == nil)
    }

    @Test func vringBaseIsTheNextAvailableIndexAndResumes() throws {
        var env = try Env()
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        var heads: [UInt16] = []
        for i in 0..<5 { heads.append(try added(env.ring.add([Env.readable(env.buffer(i * 100), 10)]))) }
        for _ in 0..<3 { do { let popped = queue.popAvailable(into: &chain); #expect(popped) } }
        // GET_VRING_BASE on a stopped queue, then SET_VRING_BASE on a new one (a reconnect).
        let base = queue.lastAvailIndex
        #expect(base == 3)
        var c = env.configuration
        c.lastAvailIndex = base
        var resumed = try SplitVirtqueue(memory: env.memory, configuration: c, features: env.features)
        do { let popped = resumed.popAvailable(into: &chain); #expect(popped) }
        #expect(chain.head == heads[3])
        resumed.setLastAvailIndex(1)
        do { let popped = resumed.popAvailable(into: &chain); #expect(popped) }
        #expect(chain.head == heads[1])
    }

    @Test func rewindGivesChainsBack() throws {
        var env = try Env()
        var queue = try env.makeQueue()
        var chain = VirtqChain()
        let a = try added(env.ring.add([Env.writable(env.buffer(0), 10)]))
        let b = try added(env.ring.add([Env.writable(env.buffer(100), 10)]))
        do { let popped = queue.popAvailable(into: &chain); #expect(popped && chain.head == a) }
        do { let popped = queue.popAvailable(into: &chain); #expect(popped && chain.head == b) }
        queue.pushUsed(head: a, length: 1)
        queue.pushUsed(head: b, length: 1)
        queue.rewindUsed(by: 2)
        queue.rewindAvailable(by: 2)
        do { let popped = queue.popAvailable(into: &chain); #expect(popped && chain.head == a) }
        #expect(queue.usedIndex == 0)
        queue.publishUsed()
        #expect(env.ring.usedPending() == 0)
    }

    @Test func hasAvailableSeesWithoutPopping() throws {
        var env = try Env()
        var queue = try env.makeQueue()
        do { let has = queue.hasAvailable(); #expect(!has) }
        _ = env.ring.add([Env.readable(env.buffer(0), 10)])
        do { let has = queue.hasAvailable(); #expect(has) }
        var chain = VirtqChain()
        do { let popped = queue.popAvailable(into: &chain); #expect(popped) }
        do { let has = queue.hasAvailable(); #expect(!has) }
    }
}
