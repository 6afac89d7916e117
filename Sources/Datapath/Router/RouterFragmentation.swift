// Fragmentation on egress (RFC 791 §3.2 "Fragmentation and Reassembly", §3.1 "Options";
// RFC 1812 §4.2.2.7 "Fragmentation", §5.2.6).
//
// A datagram without DF that is larger than the outgoing MTU is cut into fragments, each built
// in the router's `scratch` buffer (with the same room around it as any packet the router
// builds) and handed to the output before the next is built: nothing is allocated, and the
// original is only read. The datagram's TTL was already decremented, so every fragment carries
// the new TTL. Rules, from RFC 791:
// - "the fragmentation offset field ... measured in units of 8 octets": every fragment but the
//   last carries a multiple of 8 data bytes, as many as fit in the MTU with its header.
// - "The first portion ... MF set ... the original MF flag is copied to the last fragment" (so a
//   datagram that was itself a fragment keeps its MF on the last piece), and offsets are
//   relative to the original datagram: the input's own offset plus the piece's position.
// - "the copied flag ... 1 = copied" (the option type's high bit): options with it go into every
//   fragment, the others (record route, timestamp, no-operation) only into the first; the
//   header is padded with end-of-option-list zeros to a multiple of 4 and IHL recomputed.
// - Header checksums are computed per fragment. The transport checksum (in the first fragment)
//   covers the whole datagram and is left as it is.
// A datagram whose options are malformed (a length below 2 or past the header) is not cut:
// dropped and counted (`fragmentationUnsupported`). So is one whose pieces would need an offset
// past the 13-bit field (only a hostile input fragment can ask for that).
//
// On Ethernet, fragments to a neighbor not yet resolved join the ARP queue like any datagram.
import Basics
import Wire

extension Router {
    /// Largest data bytes a fragment with a `headerLength`-byte header carries within `mtu`
    /// (a multiple of 8; at least 8, since the MTU is at least 68 and a header at most 60).
    @inline(__always) static func fragmentDataLength(mtu: Int, headerLength: Int) -> Int {
        (mtu - headerLength) & ~7
    }

    /// Sends `datagram` (TTL decremented, longer than `out`'s MTU, DF clear) as fragments.
    func sendFragments<O: RouterOutput>(
        _ datagram: UnsafeMutableRawBufferPointer, header: IPv4Header, route: RouteDecision, arrival: Arrival,
        now: Instant, output: inout O
    ) -> RouterDisposition {
        let original = UnsafeRawBufferPointer(datagram)
        let out = interfaces[route.interface]
        let headerLength = header.headerLength
        guard let laterHeaderLength = Self.copiedOptionsLength(original, headerLength: headerLength) else {
            return drop(.fragmentationUnsupported)
        }
        let payload = header.payloadLength
        let firstData = Self.fragmentDataLength(mtu: out.mtu, headerLength: headerLength)
        let laterData = Self.fragmentDataLength(mtu: out.mtu, headerLength: laterHeaderLength)
        guard firstData >= 8, laterData >= 8 else { return drop(.fragmentationUnsupported) }   // cannot happen: MTU ≥ 68
        // The last piece starts at firstData + k·laterData, the largest such below `payload`.
        let lastStart = payload <= firstData ? 0 : firstData + (payload - firstData - 1) / laterData * laterData
        let baseOffset = Int(header.fragmentOffset)
        guard baseOffset + lastStart / 8 <= 0x1FFF else { return drop(.fragmentationUnsupported) }

        // On Ethernet, the next hop's MAC (or nil: the fragments wait for ARP).
        var mac: MACAddress?
        var source = MACAddress.zero
        var nextHop = header.destination
        if case .ethernet(let local) = out.medium {
            source = local
            nextHop = route.nextHop(for: header.destination)
            mac = cache.lookup(interface: route.interface, address: nextHop, now: now)
        }
        let h = Self.packetHeadroom
        let e = out.isPointToPoint ? 0 : EthernetHeader.untaggedLength
        let ip = h + e   // where each fragment's IP header is built in `scratch`
        var queued = false
        var position = 0
        while position < payload {
            let first = position == 0
            let fragmentHeader = first ? headerLength : laterHeaderLength
            let room = first ? firstData : laterData
            let count = min(room, payload - position)
            let last = position + count == payload
            let length = fragmentHeader + count
            let fragment = scratch.slice(ip..<(ip + length))
            // Header: the fixed 20 bytes, then all options (first) or the copied ones.
            fragment.copyBytes(original.slice(0..<IPv4Constants.minimumHeaderLength), at: 0)
            if first {
                fragment.copyBytes(original.slice(IPv4Constants.minimumHeaderLength..<headerLength),
                                   at: IPv4Constants.minimumHeaderLength)
            } else {
                Self.writeCopiedOptions(original, headerLength: headerLength, into: fragment, end: laterHeaderLength)
            }
            fragment.setU8(0, IPv4Constants.version << 4 | UInt8(truncatingIfNeeded: fragmentHeader / 4))
            fragment.setU16(2, UInt16(truncatingIfNeeded: length))
            let more = !last || header.moreFragments
            let flags = (original.u16(6) & 0x8000) | (more ? 0x2000 : 0)
            fragment.setU16(6, flags | UInt16(truncatingIfNeeded: baseOffset + position / 8))
            fragment.setU16(10, 0)
            fragment.setU16(10, InternetChecksum.of(UnsafeRawBufferPointer(fragment.slice(0..<fragmentHeader))))
            fragment.copyBytes(original.slice((headerLength + position)..<(headerLength + position + count)), at: fragmentHeader)
            counters.fragmentsCreated &+= 1
            switch out.medium {
            case .pointToPoint:
                output.send(packet: PointToPointPacket(buffer: scratch, range: ip..<(ip + length)), on: route.interface)
            case .ethernet:
                if let mac {
                    let frame = scratch.slice(h..<(ip + length))
                    EthernetHeader.rewriteAddresses(in: frame, source: source, destination: mac)
                    frame.setU16(12, EtherType.ipv4.rawValue)
                    output.send(UnsafeRawBufferPointer(frame), on: route.interface)
                } else {
                    // `enqueue` copies the fragment; the ARP request it may send is built in
                    // scratch[0 ..< 42], before the fragment's room.
                    if enqueue(UnsafeRawBufferPointer(fragment), nextHop: nextHop, on: route.interface, arrival: arrival,
                               now: now, output: &output) == .queued { queued = true }
                }
            }
            position += count
        }
        counters.datagramsFragmented &+= 1
        if out.isPointToPoint || mac != nil {
            counters.forwarded &+= 1
            return .forwarded(interface: route.interface)
        }
        return queued ? .queued : .dropped(.arpQueueOverflow)
    }

    /// The header length of a non-first fragment: 20 bytes plus the options whose copied flag
    /// is set, padded to a multiple of 4; nil if the options are malformed.
    static func copiedOptionsLength(_ datagram: UnsafeRawBufferPointer, headerLength: Int) -> Int? {
        var i = IPv4Constants.minimumHeaderLength
        var copied = 0
        while i < headerLength {
            let type = datagram[i]
            if type == 0 { break }                        // end of option list
            if type == 1 { i += 1; continue }             // no operation (not copied)
            guard i + 1 < headerLength else { return nil }
            let length = Int(datagram[i + 1])
            guard length >= 2, i + length <= headerLength else { return nil }
            if type & 0x80 != 0 { copied += length }
            i += length
        }
        return IPv4Constants.minimumHeaderLength + ((copied + 3) & ~3)
    }

    /// Writes the copied options of `datagram`'s (well-formed) options at 20 in `fragment`,
    /// then zeros (end of option list) up to `end`.
    static func writeCopiedOptions(
        _ datagram: UnsafeRawBufferPointer, headerLength: Int, into fragment: UnsafeMutableRawBufferPointer, end: Int
    ) {
        var i = IPv4Constants.minimumHeaderLength
        var w = IPv4Constants.minimumHeaderLength
        while i < headerLength {
            let type = datagram[i]
            if type == 0 { break }
            if type == 1 { i += 1; continue }
            let length = Int(datagram[i + 1])
            if type & 0x80 != 0 {
                fragment.copyBytes(datagram.slice(i..<(i + length)), at: w)
                w += length
            }
            i += length
        }
        while w < end { fragment[w] = 0; w += 1 }
    }
}
