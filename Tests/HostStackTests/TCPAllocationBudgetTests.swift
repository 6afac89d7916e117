#if canImport(Glibc)
import Basics
import Glibc
@testable import HostStack
import Testing
import Wire

/// A bulk TCP transfer in steady state allocates nothing per segment, on the sender (ACK in,
/// data out) or the sink (data in, ACK out) — docs/performance.md. Counting needs the malloc
/// interposer from Sources/CMallocCounter preloaded; run it alone:
///
///     clang -shared -fPIC -O2 Sources/CMallocCounter/malloc_counter.c -ISources/CMallocCounter/include -o /tmp/libmalloc_counter.so
///     LD_PRELOAD=/tmp/libmalloc_counter.so swift test --skip-build --no-parallel --filter AllocationBudget
@Suite(.serialized) struct TCPAllocationBudgetTests {
    typealias Counter = @convention(c) () -> UInt64

    static let counter: Counter? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sluice_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    @Test(.enabled(if: counter != nil, "needs LD_PRELOAD of the CMallocCounter interposer (see the file header)"),
          arguments: TCPCongestionControlAlgorithm.allCases)
    func bulkTransferAllocatesNothingPerSegment(algorithm: TCPCongestionControlAlgorithm) throws {
        let count = try #require(Self.counter)
        let configure: (inout HostConfiguration) -> Void = { c in
            c.tcp.sampleInterval = .seconds(1000)   // samples are appended (and grow) outside this test's point
            // The wire has no delay: the window alone bounds what one step moves (45 segments).
            c.tcp.receiveBufferSize = 65536
        }
        let a = host("a", macA, configure), b = host("b", macB, configure)
        var now = Instant.zero
        a.configureStatic(address: IPv4Network("10.0.0.1/24")!, now: now)
        b.configureStatic(address: IPv4Network("10.0.0.2/24")!, now: now)
        b.tcpListen(port: 5001)
        let id = try #require(a.tcpConnect(to: ipB, port: 5001, congestionControl: algorithm, now: now))
        a.tcpSendBulk(id, bytes: 1 << 40, close: false, now: now)
        // Zero-delay wire: each step moves everything queued, then advances 100 µs.
        func step() {
            now = now + .microseconds(100)
            if let d = a.nextDeadline(), d <= now { a.poll(now: now) }
            if let d = b.nextDeadline(), d <= now { b.poll(now: now) }
            a.drainOutgoing { b.receive($0, now: now) }
            b.drainOutgoing { a.receive($0, now: now) }
        }
        for _ in 0..<200 { step() }   // handshake, slow start, buffers at their size
        let before = try #require(a.tcpInfo(id)).stats.bytesAcknowledged
        var allocations: [UInt64] = []
        for _ in 0..<10 {
            let start = count()
            for _ in 0..<20 { step() }
            allocations.append(count() - start)
        }
        let moved = try #require(a.tcpInfo(id)).stats.bytesAcknowledged - before
        #expect(moved > 5_000_000, "bytes moved while counting: \(moved)")
        #expect(allocations.allSatisfy { $0 == 0 }, "allocations per 20 steps: \(allocations)")
    }
}
#endif
