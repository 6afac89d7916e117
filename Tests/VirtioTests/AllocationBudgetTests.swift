#if canImport(Glibc)
import Glibc
import Testing
@testable import Virtio

/// The device's per-frame path allocates nothing (docs/performance.md). Counting needs the malloc
/// interposer from Sources/CMallocCounter preloaded, which VirtioTests cannot link (it would count
/// every concurrently running test); run it alone:
///
///     clang -shared -fPIC -O2 Sources/CMallocCounter/malloc_counter.c -ISources/CMallocCounter/include -o /tmp/libmalloc_counter.so
///     LD_PRELOAD=/tmp/libmalloc_counter.so swift test --filter AllocationBudget
@Suite(.serialized) struct AllocationBudgetTests {
    typealias Counter = @convention(c) () -> UInt64

    static let counter: Counter? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sluice_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    @Test(.enabled(if: counter != nil, "needs LD_PRELOAD of the CMallocCounter interposer (see the file header)"),
          arguments: [true, false])
    func deviceHotPathAllocatesNothingPerFrame(mergeable: Bool) throws {
        let count = try #require(Self.counter)
        let a = try Rig { c in if !mergeable { c.features.remove(.netMergeableRxBuffers) } }
        let b = try Rig { c in
            if mergeable { c.receiveBufferSize = 1536 } else {
                c.features.remove(.netMergeableRxBuffers)
                c.receiveBufferSize = 12 + 9000
                c.receiveSegmentSize = 4096
            }
        }
        let frames = [makeFrame(60), makeFrame(1514), makeFrame(9000)]
        var allocations: [UInt64] = []
        for round in 0..<20 {
            // The guests (which allocate freely) prepare a batch outside the measured window.
            b.driver.refillReceiveBuffers()
            for i in 0..<48 { a.driver.transmit(frames[i % 3], layout: [.single, .split(3), .indirect(2)][(i + round) % 3]) }
            let before = count()
            var delivered = 0
            let batch = a.device.transmit(limit: 64) { header, frame in
                if case .delivered = b.device.receive(frame, header: header) { delivered += 1 }
            }
            _ = b.device.finishReceiveBatch()
            allocations.append(count() - before)
            #expect(batch.frames == 48 && delivered == 48)
            #expect(b.driver.receivedFrames().count == 48)
            a.driver.reapTransmitted()
        }
        // Steady state: after the first rounds, nothing at all.
        #expect(allocations.dropFirst(2).allSatisfy { $0 == 0 }, "allocations per 48-frame batch: \(allocations)")
    }
}
#endif
