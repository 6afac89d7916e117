// Rewriting one end of a datagram in place, with incremental checksum updates (RFC 1624 eqn. 3;
// RFC 3022 §4.2 describes the same adjustment for NAT).
//
// What each checksum covers, and so what a translation must patch:
//   IPv4 header checksum — the header: the address.
//   UDP (RFC 768) and TCP (RFC 9293 §3.1) — a pseudo-header with both addresses, and the ports.
//   ICMP (RFC 792) — the message only: the query identifier, and in an error the quoted bytes.
import Wire

/// A pending RFC 1624 adjustment: the sum of (~old + new) over every 16-bit word changed, to fold
/// into a checksum that covers them all ("HC' = ~(~HC + ~m + m')", one term per word).
struct ChecksumAdjustment {
    var sum: UInt64 = 0

    @inline(__always) mutating func replace(_ old: UInt16, with new: UInt16) {
        sum &+= UInt64(~old) &+ UInt64(new)
    }

    @inline(__always) mutating func replace(_ old: UInt32, with new: UInt32) {
        replace(UInt16(truncatingIfNeeded: old >> 16), with: UInt16(truncatingIfNeeded: new >> 16))
        replace(UInt16(truncatingIfNeeded: old), with: UInt16(truncatingIfNeeded: new))
    }

    /// `checksum` with the adjustment folded in.
    @inline(__always) func applied(to checksum: UInt16) -> UInt16 {
        var s = UInt64(~checksum) &+ sum
        while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
        return ~UInt16(truncatingIfNeeded: s)
    }
}

/// Which end of a datagram a translation rewrites.
enum NATEndpointSide {
    case source
    case destination

    /// Offset of the address in the IPv4 header.
    @inline(__always) var addressOffset: Int { self == .source ? 12 : 16 }
}

enum NATRewrite {
    /// Offset of the IPv4 header checksum.
    static let ipChecksumOffset = 10

    /// Writes the address of `side` in the IPv4 header at the start of `packet` and patches the
    /// header checksum. Returns the old address. Records both changed words in `changes`.
    @inline(__always) @discardableResult
    static func rewriteAddress(_ packet: UnsafeMutableRawBufferPointer, _ side: NATEndpointSide, to address: UInt32,
                               changes: inout ChecksumAdjustment) -> UInt32 {
        let offset = side.addressOffset
        let old = packet.u32(offset)
        packet.setU32(offset, address)
        changes.replace(old, with: address)
        let oldSum = packet.u16(ipChecksumOffset)
        let newSum = InternetChecksum.update(oldSum, old: old, new: address)
        packet.setU16(ipChecksumOffset, newSum)
        changes.replace(oldSum, with: newSum)
        return old
    }

    /// Rewrites address and port (for ICMP queries, the identifier) of `side` of the datagram at
    /// the start of `packet`: an IPv4 header of `headerLength` bytes, then `transportLength`
    /// bytes of its transport header and data (at least 8; fewer than the whole when the datagram
    /// is quoted in an ICMP error). The IPv4 checksum and, when present in full, the transport
    /// checksum are patched; a zero UDP checksum ("no checksum", RFC 768) stays zero. Every
    /// 16-bit word changed is recorded in `changes`.
    @inline(__always)
    static func rewrite(_ packet: UnsafeMutableRawBufferPointer, headerLength: Int, transportLength: Int,
                        protocol proto: NATProtocol, _ side: NATEndpointSide, address: UInt32, port: UInt16,
                        changes: inout ChecksumAdjustment) {
        let oldAddress = rewriteAddress(packet, side, to: address, changes: &changes)
        let t = headerLength
        let portOffset = proto == .icmp ? 4 : (side == .source ? 0 : 2)
        let oldPort = packet.u16(t + portOffset)
        packet.setU16(t + portOffset, port)
        changes.replace(oldPort, with: port)

        let checksumOffset: Int
        switch proto {
        case .udp: checksumOffset = 6
        case .tcp: checksumOffset = 16
        case .icmp: checksumOffset = 2
        }
        guard transportLength >= checksumOffset + 2 else { return }   // cut off in a quote
        let oldSum = packet.u16(t + checksumOffset)
        var newSum: UInt16
        switch proto {
        case .udp:
            // RFC 768: "An all zero transmitted checksum value means that the transmitter
            // generated no checksum" — nothing to patch.
            guard oldSum != 0 else { return }
            newSum = InternetChecksum.update(oldSum, old: oldAddress, new: address)
            newSum = InternetChecksum.update(newSum, old: oldPort, new: port)
            // "If the computed checksum is zero, it is transmitted as all ones".
            if newSum == 0 { newSum = 0xFFFF }
        case .tcp:
            newSum = InternetChecksum.update(oldSum, old: oldAddress, new: address)
            newSum = InternetChecksum.update(newSum, old: oldPort, new: port)
        case .icmp:
            newSum = InternetChecksum.update(oldSum, old: oldPort, new: port)
        }
        packet.setU16(t + checksumOffset, newSum)
        changes.replace(oldSum, with: newSum)
    }
}
