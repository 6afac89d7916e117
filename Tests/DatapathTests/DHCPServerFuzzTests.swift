import Basics
@testable import Datapath
import Testing
import Wire

/// Feeds a server thousands of mutated client messages — structurally mutated messages and
/// byte-mutated datagrams — with time moving on, and checks after every step that nothing
/// trapped, the lease table is sound and every reply is one a server may send.
@Suite("DHCP server fuzz")
struct DHCPServerFuzzTests {
    struct Outcome: Equatable {
        var counters: DHCPServerCounters
        var leases: [DHCPLease]
        var replies: Int
        var problems: [String]
    }

    static let subnet = IPv4Network("10.0.0.1/24")!

    static func run(seed: UInt64, messages: Int) throws -> Outcome {
        var rng = SeededRandom(seed: seed, component: "dhcp-fuzz")
        var config = DHCPServerConfiguration(interface: subnet, poolStart: IPv4Address(10, 0, 0, 100),
                                             poolEnd: IPv4Address(10, 0, 0, 107))
        config.leaseTime = .seconds(60)
        config.offerHoldTime = .seconds(5)
        config.declineHoldTime = .seconds(20)
        config.reservations = [DHCPReservation(.mac(DHCPTestClient(1).mac), address: IPv4Address(10, 0, 0, 50)),
                               DHCPReservation(.clientIdentifier([0, 7, 7]), address: IPv4Address(10, 0, 0, 104))]
        var server = try DHCPServer(configuration: config)

        let clients = (1...12).map { n -> DHCPTestClient in
            var c = DHCPTestClient(UInt8(n), clientID: n % 4 == 0 ? [0, 7, UInt8(n % 8)] : nil, broadcast: n % 3 == 0)
            c.hostName = n % 2 == 0 ? "vm\(n)" : nil
            return c
        }
        let addresses = (98...110).map { IPv4Address(10, 0, 0, UInt8($0)) }
            + [IPv4Address(10, 0, 0, 50), .any, IPv4Address(192, 168, 1, 1), IPv4Address(10, 0, 0, 255), DHCPFixture.server]
        let servers = [DHCPFixture.server, DHCPFixture.server, IPv4Address(10, 0, 0, 2)]

        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        func chance(_ p: Double) -> Bool { rng.nextUnit() < p }

        var now = Instant.zero
        var replies = 0
        var problems: [String] = []
        var scratch = [UInt8](repeating: 0, count: 1500)

        for step in 0..<messages {
            let client = pick(clients)
            let address = pick(addresses)
            var message: DHCPMessage
            switch rng.next() % 8 {
            case 0: message = client.discover(requesting: chance(0.5) ? address : nil)
            case 1: message = client.select(address, server: pick(servers))
            case 2: message = client.reboot(address)
            case 3: message = client.renew(address, rebinding: chance(0.5))
            case 4: message = client.decline(address, server: pick(servers))
            case 5: message = client.release(address, server: pick(servers))
            case 6: message = client.inform(address)
            default:
                // The well-behaved path, so that bindings exist for the others to collide with.
                message = client.discover()
                if let offer = server.receive(message, now: now) {
                    replies += 1
                    message = client.select(offer.message.yiaddr, server: DHCPFixture.server)
                }
            }

            // Structural mutations: fields a hostile or broken client could set.
            if chance(0.3) {
                switch rng.next() % 8 {
                case 0: message.messageType = DHCPMessageType(rawValue: UInt8(truncatingIfNeeded: rng.next() % 12))
                case 1: message.giaddr = pick(addresses)
                case 2: message.ciaddr = pick(addresses)
                case 3: message.hlen = UInt8(rng.next() % 17); message.htype = UInt8(rng.next() % 3)
                case 4: message.options.append(DHCPOptionCode(UInt8(truncatingIfNeeded: rng.next())),
                                               (0..<Int(rng.next() % 6)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                case 5: message.options.clientIdentifier = chance(0.5) ? nil : [UInt8(rng.next() % 3), 7]
                case 6: message.op = .bootReply
                default: message.flags = UInt16(truncatingIfNeeded: rng.next())
                }
            }

            var reply: DHCPReply?
            if chance(0.4) {
                // Byte mutations of the encoded message, fed through the parser.
                var bytes = [UInt8](repeating: 0, count: 1500)
                var n = try bytes.withUnsafeMutableBytes { try message.emit(into: $0) }
                for _ in 0..<(1 + rng.next() % 4) {
                    let at = Int(rng.next() % UInt64(n))
                    bytes[at] = chance(0.5) ? UInt8(truncatingIfNeeded: rng.next()) : bytes[at] ^ (1 << (rng.next() % 8))
                }
                if chance(0.2) { n = Int(rng.next() % UInt64(n + 1)) }
                reply = bytes.withUnsafeBytes { server.receive(datagram: UnsafeRawBufferPointer(rebasing: $0[..<n]), now: now) }
            } else {
                reply = server.receive(message, now: now)
            }

            if let reply {
                replies += 1
                problems += check(reply, server: server, step: step)
                // Every reply can be put on the wire and read back.
                let n = try scratch.withUnsafeMutableBytes { try reply.message.emit(into: $0) }
                let back = try scratch.withUnsafeBytes { try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                if back != reply.message { problems.append("step \(step): reply does not survive the wire") }
            }
            problems += server.table.violations().map { "step \(step): \($0)" }

            now = now + .milliseconds(Int64(rng.next() % 3000))
            if chance(0.05), let deadline = server.nextDeadline() {
                now = max(now, deadline)
                server.expire(now: now)
            }
        }
        return Outcome(counters: server.counters, leases: server.leases, replies: replies, problems: problems)
    }

    /// What RFC 2131 Table 3 allows a reply to be.
    static func check(_ reply: DHCPReply, server: DHCPServer, step: Int) -> [String] {
        var problems: [String] = []
        let m = reply.message
        func fail(_ s: String) { problems.append("step \(step): \(m): \(s)") }
        if m.op != .bootReply { fail("op is not BOOTREPLY") }
        if m.options.serverIdentifier != DHCPFixture.server { fail("server identifier missing") }
        switch m.messageType {
        case .offer?, .ack?:
            if m.yiaddr != .any {
                let lease = server.lease(for: m.yiaddr)
                if lease == nil || !(lease!.state == .offered || lease!.state == .bound) { fail("yiaddr has no offered/bound record") }
                if !server.configuration.isHostAddress(m.yiaddr) { fail("yiaddr is not a host address") }
                let reserved = server.configuration.reservations.map(\.address)
                if !server.configuration.poolContains(m.yiaddr), !reserved.contains(m.yiaddr) { fail("yiaddr outside pool and reservations") }
            } else if m.messageType == .offer || m.options.leaseTime != nil {
                fail("lease without yiaddr")
            }
        case .nak?:
            if m.yiaddr != .any || m.ciaddr != .any || m.options.leaseTime != nil { fail("NAK carries an address or a lease") }
        default:
            fail("unexpected reply type")
        }
        if m.options.contains(.requestedIPAddress) || m.options.contains(.parameterRequestList) { fail("client-only option in reply") }
        return problems
    }

    @Test("5000 mutated messages: no trap, a sound lease table, only well-formed replies")
    func fuzz() throws {
        let outcome = try Self.run(seed: 42, messages: 5000)
        #expect(outcome.problems.isEmpty, "\(outcome.problems.prefix(10))")
        // The run exercised the server, not just its parser.
        let c = outcome.counters
        #expect(c.sent(.offer) > 100 && c.sent(.ack) > 100 && c.naks > 10)
        #expect(c.drops[.malformed] > 100 && c.drops[.poolExhausted] > 0 && c.drops[.unknownClient] > 0)
        #expect(c.leasesExpired > 0 && c.offersExpired > 0)
    }

    @Test("same seed, same run; another seed, another run")
    func deterministic() throws {
        let a = try Self.run(seed: 7, messages: 1000)
        let b = try Self.run(seed: 7, messages: 1000)
        let c = try Self.run(seed: 8, messages: 1000)
        #expect(a == b)
        #expect(a != c)
    }
}
