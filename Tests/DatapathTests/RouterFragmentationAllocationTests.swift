#if canImport(Glibc)
import Glibc
import Basics
import Testing
import Wire
@testable import Datapath

/// The fragmenting path allocates nothing per datagram: every fragment is built in the router's
/// scratch buffer and handed to the output, on a point-to-point (tunnel) and an Ethernet egress.
/// Counting needs the CMallocCounter interposer (as WANAllocationBudgetTests):
///
///     gcc -shared -fPIC -O2 -ISources/CMallocCounter/include Sources/CMallocCounter/malloc_counter.c -o /tmp/libmalloc_counter.so
///     LD_PRELOAD=/tmp/libmalloc_counter.so swift test --filter AllocationBudget
@Suite(.serialized) struct RouterFragmentationAllocationBudgetTests {
    typealias Counter = @convention(c) () -> UInt64

    static let counter: Counter? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sluice_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    /// Counts what it is handed; allocates nothing.
    struct CountingOutput: RouterOutput {
        var frames = 0, packets = 0, bytes = 0
        mutating func send(_ frame: UnsafeRawBufferPointer, on interface: Int) { frames += 1; bytes += frame.count }
        mutating func send(packet: PointToPointPacket, on interface: Int) { packets += 1; bytes += packet.count }
    }

    @Test(.enabled(if: counter != nil, "needs LD_PRELOAD of the CMallocCounter interposer (see the file header)"),
          arguments: ["pointToPoint", "ethernet"])
    func fragmentingAllocatesNothingPerDatagram(egress: String) throws {
        let count = try #require(Self.counter)
        let control = count()
        let array = [UInt8](repeating: 1, count: 100)
        #expect(count() > control && array.count == 100, "positive control")
        let router: Router
        let destination: IPv4Address
        if egress == "pointToPoint" {
            router = try P2P.router()                                   // tunnel MTU 1420
            destination = P2P.far
        } else {
            router = try Router(Lab.configuration(mtu1: 1420))
            var out = CapturedOutput()
            learnB(router, now: Lab.t0, output: &out)
            destination = Lab.ipB
        }
        // Datagrams without DF, handed in writable (forwarded where they lie): 1000 bytes (not
        // cut, the reference) and 4000 bytes (three fragments).
        func allocationsPer200(payloadLength: Int) -> (per200: [UInt64], sent: Int) {
            let frame = Lab.udpFrame(destination: destination, payloadLength: payloadLength)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 16)
            defer { buffer.deallocate() }
            var output = CountingOutput()
            func send() {
                frame.withUnsafeBytes { buffer.copyMemory(from: $0) }      // the TTL is decremented in place
                router.receive(buffer, on: 0, now: Lab.t0, output: &output)
            }
            for _ in 0..<10 { send() }
            var allocations: [UInt64] = []
            for _ in 0..<5 {
                let start = count()
                for _ in 0..<200 { send() }
                allocations.append(count() - start)
            }
            return (allocations, output.frames + output.packets)
        }
        let whole = allocationsPer200(payloadLength: 972)
        let cut = allocationsPer200(payloadLength: 3972)
        #expect(whole.sent == 1010 && cut.sent == 1010 * 3, "three fragments a datagram")
        #expect(router.counters.datagramsFragmented == 1010)
        #if DEBUG
        // A debug build's unspecialised generics allocate on the forwarding path itself (`sluice
        // bench forward` measures the release build); cutting a datagram must add nothing to it.
        #expect(cut.per200.max()! <= whole.per200.min()!, "per 200 datagrams: whole \(whole.per200), cut \(cut.per200)")
        #else
        #expect(cut.per200.allSatisfy { $0 == 0 } && whole.per200.allSatisfy { $0 == 0 },
                "per 200 datagrams: whole \(whole.per200), cut \(cut.per200)")
        #endif
    }
}
#endif
