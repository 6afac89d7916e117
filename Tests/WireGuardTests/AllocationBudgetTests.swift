#if canImport(Glibc)
import Glibc
import Basics
import Testing
@testable import WireGuard

/// The transport path — `send(packet:count:now:)` encrypting in place, `receive(datagram:count:from:now:)`
/// decrypting in place — allocates nothing per packet once a session exists. Counting needs the
/// CMallocCounter interposer preloaded (ci/test.sh does this):
///
///     gcc -shared -fPIC -O2 -ISources/CMallocCounter/include Sources/CMallocCounter/malloc_counter.c -o /tmp/libmalloc_counter.so
///     LD_PRELOAD=/tmp/libmalloc_counter.so swift test --filter AllocationBudget
@Suite(.serialized) struct WireGuardAllocationBudgetTests {
    typealias Counter = @convention(c) () -> UInt64

    static let counter: Counter? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sluice_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    @Test(.enabled(if: counter != nil, "needs LD_PRELOAD of the CMallocCounter interposer (see the file header)"),
          arguments: [60, 1420])
    func transportPathAllocatesNothingPerPacket(size: Int) throws {
        let count = try #require(Self.counter)
        let loop = TransportLoopback(packetSize: size)
        let template = TransportLoopback.packet(size: size)
        var buffer = [UInt8](repeating: 0, count: 16 + size + 32)
        var allocations: [UInt64] = []
        var delivered = 0
        buffer.withUnsafeMutableBytes { b in
            for _ in 0..<5 {
                let before = count()
                for _ in 0..<200 {
                    template.withUnsafeBytes { b.slice(16..<(16 + size)).copyMemory(from: $0) }
                    guard case .transmit(_, _, let n) = loop.sender.send(packet: b, count: size, now: .zero) else { continue }
                    if case .deliver = loop.receiver.receive(datagram: b, count: n, from: TransportLoopback.senderEndpoint,
                                                              now: .zero) { delivered += 1 }
                }
                allocations.append(count() - before)
            }
        }
        #expect(delivered == 1000)
        #expect(allocations.dropFirst().allSatisfy { $0 == 0 }, "allocations per 200 packets: \(allocations)")
    }
}
#endif
