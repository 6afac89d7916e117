// Fuzz targets over the mesh's routing and registry (layer 2, Mesh): `babel-router` (Babel packets from three
// neighbours into a BabelRouter, with time moving and its timers, as the mesh node feeds it: every packet that
// parses must re-encode to a packet that parses the same) and `mesh-registry` (aronet's registry.json, both
// dialects, through MeshRegistry's strict JSON reader and its checks).
import Basics
import Mesh
import Wire

enum BabelRouterTarget {
    static let start = Instant(nanoseconds: 1_000_000_000)

    /// A router that has originated one prefix and knows three neighbours; updates for 10.66/16 are not authorized.
    static func router() -> BabelRouter {
        var r = BabelRouter(routerID: RouterID(rawValue: 0x5157_1CE0_0000_0001), now: start,
                            authorize: { _, prefix in prefix != BabelPrefix(ipv4: IPv4Address(10, 66, 0, 0), length: 16) })
        _ = r.originate(prefix: BabelPrefix(ipv4: IPv4Address(10, 99, 1, 0), length: 24), now: start)
        for n in 1...3 { _ = r.neighbourUp(NeighbourID(UInt32(n)), now: start) }
        return r
    }

    /// Input: records (16-bit little-endian length + bytes), each: a neighbour byte (1–3; 0 is one never
    /// announced), a time step byte (× 16 ms), then the packet.
    static func run(_ data: UnsafeRawBufferPointer) {
        var r = router()
        var now = start
        var input = FuzzInput(data)
        var count = 0
        while !input.isEmpty, count < 32 {
            var record = FuzzInput(input.record())
            count += 1
            let neighbour = NeighbourID(UInt32(record.u8() % 4))
            now = now + .milliseconds(16 * Int64(record.u8()))
            let bytes = exactCopy(record.rest())
            if let packet = try? BabelPacket(parsing: bytes), packet.malformedTLVs == 0, packet.unknownTLVs == 0 {
                let again = packet.encoded()
                guard let reparsed = try? BabelPacket(parsing: again) else { preconditionFailure("a parsed Babel packet re-encodes to one that does not parse") }
                precondition(reparsed.tlvs == packet.tlvs, "a parsed Babel packet re-encodes to different TLVs")
            }
            _ = r.receive(bytes, from: neighbour, now: now)
            if r.nextDeadline() <= now { _ = r.tick(now: now) }
            _ = r.nextHop(for: IPv4Address(10, 99, 2, 7))
        }
        var steps = 0
        while steps < 8, r.nextDeadline() <= now + .seconds(60) {
            now = max(now, r.nextDeadline())
            _ = r.tick(now: now)
            steps += 1
        }
        if count % 2 == 1 { _ = r.neighbourDown(NeighbourID(2), now: now) }
    }

    static func seeds() -> [[UInt8]] {
        // What a second router says to this one over time: hellos, IHUs, updates (route table dumps).
        var other = BabelRouter(routerID: RouterID(rawValue: 0x5157_1CE0_0000_0002), now: start)
        var packets: [[UInt8]] = []
        func take(_ actions: [BabelAction]) {
            for a in actions {
                switch a {
                case .send(let p, _), .sendToAll(let p): packets.append(p)
                case .routeChanged: break
                }
            }
        }
        take(other.originate(prefix: BabelPrefix(ipv4: IPv4Address(10, 99, 2, 0), length: 24), now: start))
        take(other.originate(prefix: BabelPrefix(ipv4: IPv4Address(10, 66, 0, 0), length: 16), now: start))
        take(other.neighbourUp(NeighbourID(1), now: start))
        var t = start
        for _ in 0..<20 {
            t = max(t + .milliseconds(1), other.nextDeadline())
            take(other.tick(now: t))
        }
        return [records(packets.prefix(8).map { [1, 4] + $0 }), records(packets.suffix(8).map { [2, 64] + $0 }),
                records(packets.prefix(4).map { [0, 1] + $0 })]
    }
}

enum MeshRegistryTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        if let registry = try? MeshRegistry(json: exactCopy(data)) {
            _ = registry.nodesWithoutKeys
        }
    }

    static func seeds() -> [[UInt8]] {
        ["registry-extra-network.json", "registry-prefixs.json"].compactMap { PcapReaderTarget.readFile("fixtures/mesh/\($0)") }
    }
}
