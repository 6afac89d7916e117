@testable import Datapath
import Testing
import Wire

@Suite("DHCP server configuration")
struct DHCPServerConfigurationTests {
    static func refusal(_ configure: (inout DHCPServerConfiguration) -> Void) -> String? {
        var c = DHCPFixture.configuration()
        configure(&c)
        do { _ = try DHCPServer(configuration: c); return nil } catch { return error.description }
    }

    @Test("the fixture configuration is accepted, with RFC 2131 §4.4.5 default T1 and T2")
    func defaults() throws {
        let c = DHCPFixture.configuration()
        #expect(Self.refusal { _ in } == nil)
        #expect(c.leaseSeconds == 3600 && c.renewalSeconds == 1800 && c.rebindingSeconds == 3150)
        #expect(c.router == DHCPFixture.server && c.serverAddress == DHCPFixture.server)
    }

    @Test("each impossible setting is refused with a sentence naming it")
    func refusals() {
        let cases: [(String, (inout DHCPServerConfiguration) -> Void)] = [
            ("/30", { $0.subnet = IPv4Network("10.0.0.1/31")! }),
            ("server address", { $0.serverAddress = IPv4Address(10, 0, 1, 1) }),
            ("server address", { $0.serverAddress = IPv4Address(10, 0, 0, 255) }),
            ("not a host address", { $0.poolEnd = IPv4Address(10, 0, 1, 5) }),
            ("not a host address", { $0.poolStart = IPv4Address(10, 0, 0, 0) }),
            ("start is after the end", { $0.poolStart = IPv4Address(10, 0, 0, 200); $0.poolEnd = IPv4Address(10, 0, 0, 100) }),
            ("only the server", { $0.poolStart = DHCPFixture.server; $0.poolEnd = DHCPFixture.server }),
            ("lease time", { $0.leaseTime = .seconds(4) }),
            ("T1", { $0.renewalTime = .seconds(3500); $0.rebindingTime = .seconds(3000) }),
            ("T1", { $0.rebindingTime = .seconds(3600) }),
            ("offer hold", { $0.offerHoldTime = .zero }),
            ("decline hold", { $0.declineHoldTime = .seconds(-1) }),
            ("router", { $0.router = IPv4Address(192, 168, 0, 1) }),
            ("domain name", { $0.domainName = "" }),
            ("not a host address", { $0.reservations = [DHCPReservation(.mac(.zero), address: IPv4Address(10, 0, 2, 1))] }),
            ("not a host address", { $0.reservations = [DHCPReservation(.mac(.zero), address: DHCPFixture.server)] }),
            ("2 to 255 octets", { $0.reservations = [DHCPReservation(.clientIdentifier([1]), address: IPv4Address(10, 0, 0, 9))] }),
            ("both claim", { $0.reservations = [DHCPReservation(.mac(.zero), address: IPv4Address(10, 0, 0, 9)),
                                                DHCPReservation(.mac(.broadcast), address: IPv4Address(10, 0, 0, 9))] }),
            ("appears twice", { $0.reservations = [DHCPReservation(.mac(.zero), address: IPv4Address(10, 0, 0, 9)),
                                                   DHCPReservation(.mac(.zero), address: IPv4Address(10, 0, 0, 10))] }),
        ]
        for (phrase, configure) in cases {
            let refusal = Self.refusal(configure)
            #expect(refusal?.contains(phrase) == true, "expected a refusal mentioning '\(phrase)', got \(refusal ?? "acceptance")")
        }
    }

    @Test("a server inside the pool is skipped, never offered")
    func serverInsidePool() throws {
        var c = DHCPFixture.configuration()
        c.poolStart = IPv4Address(10, 0, 0, 1)
        c.poolEnd = IPv4Address(10, 0, 0, 2)
        var server = try DHCPServer(configuration: c)
        #expect(server.dora(DHCPTestClient(1), now: .zero) == IPv4Address(10, 0, 0, 2))
        #expect(server.receive(DHCPTestClient(2).discover(), now: .zero) == nil)
    }
}
