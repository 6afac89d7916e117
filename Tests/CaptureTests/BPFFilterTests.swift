// BPF filters compiled by libpcap against hand-built frames: each filter accepts exactly the
// frames it should.
import Basics
import Testing
@testable import Capture

func matching(_ expression: String, _ frames: [(name: String, bytes: [UInt8])] = TestFrames.all) throws -> [String] {
    let filter = try BPFFilter(expression)
    return frames.filter { frame in frame.bytes.withUnsafeBytes { filter.matches(frame: $0) } }.map(\.name)
}

@Test func arpMatchesOnlyArp() throws {
    #expect(try matching("arp") == ["arpRequest"])
}

@Test func udpPort67MatchesBothDirectionsOfDHCP() throws {
    #expect(try matching("udp port 67") == ["dhcpDiscover", "dhcpOffer"])
    #expect(try matching("udp dst port 67") == ["dhcpDiscover"])
}

@Test func icmpTypeMatchesEchoRepliesOnly() throws {
    // A later fragment has no ICMP header: libpcap's icmp[] checks the fragment offset is 0.
    #expect(try matching("icmp[icmptype] = icmp-echoreply") == ["echoReply"])
    #expect(try matching("icmp[icmptype] = icmp-echoreply and src host 10.0.0.1") == ["echoReply"])
    #expect(try matching("icmp[icmptype] = icmp-echo") == ["echoRequest"])
}

@Test func etherHostMatchesSourceOrDestination() throws {
    #expect(try matching("ether host 02:00:00:00:00:01") == ["echoRequest", "echoReply"])
    #expect(try matching("ether src 02:00:00:00:00:01") == ["echoReply"])
}

@Test func emptyExpressionMatchesEverything() throws {
    #expect(try matching("") == TestFrames.all.map(\.name))
}

@Test func truncatedFramesNeverMatchAndNeverTrap() throws {
    let filter = try BPFFilter("udp port 67")
    let frame = TestFrames.dhcpDiscover
    for cut in 0..<frame.count {
        let matched = frame.withUnsafeBytes { filter.matches(frame: UnsafeRawBufferPointer(rebasing: $0[..<cut])) }
        // The destination port ends at byte 14 + 20 + 4.
        #expect(matched == (cut >= 38), "cut at \(cut)")
    }
    #expect(filter.matches(frame: UnsafeRawBufferPointer(start: nil, count: 0)) == false)
}

@Test func originalLengthIsVisibleToTheFilter() throws {
    let filter = try BPFFilter("greater 1000")
    TestFrames.echoReply.withUnsafeBytes { frame in
        #expect(!filter.matches(frame: frame))
        #expect(filter.matches(frame: frame, originalLength: 1514))
    }
    let record = CaptureRecord(time: .zero, originalLength: 1514, bytes: TestFrames.echoReply)
    #expect(filter.matches(record))
}

@Test func invalidFilterCarriesLibpcapsMessage() throws {
    let error = #expect(throws: CaptureError.self) { try BPFFilter("udp prot 67") }
    guard case .invalidFilter(let expression, let message)? = error else {
        Issue.record("expected invalidFilter, got \(String(describing: error))"); return
    }
    #expect(expression == "udp prot 67")
    #expect(message.contains("syntax error"), "libpcap said: \(message)")
    #expect(error?.description == "invalid capture filter \"udp prot 67\": \(message)")

    // Parsed, but not an address: libpcap's message names the problem.
    let mac = #expect(throws: CaptureError.self) { try BPFFilter("ether host 02:00:00:00:00") }
    #expect(mac?.description.contains("bogus ethernet address") == true, "\(String(describing: mac))")
}

@Test func filterForRawIPLinksCompilesAgainstThatLinkType() throws {
    let filter = try BPFFilter("udp port 67", linkType: .raw)
    let packet = Array(TestFrames.dhcpDiscover.dropFirst(14))  // the IPv4 packet alone
    packet.withUnsafeBytes { #expect(filter.matches(frame: $0)) }
    TestFrames.dnsQuery.dropFirst(14).withUnsafeBytes { #expect(!filter.matches(frame: $0)) }
    // "arp" means nothing on a raw IP link.
    #expect(throws: CaptureError.self) { try BPFFilter("arp", linkType: .raw) }
}
