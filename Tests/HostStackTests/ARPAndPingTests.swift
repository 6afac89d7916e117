import Basics
@testable import HostStack
import Testing
import Wire

let macA = MACAddress(0x02, 0, 0, 0, 0, 0x0A)
let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)
let macRouter = MACAddress(0x02, 0, 0, 0, 0, 0xEE)
let ipA = IPv4Address(10, 0, 0, 1)
let ipB = IPv4Address(10, 0, 0, 2)

func host(_ name: String, _ mac: MACAddress, seed: UInt64 = 1, _ configure: (inout HostConfiguration) -> Void = { _ in }) -> Host {
    var c = HostConfiguration()
    configure(&c)
    return Host(name: name, mac: mac, random: SeededRandom(seed: seed, component: name), configuration: c)
}

/// Two statically addressed hosts, A (10.0.0.1) and B (10.0.0.2), on one hub.
func backToBack(delay: Duration = .milliseconds(5), _ configure: (inout HostConfiguration) -> Void = { _ in })
    -> (TestNetwork, Host, Host)
{
    let net = TestNetwork(delay: delay)
    let a = host("a", macA, configure), b = host("b", macB, configure)
    net.attach(a); net.attach(b)
    a.configureStatic(address: IPv4Network("10.0.0.1/24")!, gateway: IPv4Address(10, 0, 0, 254), now: net.now)
    b.configureStatic(address: IPv4Network("10.0.0.2/24")!, now: net.now)
    return (net, a, b)
}

@Suite("ARP and ping")
struct ARPAndPingTests {
    @Test("ARP resolves, then every echo's RTT is the simulated round trip")
    func arpThenPing() {
        let (net, a, b) = backToBack(delay: .milliseconds(5))
        let id = a.ping(ipB, count: 5, interval: .seconds(1), timeout: .seconds(1), now: net.now)
        net.run(for: .seconds(10))
        let r = a.pingResult(id)
        #expect(r.isFinished)
        #expect(r.sent == 5 && r.received == 5 && r.duplicates == 0 && r.errors.isEmpty)
        // The first request waited for ARP: request, reply, echo, reply — four one-way delays.
        #expect(r.probes[0].roundTripTime == .milliseconds(20))
        #expect(r.probes[1...].allSatisfy { $0.roundTripTime == .milliseconds(10) })
        #expect(r.minimum == .milliseconds(10) && r.maximum == .milliseconds(20) && r.average == .milliseconds(12))
        // mdev of {20,10,10,10,10}: sqrt(160 − 144) = 4 ms.
        #expect(r.meanDeviation == .milliseconds(4))
        #expect(r.description.contains("5 packets transmitted, 5 received, 0% packet loss"))
        #expect(r.description.contains("rtt min/avg/max/mdev = 10.000/12.000/20.000/4.000 ms"))
        // One ARP exchange: B learned A from A's request and never had to ask.
        #expect(a.counters.arpRequestsSent == 1 && b.counters.arpRequestsSent == 0)
        #expect(b.counters.arpRepliesSent == 1)
        #expect(a.arpEntry(for: ipB, now: net.now) == macB)
        #expect(b.arpEntry(for: ipA, now: net.now) == macA)
        #expect(b.counters.echoRepliesSent == 5 && a.counters.echoRepliesReceived == 5)
        // Requests carry id, sequence 1…5 and 56 data bytes; B's replies echo them.
        let requests = net.frames(from: 0).compactMap { $0.frame.icmp }.filter { $0.type == .echoRequest }
        #expect(requests.map(\.sequenceNumber) == [1, 2, 3, 4, 5])
        #expect(requests.allSatisfy { $0.identifier == r.identifier })
        let replies = net.frames(from: 1).compactMap(\.frame.icmp).filter { $0.type == .echoReply }
        #expect(replies.map(\.sequenceNumber) == [1, 2, 3, 4, 5])
        #expect(net.frames(from: 1).first { $0.frame.icmp != nil }?.frame.icmpData.count == 56)
    }

    @Test("Pinging an absent host: three ARP requests a second apart, then every probe times out")
    func absentHost() {
        let (net, a, _) = backToBack(delay: .milliseconds(1))
        let absent = IPv4Address(10, 0, 0, 9)
        let id = a.ping(absent, count: 3, interval: .seconds(1), timeout: .seconds(1), now: net.now)
        net.run(for: .seconds(10))
        let r = a.pingResult(id)
        #expect(r.isFinished && r.sent == 3 && r.received == 0)
        #expect(r.probes.allSatisfy { $0.outcome == .timedOut })
        #expect(r.loss == 1)
        let arpTimes = net.frames(from: 0).filter { $0.frame.arp?.targetProtocolAddress == absent }.map(\.time)
        #expect(arpTimes == [.at(.seconds(0)), .at(.seconds(1)), .at(.seconds(2))])
        #expect(a.counters.arpResolutionFailures == 1)
        #expect(a.counters.arpQueueDrops == 3)
        #expect(a.events.contains { $0.kind == .arpResolutionFailed(absent, droppedDatagrams: 3) && $0.time == .at(.seconds(3)) })
    }

    @Test("Off-subnet destinations go to the gateway's MAC; without a gateway there is no route")
    func gatewayRouting() {
        let (net, a, _) = backToBack()
        let router = host("router", macRouter)
        net.attach(router)
        router.configureStatic(address: IPv4Network("10.0.0.254/24")!, now: net.now)
        let far = IPv4Address(192, 168, 1, 1)
        a.ping(far, count: 1, now: net.now)
        net.run(for: .seconds(2))
        let echo = net.frames(from: 0).first { $0.frame.icmp?.type == .echoRequest }?.frame
        #expect(echo?.ethernet.destination == macRouter)
        #expect(echo?.ip?.destination == far)
        #expect(net.frames(from: 0).contains { $0.frame.arp?.targetProtocolAddress == IPv4Address(10, 0, 0, 254) })
        #expect(router.counters.notForUs >= 1)

        let b = net.endpoints[1] as! Host
        let id = b.ping(far, count: 2, interval: .milliseconds(10), now: net.now)
        net.run(for: .seconds(1))
        #expect(b.pingResult(id).probes.allSatisfy { $0.outcome == .notSent })
        #expect(b.pingResult(id).sent == 0 && b.pingResult(id).isFinished)
        #expect(b.counters.noRoute == 2)
    }

    @Test("Duplicated replies are counted once as received and once as duplicates")
    func duplicates() {
        let (net, a, _) = backToBack()
        net.impairment = { frame, from, _ in
            from == 1 && DecodedFrame(frame)?.icmp?.type == .echoReply ? .duplicate : .deliver
        }
        let id = a.ping(ipB, count: 4, interval: .milliseconds(100), now: net.now)
        net.run(for: .seconds(2))
        let r = a.pingResult(id)
        #expect(r.received == 4 && r.duplicates == 4)
        #expect(r.probes.allSatisfy { $0.duplicates == 1 })
        #expect(r.description.contains("+4 duplicates"))
    }

    @Test("A reply after the timeout is late, not received")
    func lateReply() {
        let (net, a, _) = backToBack(delay: .milliseconds(5))
        net.impairment = { frame, from, _ in
            from == 1 && DecodedFrame(frame)?.icmp?.sequenceNumber == 2 ? .delay(.milliseconds(500)) : .deliver
        }
        let id = a.ping(ipB, count: 3, interval: .milliseconds(100), timeout: .milliseconds(200), now: net.now)
        net.run(for: .seconds(2))
        let r = a.pingResult(id)
        #expect(r.received == 2 && r.lateReplies == 1)
        #expect(r.probes[1].outcome == .timedOut)
    }

    @Test("Echo requests carry the TTL asked for; a Time Exceeded quoting one is matched to its probe")
    func timeExceeded() {
        let (net, a, _) = backToBack()
        let router = IPv4Address(10, 0, 0, 254)
        // The "router" drops TTL-1 requests and answers with Time Exceeded quoting them.
        net.impairment = { [unowned net] frame, from, to in
            guard from == 0, let d = DecodedFrame(frame), d.icmp?.type == .echoRequest else { return .deliver }
            if d.ip?.timeToLive == 1, to == 1 {
                net.inject(Frames.icmpError(.timeExceeded(code: 0), about: frame, router: router, routerMAC: macRouter),
                           to: 0, at: net.now + .milliseconds(3))
                return .drop
            }
            return .deliver
        }
        let id = a.ping(ipB, count: 2, interval: .milliseconds(100), timeToLive: 1, now: net.now)
        net.run(for: .seconds(2))
        let r = a.pingResult(id)
        #expect(r.received == 0 && r.errors.count == 2)
        #expect(r.errors.map { $0.echo?.sequence } == [1, 2])
        #expect(r.errors.allSatisfy { $0.type == .timeExceeded && $0.code == 0 && $0.from == router && $0.originalDestination == ipB })
        if case .error(let report) = r.probes[0].outcome { #expect(report.from == router) } else { Issue.record("probe 1 not errored") }
        #expect(r.errors[0].description == "From 10.0.0.254 icmp_seq=1 Time to live exceeded")
        #expect(a.counters.icmpErrorsReceived == 2)
        #expect(a.events.filter { if case .icmpError = $0.kind { true } else { false } }.count == 2)
        #expect(r.description.contains("+2 errors"))

        // Destination unreachable, too.
        let id2 = a.ping(ipB, count: 1, now: net.now)
        net.collectAll()
        let request = net.log.last { $0.from == 0 && DecodedFrame($0.frame)?.icmp?.type == .echoRequest }!.frame
        net.impairment = nil
        net.inject(Frames.icmpError(.destinationUnreachable(code: 1), about: request, router: router, routerMAC: macRouter), to: 0)
        net.run(for: .milliseconds(1))
        #expect(a.pingResult(id2).errors.first?.name == "Destination Host Unreachable")
    }

    @Test("A UDP datagram to a closed port draws Port Unreachable, recorded by the sender")
    func portUnreachable() {
        let (net, a, b) = backToBack()
        a.sendUDP(to: ipB, port: 9999, from: 4000, payload: [1, 2, 3], now: net.now)
        net.run(for: .seconds(1))
        #expect(b.counters.icmpErrorsSent == 1)
        let report = a.events.compactMap { if case .icmpError(let r) = $0.kind { r } else { nil } }.first
        #expect(report?.type == .destinationUnreachable && report?.code == 3)
        #expect(report?.udpPorts?.source == 4000 && report?.udpPorts?.destination == 9999)
        #expect(report?.from == ipB)
    }

    @Test("A cache entry expires and the address is resolved again")
    func cacheExpiry() {
        let (net, a, _) = backToBack { $0.arp.cacheLifetime = .seconds(5) }
        let id = a.ping(ipB, count: 12, interval: .seconds(1), now: net.now)
        net.run(for: .seconds(13))
        let r = a.pingResult(id)
        #expect(r.received == 12)
        // B's entry for A (learned at 5 ms) lapses first: B asks at 5.005 s, which also refreshes
        // A's entry for B (RFC 826 merge) until 10.010 s; so A asks again only for the probe at 11 s.
        #expect(net.frames(from: 0).filter { $0.frame.isARPRequest }.map(\.time) == [.at(.zero), .at(.seconds(11))])
        #expect(net.frames(from: 1).filter { $0.frame.isARPRequest }.map(\.time) == [.at(.milliseconds(5005))])
        // Those probes paid for a resolution: 20 ms instead of 10.
        #expect(r.probes.map(\.roundTripTime).enumerated().allSatisfy { i, rtt in
            rtt == ([0, 5, 11].contains(i) ? .milliseconds(20) : .milliseconds(10))
        })
    }

    @Test("Datagrams waiting for ARP: the oldest are dropped beyond the queue limit")
    func arpQueueLimit() {
        let (net, a, b) = backToBack { $0.arp.queueLimit = 2 }
        b.openUDP(port: 7000)
        for i in 0..<5 { a.sendUDP(to: ipB, port: 7000, payload: [UInt8(i)], now: net.now) }
        net.run(for: .seconds(1))
        #expect(a.counters.arpQueueDrops == 3)
        #expect(b.takeDatagrams(port: 7000).map(\.payload) == [[3], [4]])
    }
}
