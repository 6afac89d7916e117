// A TUN device: a layer-3 interface whose IP packets this process reads and writes, one packet per read(2) or
// write(2). Opened through CShims' sluice_tun_open with IFF_TUN | IFF_NO_PI (linux/if_tun.h: no 4-byte packet
// information prefix, so a read returns the IP packet itself). Not persistent: the interface, its addresses and
// its routes disappear when the descriptor closes. With offloads (IFF_VNET_HDR), every packet carries a
// `TUNPacketHeader` (struct virtio_net_hdr); Tunnel's TUNOffload.swift segments and coalesces TCP with it.

import CShims

/// An open TUN device.
public final class TUNDevice {
    /// The device's descriptor (non-blocking; register it with a reactor for read interest).
    public let descriptor: FileDescriptor
    /// The interface name the kernel gave it.
    public let name: String

    /// True when every packet read or written carries a 10-byte virtio-net header (IFF_VNET_HDR) and the kernel
    /// may hand over TCP super-packets (TUN_F_CSUM | TUN_F_TSO4); see `TUNPacketHeader`.
    public let offloads: Bool

    /// Opens (creating) the TUN device `name` in the current network namespace. Needs CAP_NET_ADMIN.
    /// With `offloads`, packets carry a virtio-net header and TCP segmentation is left to the reader.
    public init(name: String, offloads: Bool = false) throws(Errno) {
        var chosen = [CChar](repeating: 0, count: Int(SLUICE_IFNAMSIZ))
        var flags = SLUICE_IFF_TUN | SLUICE_IFF_NO_PI
        if offloads { flags |= SLUICE_IFF_VNET_HDR }
        let fd = chosen.withUnsafeMutableBufferPointer { out in sluice_tun_open(name, out.baseAddress, out.count, flags) }
        guard fd >= 0 else { throw Errno.current }
        descriptor = FileDescriptor(adopting: fd)
        try descriptor.setNonBlocking()
        if offloads {
            guard sluice_tun_set_vnet_hdr_size(fd, CInt(TUNPacketHeader.size)) == 0,
                  sluice_tun_set_offload(fd, SLUICE_TUN_F_CSUM | SLUICE_TUN_F_TSO4) == 0 else { throw Errno.current }
        }
        self.offloads = offloads
        self.name = String(decoding: chosen.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads one IP packet: its length, or nil when none is waiting.
    @inlinable public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        try descriptor.read(into: buffer)
    }

    /// Writes one IP packet: the bytes taken, or nil when the device's queue is full.
    @inlinable public func write(_ packet: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        try descriptor.write(packet)
    }

    /// Closes the descriptor: the interface goes away.
    public func close() { try? descriptor.close() }
}

/// struct virtio_net_hdr (virtio spec §5.1.6, without num_buffers), as TUN reads and writes it.
public struct TUNPacketHeader: Sendable, Equatable {
    public static let size = 10
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum from csum_start, stored at csum_start + csum_offset.
    public static let needsChecksum: UInt8 = 1
    /// VIRTIO_NET_HDR_F_DATA_VALID: the receiver need not verify the checksum.
    public static let dataValid: UInt8 = 2
    public static let gsoNone: UInt8 = 0
    public static let gsoTCPv4: UInt8 = 1
    public static let gsoECN: UInt8 = 0x80

    public var flags: UInt8 = 0
    public var gsoType: UInt8 = 0
    public var headerLength: UInt16 = 0
    public var gsoSize: UInt16 = 0
    public var checksumStart: UInt16 = 0
    public var checksumOffset: UInt16 = 0

    public init(flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
         checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags; self.gsoType = gsoType; self.headerLength = headerLength; self.gsoSize = gsoSize
        self.checksumStart = checksumStart; self.checksumOffset = checksumOffset
    }

    /// Reads the header at the front of `b` (at least 10 bytes).
    public init(_ b: UnsafeRawBufferPointer) {
        flags = b[0]; gsoType = b[1]
        headerLength = b.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
        gsoSize = b.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
        checksumStart = b.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
        checksumOffset = b.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
    }

    /// Writes the header at `offset` of `b`.
    public func write(to b: UnsafeMutableRawBufferPointer, at offset: Int) {
        b[offset] = flags; b[offset + 1] = gsoType
        b.storeBytes(of: headerLength, toByteOffset: offset + 2, as: UInt16.self)
        b.storeBytes(of: gsoSize, toByteOffset: offset + 4, as: UInt16.self)
        b.storeBytes(of: checksumStart, toByteOffset: offset + 6, as: UInt16.self)
        b.storeBytes(of: checksumOffset, toByteOffset: offset + 8, as: UInt16.self)
    }
}
