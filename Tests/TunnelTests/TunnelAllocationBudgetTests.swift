#if canImport(Glibc)
import Basics
import Glibc
import HostIO
import Testing
import Wire
import WireGuard
@testable import Tunnel

/// The tunnel's per-packet work between the system calls — TCP segmentation into send slots, encryption, the
/// sendmmsg batch, decryption in receive slots, TCP coalescing — allocates nothing. Counting needs the malloc
/// interposer from Sources/CMallocCounter preloaded (ci/test.sh runs `--filter AllocationBudget` that way):
///
///     clang -shared -fPIC -O2 Sources/CMallocCounter/malloc_counter.c -ISources/CMallocCounter/include -o /tmp/libmalloc_counter.so
///     LD_PRELOAD=/tmp/libmalloc_counter.so swift test --filter AllocationBudget
@Suite(.serialized) struct TunnelAllocationBudgetTests {
    typealias Counter = @convention(c) () -> UInt64

    static let counter: Counter? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sluice_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    /// A TCP super-packet from 10.0.0.1 to 10.0.0.2 (TransportLoopback's addresses) of `payload` bytes.
    static func superPacket(payload: Int, seq: UInt32) -> [UInt8] {
        var p = [UInt8](repeating: 0x5A, count: 52 + payload)
        p.withUnsafeMutableBytes { b in
            b[0] = 0x45; b.setU16(2, UInt16(b.count)); b.setU16(6, 0x4000); b[8] = 64; b[9] = 6
            b.setU32(12, IPv4Address(10, 0, 0, 1).rawValue); b.setU32(16, IPv4Address(10, 0, 0, 2).rawValue)
            b.setU16(20, 40000); b.setU16(22, 5201); b.setU32(24, seq); b.setU32(28, 1)
            b[32] = 8 << 4; b[33] = TCPv4.flagACK; b.setU16(34, 512)
            b[40] = 1; b[41] = 1; b[42] = 8; b[43] = 10
        }
        return p
    }

    @Test(.enabled(if: counter != nil, "needs LD_PRELOAD of the CMallocCounter interposer (see the file header)"))
    func segmentEncryptDecryptCoalesceAllocatesNothing() throws {
        let count = try #require(Self.counter)
        let mss = 1368
        let loopback = TransportLoopback(packetSize: 64)
        let send = DatagramBatch(capacity: 64, slotSize: 1420 + 128)
        let receive = DatagramBatch(capacity: 64, slotSize: 65536)
        let coalescer = TCPCoalescer()
        let endpoint = SocketAddressV4(address: IPv4Address(192, 0, 2, 1), port: 51820)
        let packets = (0..<20).map { Self.superPacket(payload: mss * 40, seq: UInt32($0 * mss * 40)) }
        var allocations: [UInt64] = []
        var delivered = 0, written = 0
        for round in 0..<20 {
            let before = count()
            packets[round].withUnsafeBytes { p in
                let s = TCPSegmentation(packet: p, gsoSize: mss)!
                for i in 0..<s.count {
                    let slot = send.nextSlot
                    let n = s.write(segment: i, of: p, to: UnsafeMutableRawBufferPointer(rebasing: slot[16...]))
                    if case .transmit(_, _, let length) = loopback.sender.send(packet: slot, count: n, now: .zero) {
                        send.commit(length: length, to: endpoint)
                    }
                }
            }
            // What sendmmsg and recvmmsg would carry: each datagram into a receive slot.
            for i in 0..<send.count {
                let datagram = UnsafeMutableRawBufferPointer(rebasing: receive.slot(i)[0..<send.datagram(i).count])
                datagram.copyMemory(from: send.datagram(i))
                if case .deliver(_, let range) = loopback.receiver.receive(datagram: datagram, count: datagram.count,
                                                                            from: endpoint, now: .zero) {
                    delivered += 1
                    let packet = UnsafeRawBufferPointer(rebasing: datagram[range])
                    if !coalescer.append(packet) {
                        if !coalescer.isEmpty { written += coalescer.finish().count }
                        _ = coalescer.start(packet)
                    }
                }
            }
            if !coalescer.isEmpty { written += coalescer.finish().count }
            _ = send.send(on: -1)  // EBADF: every datagram skipped, the batch emptied — no allocation either way
            allocations.append(count() - before)
        }
        #expect(delivered == 20 * 40)
        #expect(written == 20 * (10 + 52 + mss * 40))
        // The first rounds may grow internal tables; after that, nothing.
        #expect(allocations.dropFirst(2).allSatisfy { $0 == 0 }, "allocations per round: \(allocations)")
    }
}
#endif
