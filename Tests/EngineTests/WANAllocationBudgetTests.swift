#if canImport(Glibc)
import Glibc
import Basics
import Datapath
import Testing
import Wire
@testable import Engine

/// The WAN's own per-packet path — a packet from the router (with the room the router leaves
/// around it) encrypted in place by WireGuard (or sent raw), handed to the driver, and on the far
/// side decrypted in place and handed to the router where it lies — allocates nothing once the
/// session exists. (The router, switch and NAT around
/// it are measured by their own rooms; in a debug build their unspecialised array iteration
/// allocates, which is why this budget covers the WAN alone.) Counting needs the CMallocCounter
/// interposer:
///
///     gcc -shared -fPIC -O2 -ISources/CMallocCounter/include Sources/CMallocCounter/malloc_counter.c -o /tmp/libmalloc_counter.so
///     LD_PRELOAD=/tmp/libmalloc_counter.so swift test --filter AllocationBudget
@Suite(.serialized) struct WANAllocationBudgetTests {
    typealias Counter = @convention(c) () -> UInt64

    static let counter: Counter? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sluice_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    @Test(.enabled(if: counter != nil, "needs LD_PRELOAD of the CMallocCounter interposer (see the file header)"),
          arguments: ["wireguard", "udp"])
    func theWANPathAllocatesNothingPerPacket(kind: String) throws {
        let count = try #require(Self.counter)
        // Positive control: the counter sees an allocation.
        let control = count()
        let array = [UInt8](repeating: 1, count: 100)
        #expect(count() > control && array.count == 100)
        let (configA, configB): (String, String)
        if kind == "wireguard" {
            (configA, configB) = wireGuardConfigs(natA: false, natB: false)
        } else {
            configA = "router: { ipv4: 10.1.0.1/24, nat: false }\nwan: { type: udp, endpoint: 192.0.2.2:51820, ipv4: 10.201.0.1/24 }"
            configB = "router: { ipv4: 10.2.0.1/24, nat: false }\nwan: { type: udp, endpoint: 192.0.2.1:51820, ipv4: 10.201.0.2/24 }"
        }
        let a = try Bridge(config: BridgeConfig.parse(configA), wanSetup: WANSetup(random: SeededRandom(seed: 1)))
        let b = try Bridge(config: BridgeConfig.parse(configB), wanSetup: WANSetup(random: SeededRandom(seed: 2)))
        let wanA = try #require(a.wan), wanB = try #require(b.wan)

        // Datagrams wait in preallocated slots; the handshake goes back and forth through them.
        let slots = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 * 2048, alignment: 16)
        defer { slots.deallocate() }
        var pending: [(toB: Bool, count: Int)] = []
        pending.reserveCapacity(8)
        for (bridge, toB) in [(a, true), (b, false)] {
            bridge.connect(BridgeOutputs(sendWANDatagram: { bytes, _ in
                guard pending.count < 8, bytes.count <= 2048 else { return }
                slots.slice((pending.count * 2048)..<(pending.count * 2048 + bytes.count)).copyMemory(from: bytes)
                pending.append((toB, bytes.count))
            }))
        }
        var framesAtB = 0
        var now = Instant.zero

        // A packet as the router hands it to the WAN: a UDP packet for B's side, with the router's room
        // around it. WireGuard encrypts it in place, so it is built afresh for every send.
        let room = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 + 20 + 8 + 64 + 64, alignment: 16)
        defer { room.deallocate() }
        let payload = [UInt8](repeating: 7, count: 64)
        func send() {
            let n = payload.withUnsafeBytes { p in
                (try? IPv4Frame.emitUDP(into: room.slice(from: 64), ethernet: nil,
                                        ip: IPv4Header(source: IPv4Address(10, 1, 0, 10), destination: IPv4Address(10, 2, 0, 10),
                                                       protocol: .udp, payloadLength: 0),
                                        udp: UDPHeader(sourcePort: 4000, destinationPort: 9), payload: p)) ?? 0
            }
            wanA.transmit(packet: PointToPointPacket(buffer: room, range: 64..<(64 + n)), now: now)
            for _ in 0..<3 {   // the handshake takes a round trip before the staged packet leaves
                var i = 0
                while i < pending.count {
                    let (toB, count) = pending[i]
                    let slot = slots.slice((i * 2048)..<(i * 2048 + 2048))
                    if toB {
                        if wanB.receive(datagram: slot, count: count, from: WANPair.endpointA, now: now) != nil { framesAtB += 1 }
                    } else {
                        _ = wanA.receive(datagram: slot, count: count, from: WANPair.endpointB, now: now)
                    }
                    i += 1
                }
                pending.removeAll(keepingCapacity: true)
            }
            now = now + .microseconds(10)
        }
        for _ in 0..<10 { send() }
        #expect(framesAtB == 10)
        var allocations: [UInt64] = []
        for _ in 0..<5 {
            let start = count()
            for _ in 0..<200 { send() }
            allocations.append(count() - start)
        }
        #expect(framesAtB == 1010, "frames handed to B's router: \(framesAtB)")
        #expect(allocations.allSatisfy { $0 == 0 }, "allocations per 200 packets: \(allocations)")
        #expect(wanA.counters.drops.total == 0 && wanB.counters.drops.total == 0)
    }
}
#endif
