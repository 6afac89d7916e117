// ICMP errors about translated packets (RFC 5508 REQ-3, -4, -5): the quoted datagram is turned
// back into what the internal side sent or received, checksums and all.
import Basics
import Testing
import Wire
@testable import Datapath

private typealias L = NATLab

@Test func inboundUnreachableAboutAnOutboundUDPDatagramIsTranslatedQuoteAndAll() throws {
    let nat = try L.nat()
    let original = L.udp(L.hostA, 5000, L.server, 53, payload: Array("a whole datagram".utf8))
    var out = original
    #expect(nat.outbound(&out) == .translated)
    let externalPort = try NATPacket(out).udp().header.sourcePort

    // The server answers with port unreachable, quoting the whole translated datagram.
    var error = L.icmpError(L.server, L.external, .destinationUnreachable(code: ICMPv4UnreachableCode.port), quoting: out)
    #expect(nat.inbound(&error) == .translated)
    let back = try NATPacket(error)
    let (message, quote) = try back.icmp()                     // the ICMP checksum verifies
    #expect(back.ip.source == L.server && back.ip.destination == L.hostA)
    #expect(message.type == .destinationUnreachable && message.code == ICMPv4UnreachableCode.port)
    // The quote is now exactly what host A sent: header checksum and UDP checksum included.
    #expect(quote == original)
    _ = try NATPacket(quote).udp()
    #expect(externalPort != 5000 && nat.counters.icmpErrorsTranslated == 1)
}

@Test func inboundTimeExceededWithAShortQuoteIsTranslated() throws {
    let nat = try L.nat()
    let original = L.udp(L.hostA, 40000, L.server, 33434, payload: Array(repeating: 7, count: 32))
    var out = original
    #expect(nat.outbound(&out) == .translated)
    // A router on the path quotes the header and only the first 8 bytes (RFC 792's minimum).
    var error = L.icmpError(L.pathRouter, L.external, .timeExceeded(code: 0), quoting: out, quoteLength: 28)
    #expect(nat.inbound(&error) == .translated)
    let back = try NATPacket(error)
    let (_, quote) = try back.icmp()
    #expect(back.ip.source == L.pathRouter && back.ip.destination == L.hostA)
    #expect(quote == Array(original.prefix(28)))
    let quotedHeader = try quote.withUnsafeBytes { (b) throws in try IPv4Header(parsingQuoted: b) }
    #expect(quotedHeader.source == L.hostA)
}

@Test func inboundErrorsAboutTCPAndEchoAreTranslated() throws {
    let nat = try L.nat()
    let syn = L.tcp(L.hostA, 5001, L.server, 443, flags: .syn)
    var out = syn
    #expect(nat.outbound(&out) == .translated)
    // Whole TCP header quoted: the TCP checksum inside is patched too.
    var error = L.icmpError(L.pathRouter, L.external, .destinationUnreachable(code: ICMPv4UnreachableCode.host), quoting: out)
    #expect(nat.inbound(&error) == .translated)
    #expect(try NATPacket(error).icmp().data == syn)
    // 8 bytes quoted: the TCP checksum is not there to patch, the rest is.
    error = L.icmpError(L.pathRouter, L.external, .destinationUnreachable(code: ICMPv4UnreachableCode.host), quoting: out, quoteLength: 28)
    #expect(nat.inbound(&error) == .translated)
    #expect(try NATPacket(error).icmp().data == Array(syn.prefix(28)))

    let ping = L.icmp(L.hostA, L.server, .echoRequest(identifier: 99, sequenceNumber: 5))
    out = ping
    #expect(nat.outbound(&out) == .translated)
    error = L.icmpError(L.pathRouter, L.external, .timeExceeded(code: 0), quoting: out)
    #expect(nat.inbound(&error) == .translated)
    #expect(try NATPacket(error).icmp().data == ping)
    #expect(nat.counters.icmpErrorsTranslated == 3)
}

@Test func outboundErrorAboutAnInboundDatagramIsTranslated() throws {
    let nat = try L.nat()
    var out = L.udp(L.hostA, 40000, L.server, 5060)
    #expect(nat.outbound(&out) == .translated)
    let fromServer = L.udp(L.server, 5060, L.external, 40000, payload: [1, 2, 3])
    var delivered = fromServer
    #expect(nat.inbound(&delivered) == .translated)
    // Host A no longer listens: it quotes what it received.
    var error = L.icmpError(L.hostA, L.server, .destinationUnreachable(code: ICMPv4UnreachableCode.port), quoting: delivered)
    #expect(nat.outbound(&error) == .translated)
    let sent = try NATPacket(error)
    #expect(sent.ip.source == L.external && sent.ip.destination == L.server)
    // The server sees its own datagram quoted, as it sent it.
    #expect(try sent.icmp().data == fromServer)
}

@Test func errorsMatchingNoSessionAreDropped() throws {
    let nat = try L.nat()
    var out = L.udp(L.hostA, 40000, L.server, 53)
    #expect(nat.outbound(&out) == .translated)
    let unreachable = ICMPv4Message.destinationUnreachable(code: ICMPv4UnreachableCode.port)
    // A forged error about a datagram to a peer the mapping never talked to.
    let forged = L.udp(L.external, 40000, L.server2, 53)
    var error = L.icmpError(L.server2, L.external, unreachable, quoting: forged)
    #expect(nat.inbound(&error) == .drop(.noMapping))
    // About a port with no mapping at all.
    error = L.icmpError(L.server, L.external, unreachable, quoting: L.udp(L.external, 40100, L.server, 53))
    #expect(nat.inbound(&error) == .drop(.noMapping))
    // Quoting a packet that did not come from the external address.
    error = L.icmpError(L.server, L.external, unreachable, quoting: L.udp(L.hostA, 40000, L.server, 53))
    #expect(nat.inbound(&error) == .drop(.noMapping))
    // RFC 5508 REQ-3: a bad ICMP checksum is dropped.
    error = L.icmpError(L.server, L.external, unreachable, quoting: out)
    error[22] ^= 0x01
    #expect(nat.inbound(&error) == .drop(.malformed))
    // Too short a quote: less than the header plus 8 bytes.
    error = L.icmpError(L.server, L.external, unreachable, quoting: out, quoteLength: 27)
    #expect(nat.inbound(&error) == .drop(.malformed))
    // Outbound: an error about something that never came in.
    error = L.icmpError(L.hostA, L.server, unreachable, quoting: L.udp(L.server, 53, L.hostA, 41234))
    #expect(nat.outbound(&error) == .drop(.noMapping))
    // Errors do not touch the mapping (RFC 4787 REQ-12) or refresh it.
    #expect(nat.mappingCount == 1 && nat.nextDeadline() == L.t0 + .seconds(120))
}
