// ICMP the router originates: echo replies (RFC 792, RFC 1812 §4.3.3.6) and error messages,
// within the limits of RFC 1812 §4.3.2.
import Basics
import Wire

extension Router {
    /// RFC 792: "the source and destination addresses are simply reversed, the type code changed
    /// to 0, and the checksum recomputed"; identifier, sequence number and data are returned.
    func sendEchoReply<O: RouterOutput>(
        to request: ICMPv4Message, data: UnsafeRawBufferPointer, header: IPv4Header, arrival: Arrival, output: inout O
    ) -> RouterDisposition {
        guard !header.source.isUnspecified else { return drop(.martianSource) }
        let ip = IPv4Header(source: header.destination, destination: header.source, protocol: .icmp, payloadLength: 0,
                            identification: takeIdentification())
        let reply = ICMPv4Message.echoReply(identifier: request.identifier, sequenceNumber: request.sequenceNumber)
        do {
            try sendBuilt(on: arrival.interface, to: arrival.mac, output: &output) { (into, ethernet) throws(WireError) in
                try IPv4Frame.emitICMP(into: into, ethernet: ethernet, ip: ip, icmp: reply, data: data)
            }
        } catch { return drop(.replyTooLarge) }
        counters.echoRepliesSent &+= 1
        return .answered
    }

    /// Sends `message` about `datagram` (the offending IP datagram, header first) back to its
    /// source, unless RFC 1812 §4.3.2.7 forbids it or the rate limit (§4.3.2.8) is reached.
    func sendICMPError<O: RouterOutput>(
        _ message: ICMPv4Message, about datagram: UnsafeRawBufferPointer, header: IPv4Header, arrival: Arrival,
        now: Instant, output: inout O
    ) {
        guard icmpErrorAllowed(about: datagram, header: header, arrival: arrival) else {
            counters.icmpErrorsSuppressed &+= 1
            return
        }
        guard limiter.take(now: now) else {
            counters.icmpErrorsRateLimited &+= 1
            return
        }
        let local = interfaces[arrival.interface]
        // RFC 1812 §4.3.2.3: as much of the original as fits in 576 bytes (and the link MTU).
        let room = min(Self.maximumICMPErrorLength, local.mtu) - IPv4Constants.minimumHeaderLength - ICMPv4Constants.headerLength
        let quote = datagram.slice(0..<min(datagram.count, room))
        // RFC 1812 §4.3.2.4: the source is an address of the interface the error is sent from.
        let ip = IPv4Header(source: local.address, destination: header.source, protocol: .icmp, payloadLength: 0,
                            identification: takeIdentification())
        do {
            try sendBuilt(on: arrival.interface, to: arrival.mac, output: &output) { (into, ethernet) throws(WireError) in
                try IPv4Frame.emitICMP(into: into, ethernet: ethernet, ip: ip, icmp: message, data: quote)
            }
            counters.icmpErrorsSent &+= 1
        } catch {
            counters.icmpErrorsSuppressed &+= 1     // cannot happen: the scratch buffer holds any frame
        }
    }

    /// RFC 1812 §4.3.2.7: "An ICMP error message MUST NOT be sent as the result of receiving:
    /// o An ICMP error message, or ... o A packet destined to an IP broadcast or IP multicast
    /// address, or o A packet sent as a Link Layer broadcast or multicast, or o Any fragment of a
    /// datagram other then the first fragment, or o A packet whose source address has a network
    /// prefix of zero or is an invalid source address (as defined in Section [5.3.7])."
    func icmpErrorAllowed(about datagram: UnsafeRawBufferPointer, header: IPv4Header, arrival: Arrival) -> Bool {
        if header.fragmentOffset != 0 || arrival.linkBroadcast { return false }
        let destination = header.destination, source = header.source
        if destination.isLimitedBroadcast || destination.isMulticast || isDirectedBroadcast(destination) { return false }
        if source.isUnspecified || source.isMartianSource || source.rawValue >> 24 == 0 || isDirectedBroadcast(source) {
            return false
        }
        if header.protocol == .icmp {
            let typeOffset = header.headerLength
            // Too short to tell whether it is an error: treat it as one.
            guard typeOffset < datagram.count else { return false }
            if ICMPv4Type(rawValue: datagram[typeOffset]).isError { return false }
        }
        return true
    }
}
