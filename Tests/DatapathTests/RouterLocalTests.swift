import Basics
import Testing
import Wire
@testable import Datapath

@Test func echoReplyForEachOwnAddress() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    let data: [UInt8] = Array(100..<157)
    for target in [Lab.routerIP0, Lab.routerIP1] {
        let request = Lab.icmpFrame(.echoRequest(identifier: 0x4242, sequenceNumber: 9), data: data, destination: target)
        #expect(router.receive(request, on: 0, now: Lab.t0, output: &out) == .answered)
        let sent = out.take()
        try #require(sent.count == 1)
        #expect(sent[0].interface == 0)
        let s = try SentIPv4(sent[0].frame)
        #expect(s.ethernet.destination == Lab.macA && s.ethernet.source == Lab.routerMAC0)
        #expect(s.ip.source == target && s.ip.destination == Lab.ipA)
        let (message, echoed) = try s.icmp()
        #expect(message.type == .echoReply && message.identifier == 0x4242 && message.sequenceNumber == 9)
        #expect(echoed == data)
    }
    #expect(router.counters.echoRepliesSent == 2)
    // Echo to the broadcast address: not answered. Echo replies to us: taken in quietly.
    let broadcastEcho = Lab.icmpFrame(.echoRequest(identifier: 1, sequenceNumber: 1), to: .broadcast, destination: .broadcast)
    #expect(router.receive(broadcastEcho, on: 0, now: Lab.t0, output: &out) == .dropped(.broadcastEcho))
    #expect(router.receive(Lab.icmpFrame(.echoReply(identifier: 1, sequenceNumber: 1)), on: 0, now: Lab.t0, output: &out) == .consumed)
    #expect(out.sent.isEmpty)
}

@Test func dhcpStyleUDPIsDeliveredAndSent() throws {
    let router = try Lab.router()
    var out = CapturedOutput()
    // A client without an address broadcasts to port 67.
    let discover = Lab.udpFrame(to: .broadcast, source: .any, destination: .broadcast, payloadLength: 300, marker: 7,
                                sourcePort: 68, destinationPort: 67)
    #expect(router.receive(discover, on: 0, now: Lab.t0, output: &out) == .delivered)
    try #require(out.delivered.count == 1)
    let (datagram, payload) = out.delivered[0]
    #expect(datagram == LocalUDPDatagram(interface: 0, sourceMAC: Lab.macA, source: .any, sourcePort: 68,
                                         destination: .broadcast, destinationPort: 67))
    #expect(payload == (0..<300).map { UInt8(truncatingIfNeeded: 7 + $0) })
    #expect(out.sent.isEmpty && router.counters.delivered == 1)

    // The server answers by broadcast from the interface's address.
    let answer: [UInt8] = Array(repeating: 0x63, count: 300)
    try answer.withUnsafeBytes { p in
        try router.sendUDP(on: 0, sourcePort: 67, to: .broadcast, port: 68, mac: .broadcast, payload: p, output: &out)
    }
    let sent = out.take()
    try #require(sent.count == 1)
    let s = try SentIPv4(sent[0].frame)
    #expect(s.ethernet.destination == .broadcast && s.ethernet.source == Lab.routerMAC0)
    #expect(s.ip.source == Lab.routerIP0 && s.ip.destination == .broadcast)
    let (udp, data) = try s.udp()
    #expect(udp.sourcePort == 67 && udp.destinationPort == 68 && data == answer)

    // A port nobody serves: port unreachable to a unicast sender.
    #expect(router.receive(Lab.udpFrame(destination: Lab.routerIP0, destinationPort: 53), on: 0, now: Lab.t0, output: &out)
            == .dropped(.portUnreachable))
    let (message, _) = try SentIPv4(out.take()[0].frame).icmp()
    #expect(message.type == .destinationUnreachable && message.code == ICMPv4UnreachableCode.port)
    // Too big for the interface MTU.
    let huge = [UInt8](repeating: 0, count: 1473)
    #expect(throws: WireError.noSpace(needed: 1501, have: 1500)) {
        try huge.withUnsafeBytes { p in
            try router.sendUDP(on: 0, sourcePort: 67, to: .broadcast, port: 68, mac: .broadcast, payload: p, output: &out)
        }
    }
}
