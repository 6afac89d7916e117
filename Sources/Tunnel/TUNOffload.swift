// TUN offloads (what wireguard-go's tun/offload_linux.go and the kernel's tcp_gso/tcp_gro do): with IFF_VNET_HDR
// every packet on the TUN fd carries a 10-byte struct virtio_net_hdr (linux/virtio_net.h, legacy layout, native
// byte order), and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) lets the kernel hand us TCP "super-packets" of up to
// 64 KiB with a partial checksum.
//
//   reading  — a GSO_TCPV4 packet is cut into gso_size segments here (TCP segmentation: headers copied, sequence
//              numbers advanced, IP and TCP checksums computed), each then encrypted as its own WireGuard packet;
//              a NEEDS_CSUM packet gets its checksum completed.
//   writing  — consecutive decrypted TCP segments of one flow are joined back into one GSO_TCPV4 packet (TCP
//              coalescing), so the receiving stack handles one large segment instead of dozens; every other
//              packet goes out alone, marked DATA_VALID (its integrity is already proven by the AEAD tag, as the
//              kernel's WireGuard marks decrypted packets CHECKSUM_UNNECESSARY).

import Glibc
import HostIO
import Wire

/// IPv4 + TCP field offsets used here (RFC 791 §3.1, RFC 9293 §3.1).
enum TCPv4 {
    static let ipProtocolTCP: UInt8 = 6
    static let flagFIN: UInt8 = 0x01
    static let flagPSH: UInt8 = 0x08
    static let flagACK: UInt8 = 0x10
    static let flagCWR: UInt8 = 0x80
    /// Offset of the checksum within the TCP header.
    static let checksumOffset = 16

    /// The one's-complement sum (folded, not complemented) of the IPv4 pseudo-header for a TCP segment.
    @inline(__always)
    static func pseudoHeaderSum(_ ip: UnsafeRawBufferPointer, tcpLength: Int) -> InternetChecksum {
        var c = InternetChecksum()
        c.add(ip.u32(12)); c.add(ip.u32(16))
        c.add(UInt16(ipProtocolTCP)); c.add(UInt16(truncatingIfNeeded: tcpLength))
        return c
    }

    /// Recomputes the IPv4 header checksum of `packet`.
    @inline(__always)
    static func setIPChecksum(_ packet: UnsafeMutableRawBufferPointer, headerLength: Int) {
        packet.setU16(10, 0)
        packet.setU16(10, InternetChecksum.of(UnsafeRawBufferPointer(rebasing: packet[0..<headerLength])))
    }
}

/// The Internet checksum (RFC 1071) summed eight bytes at a time in native byte order — RFC 1071 §2(B): the sum
/// is independent of byte order, so it is folded and swapped once at the end. The segmentation path checksums
/// every byte it sends, so this is worth the few lines over Wire's word-by-word `InternetChecksum`.
enum FastChecksum {
    /// The 16-bit one's-complement sum (not complemented) of `bytes`, big-endian, as `InternetChecksum` adds it.
    @inline(__always)
    static func sum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        guard let base = bytes.baseAddress else { return 0 }
        let n = bytes.count
        var acc: UInt64 = 0
        var carry: UInt64 = 0
        var i = 0
        while i + 8 <= n {
            let (r, o) = acc.addingReportingOverflow(base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            acc = r
            carry &+= o ? 1 : 0
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
            shift += 8
            i += 1
        }
        let (r, o) = acc.addingReportingOverflow(tail)
        acc = r
        carry &+= o ? 1 : 0
        // Fold 64 → 16 bits with end-around carries, then swap from native (little-endian) to network order.
        var folded = (acc & 0xFFFF_FFFF) &+ (acc >> 32) &+ carry
        while folded >> 16 != 0 { folded = (folded & 0xFFFF) &+ (folded >> 16) }
        let native = UInt16(truncatingIfNeeded: folded)
        return UInt16(bigEndian: native)  // on little-endian hosts, a byte swap
    }
}

/// TCP segmentation of one GSO_TCPV4 super-packet read from the TUN device.
struct TCPSegmentation {
    let ipHeaderLength: Int
    let headerLength: Int
    let payloadLength: Int
    let segmentSize: Int

    /// Checks that `packet` is an IPv4/TCP packet we can cut into `gsoSize` segments.
    init?(packet: UnsafeRawBufferPointer, gsoSize: Int) {
        guard packet.count >= 40, packet[0] >> 4 == 4, packet[9] == TCPv4.ipProtocolTCP, gsoSize > 0 else { return nil }
        let ihl = Int(packet[0] & 0x0F) * 4
        guard ihl >= 20, packet.count >= ihl + 20 else { return nil }
        let thl = Int(packet[ihl + 12] >> 4) * 4
        guard thl >= 20, packet.count >= ihl + thl else { return nil }
        ipHeaderLength = ihl
        headerLength = ihl + thl
        payloadLength = packet.count - headerLength
        segmentSize = gsoSize
    }

    var count: Int { max(1, (payloadLength + segmentSize - 1) / segmentSize) }

    /// Writes segment `index` of `packet` to the front of `out` (which must hold it); returns its length.
    func write(segment index: Int, of packet: UnsafeRawBufferPointer, to out: UnsafeMutableRawBufferPointer) -> Int {
        let start = headerLength + index * segmentSize
        let chunk = min(segmentSize, packet.count - start)
        let total = headerLength + chunk
        out.baseAddress!.copyMemory(from: packet.baseAddress!, byteCount: headerLength)
        (out.baseAddress! + headerLength).copyMemory(from: packet.baseAddress! + start, byteCount: chunk)
        let ihl = ipHeaderLength
        // IPv4: this segment's length, consecutive identifications, a fresh header checksum.
        out.setU16(2, UInt16(total))
        out.setU16(4, packet.u16(4) &+ UInt16(truncatingIfNeeded: index))
        TCPv4.setIPChecksum(out, headerLength: ihl)
        // TCP: the sequence number advances by the bytes before; FIN and PSH only on the last, CWR only on the first.
        out.setU32(ihl + 4, packet.u32(ihl + 4) &+ UInt32(truncatingIfNeeded: index * segmentSize))
        var flags = out[ihl + 13]
        if index < count - 1 { flags &= ~(TCPv4.flagFIN | TCPv4.flagPSH) }
        if index > 0 { flags &= ~TCPv4.flagCWR }
        out[ihl + 13] = flags
        let tcpLength = total - ihl
        out.setU16(ihl + TCPv4.checksumOffset, 0)
        var c = TCPv4.pseudoHeaderSum(UnsafeRawBufferPointer(out), tcpLength: tcpLength)
        c.add(FastChecksum.sum(UnsafeRawBufferPointer(rebasing: out[ihl..<total])))
        out.setU16(ihl + TCPv4.checksumOffset, c.value)
        return total
    }

    /// Completes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the sum from `start` to the end, complemented,
    /// stored at `start + offset` (which holds the pseudo-header sum the kernel put there).
    static func completeChecksum(_ packet: UnsafeMutableRawBufferPointer, start: Int, offset: Int) -> Bool {
        guard start + offset + 2 <= packet.count else { return false }
        var c = InternetChecksum()
        c.add(FastChecksum.sum(UnsafeRawBufferPointer(rebasing: packet[start...])))
        packet.setU16(start + offset, c.value)
        return true
    }
}

/// Joins consecutive TCP segments of one flow into a GSO_TCPV4 packet for a TUN write (userspace GRO).
final class TCPCoalescer {
    /// 10-byte header, then the joined IPv4 packet.
    let buffer: UnsafeMutableRawBufferPointer
    static let maximumPacket = 65535 - 200
    private(set) var segments = 0
    var length = 0          // bytes of the IPv4 packet in `buffer` after the header
    var ipHeaderLength = 0
    var headerLength = 0
    var segmentSize = 0
    var nextSequence: UInt32 = 0
    var closed = false

    init() {
        buffer = .allocate(byteCount: TUNPacketHeader.size + 65536, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { buffer.deallocate() }

    var isEmpty: Bool { segments == 0 }

    /// The TCP payload start of `p` if it is a plain IPv4/TCP data segment that could be coalesced.
    @inline(__always)
    static func candidate(_ p: UnsafeRawBufferPointer) -> (ihl: Int, headers: Int)? {
        guard p.count >= 40, p[0] == 0x45, p[9] == TCPv4.ipProtocolTCP else { return nil }
        // Not a fragment (MF clear, offset zero).
        guard p.u16(6) & 0x3FFF == 0 else { return nil }
        let thl = Int(p[32] >> 4) * 4
        let headers = 20 + thl
        guard thl >= 20, p.count > headers, Int(p.u16(2)) == p.count else { return nil }
        // Only ACK (and PSH, which ends a run) may be set: SYN, FIN, RST, URG, ECE, CWR go alone.
        guard p[20 + 13] & ~(TCPv4.flagACK | TCPv4.flagPSH) == 0, p[20 + 13] & TCPv4.flagACK != 0 else { return nil }
        return (20, headers)
    }

    /// Appends `p` to the run if it continues it; false if it does not (the caller flushes and starts anew).
    @inline(__always)
    func append(_ p: UnsafeRawBufferPointer) -> Bool {
        guard segments > 0, !closed, let (_, headers) = Self.candidate(p), headers == headerLength else { return false }
        let payload = p.count - headers
        guard payload <= segmentSize, length + payload <= Self.maximumPacket, segments < 64 else { return false }
        let h = TUNPacketHeader.size
        let run = UnsafeRawBufferPointer(rebasing: buffer[h..<(h + headerLength)])
        // Same addresses and ports, same ToS/TTL, the next sequence number, the same ack, flags, window and options.
        guard p.u32(12) == run.u32(12), p.u32(16) == run.u32(16), p.u32(20) == run.u32(20),
              p.u16(0) == run.u16(0), p[8] == run[8], p.u32(24) == nextSequence, p.u32(28) == run.u32(28),
              p.u32(32) & 0xFFF7_FFFF == run.u32(32) & 0xFFF7_FFFF,   // data offset, flags but PSH, window
              memcmp(p.baseAddress! + 40, run.baseAddress! + 40, headers - 40) == 0 else { return false }
        (buffer.baseAddress! + h + length).copyMemory(from: p.baseAddress! + headers, byteCount: payload)
        length += payload
        segments += 1
        nextSequence &+= UInt32(payload)
        // A short segment or PSH ends the run (so does FIN, which never joins).
        if payload < segmentSize || p[33] & TCPv4.flagPSH != 0 {
            buffer[h + 33] |= p[33] & TCPv4.flagPSH
            closed = true
        }
        return true
    }

    /// Starts a run with `p`; false if `p` cannot be coalesced (then it is written alone).
    @inline(__always)
    func start(_ p: UnsafeRawBufferPointer) -> Bool {
        guard let (_, headers) = Self.candidate(p) else { return false }
        let h = TUNPacketHeader.size
        (buffer.baseAddress! + h).copyMemory(from: p.baseAddress!, byteCount: p.count)
        length = p.count
        ipHeaderLength = 20
        headerLength = headers
        segmentSize = p.count - headers
        nextSequence = p.u32(24) &+ UInt32(segmentSize)
        segments = 1
        closed = p[33] & TCPv4.flagPSH != 0
        return true
    }

    /// The TUN write for the run (header and packet), and resets. One segment goes out as a plain packet.
    func finish() -> UnsafeRawBufferPointer {
        let h = TUNPacketHeader.size
        let packet = UnsafeMutableRawBufferPointer(rebasing: buffer[h..<(h + length)])
        if segments == 1 {
            TUNPacketHeader(flags: TUNPacketHeader.dataValid).write(to: buffer, at: 0)
        } else {
            packet.setU16(2, UInt16(length))
            TCPv4.setIPChecksum(packet, headerLength: ipHeaderLength)
            // NEEDS_CSUM: the TCP checksum field holds the pseudo-header sum, as a partial checksum would.
            let pseudo = TCPv4.pseudoHeaderSum(UnsafeRawBufferPointer(packet), tcpLength: length - ipHeaderLength)
            packet.setU16(ipHeaderLength + TCPv4.checksumOffset, ~pseudo.value)
            TUNPacketHeader(flags: TUNPacketHeader.needsChecksum, gsoType: TUNPacketHeader.gsoTCPv4,
                            headerLength: UInt16(headerLength), gsoSize: UInt16(segmentSize),
                            checksumStart: UInt16(ipHeaderLength), checksumOffset: UInt16(TCPv4.checksumOffset))
                .write(to: buffer, at: 0)
        }
        segments = 0
        closed = false
        return UnsafeRawBufferPointer(rebasing: buffer[0..<(h + length)])
    }
}
