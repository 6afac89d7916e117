// A TUN device: a layer-3 interface whose IP packets this process reads and writes, one packet per read(2) or
// write(2). Opened through CShims' sluice_tun_open with IFF_TUN | IFF_NO_PI (linux/if_tun.h: no 4-byte packet
// information prefix, so a read returns the IP packet itself). Not persistent: the interface, its addresses and
// its routes disappear when the descriptor closes.

import CShims
import HostIO

/// An open TUN device.
public final class TUNDevice {
    /// The device's descriptor (non-blocking; register it with a reactor for read interest).
    public let descriptor: FileDescriptor
    /// The interface name the kernel gave it.
    public let name: String

    /// True when every packet read or written carries a 10-byte virtio-net header (IFF_VNET_HDR) and the kernel
    /// may hand over TCP super-packets (TUN_F_CSUM | TUN_F_TSO4); see TUNOffload.swift.
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
