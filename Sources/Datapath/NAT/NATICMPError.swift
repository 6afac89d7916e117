// ICMP errors about translated packets (RFC 5508 §4.2 ff.): the quoted datagram inside is the
// translated form of a packet, so it is translated back, together with the error's own address.
//
//   inbound:  [IP R'→X][ICMP err][quoted IP X→R, ports x→r]  ⇒  [IP R'→I][ICMP err][quoted I→R, i→r]
//   outbound: [IP I→R][ICMP err][quoted IP R→I, ports r→i]   ⇒  [IP X→R][ICMP err][quoted R→X, r→x]
//
// Every 16-bit word changed in the quote (address, port or identifier, the quoted checksums) is
// folded into the ICMP checksum, which covers the whole message (RFC 792).
import Basics
import Wire

extension NAT {
    /// RFC 5508 REQ-3: "When an ICMP Error packet is received, if the ICMP checksum fails to
    /// validate, the NAT SHOULD silently drop the ICMP Error packet." Also requires a whole quoted
    /// header and the "64 bits of Original Data Datagram" of RFC 792 after it. Returns the quoted
    /// header and the quote's bytes (from the quoted IP header on), or the reason to drop.
    @inline(__always)
    func quotedDatagram(_ message: UnsafeMutableRawBufferPointer) throws(NATDropReason) -> (IPv4Header, UnsafeMutableRawBufferPointer) {
        guard InternetChecksum.of(UnsafeRawBufferPointer(message)) == 0 else { throw .malformed }
        let quote = message.slice(from: ICMPv4Constants.headerLength)
        let header: IPv4Header
        do { header = try IPv4Header(parsingQuoted: UnsafeRawBufferPointer(quote)) } catch { throw .malformed }
        guard quote.count - header.headerLength >= ICMPv4Constants.quotedPayloadLength else { throw .malformed }
        // A quoted later fragment carries no ports to match.
        guard header.fragmentOffset == 0 else { throw .fragment }
        return (header, quote)
    }

    /// RFC 5508 REQ-4: "If a NAT device receives an ICMP Error packet from the external realm, and
    /// the NAT device does not have an active mapping for the embedded payload, the NAT SHOULD
    /// silently drop the ICMP Error packet. If the NAT has active mapping for the embedded payload,
    /// then the NAT MUST ... a) Revert the IP and transport headers of the embedded IP packet to
    /// their original form, using the matching mapping; and b) Leave the ICMP Error type and code
    /// unchanged". The quote must match a session, not just a mapping: only then did the NAT send
    /// it, which keeps forged errors from reaching internal hosts.
    func inboundError(_ datagram: UnsafeMutableRawBufferPointer, _ ip: IPv4Header, now: Instant) -> NATVerdict {
        let message = datagram.slice(from: ip.headerLength)
        let quotedHeader: IPv4Header, quote: UnsafeMutableRawBufferPointer
        do { (quotedHeader, quote) = try quotedDatagram(message) } catch { return drop(error) }
        // The quoted packet went out through the NAT: from the external address.
        guard quotedHeader.source.rawValue == external else { return drop(.noMapping) }
        let qt = quotedHeader.headerLength
        let proto: NATProtocol, externalPort: UInt16, remotePort: UInt16
        switch quotedHeader.protocol {
        case .udp, .tcp:
            proto = quotedHeader.protocol == .udp ? .udp : .tcp
            externalPort = quote.u16(qt)
            remotePort = quote.u16(qt + 2)
        case .icmp:
            guard NATICMPQuery.isRequest(quote.u8(qt)) else { return drop(.noMapping) }
            proto = .icmp
            externalPort = quote.u16(qt + 4)
            remotePort = 0
        default:
            return drop(.unsupportedProtocol)
        }
        let m = table.ports.owner(proto, externalPort)
        if m == NATPortPool.expired { return drop(.expired) }
        guard m >= 0, table.session(m, remote: quotedHeader.destination.rawValue, port: remotePort) != NATTable.none else {
            return drop(.noMapping)
        }
        let mapping = table.mappings[Int(m)]
        var changes = ChecksumAdjustment()
        NATRewrite.rewrite(quote, headerLength: qt, transportLength: quote.count - qt, protocol: proto, .source,
                           address: mapping.internalAddress, port: mapping.internalPort, changes: &changes)
        message.setU16(2, changes.applied(to: message.u16(2)))
        var outer = ChecksumAdjustment()
        NATRewrite.rewriteAddress(datagram, .destination, to: mapping.internalAddress, changes: &outer)
        if ip.moreFragments { rememberFirstFragment(ip, internalAddress: mapping.internalAddress, now: now) }
        counters.icmpErrorsTranslated &+= 1
        counters.inboundTranslated &+= 1
        return .translated
    }

    /// RFC 5508 REQ-5: "If a NAT device receives an ICMP Error packet from the private realm, and
    /// the NAT does not have an active mapping for the embedded payload, the NAT SHOULD silently
    /// drop the ICMP Error packet. If the NAT has active mapping for the embedded payload, then the
    /// NAT MUST ... a) Revert the IP and transport headers of the embedded IP packet to their
    /// original form, using the matching mapping; and b) Leave the ICMP Error type and code
    /// unchanged; and c) Modify the source IP address of the ICMP Error packet to be the same as
    /// the external IP address of the NAT". (The router's own errors about translated inbound
    /// packets, such as time exceeded, come this way too.)
    func outboundError(_ datagram: UnsafeMutableRawBufferPointer, _ ip: IPv4Header) -> NATVerdict {
        let message = datagram.slice(from: ip.headerLength)
        let quotedHeader: IPv4Header, quote: UnsafeMutableRawBufferPointer
        do { (quotedHeader, quote) = try quotedDatagram(message) } catch { return drop(error) }
        // The quoted packet came in through the NAT: to the internal endpoint, from the remote one.
        let qt = quotedHeader.headerLength
        let proto: NATProtocol, internalPort: UInt16, remotePort: UInt16
        switch quotedHeader.protocol {
        case .udp, .tcp:
            proto = quotedHeader.protocol == .udp ? .udp : .tcp
            internalPort = quote.u16(qt + 2)
            remotePort = quote.u16(qt)
        case .icmp:
            guard NATICMPQuery.isReply(quote.u8(qt)) else { return drop(.noMapping) }
            proto = .icmp
            internalPort = quote.u16(qt + 4)
            remotePort = 0
        default:
            return drop(.unsupportedProtocol)
        }
        let m = table.mapping(proto, internal: quotedHeader.destination.rawValue, port: internalPort)
        guard m != NATTable.none, table.session(m, remote: quotedHeader.source.rawValue, port: remotePort) != NATTable.none else {
            return drop(.noMapping)
        }
        var changes = ChecksumAdjustment()
        NATRewrite.rewrite(quote, headerLength: qt, transportLength: quote.count - qt, protocol: proto, .destination,
                           address: external, port: table.mappings[Int(m)].externalPort, changes: &changes)
        message.setU16(2, changes.applied(to: message.u16(2)))
        var outer = ChecksumAdjustment()
        NATRewrite.rewriteAddress(datagram, .source, to: external, changes: &outer)
        counters.icmpErrorsTranslated &+= 1
        counters.outboundTranslated &+= 1
        return .translated
    }
}
