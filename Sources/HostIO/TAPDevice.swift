// A TAP device: a layer-2 interface whose frames this process reads and writes. Opened through
// CShims' sluice_tun_open with IFF_TAP | IFF_NO_PI (and IFF_VNET_HDR when frames should carry a
// virtio-net header); brought up with the SIOCSIFFLAGS ioctl (`NetworkInterface.setUp`). The
// device disappears when the descriptor closes (it is not made persistent).

import CShims
import Glibc

/// An open TAP device.
public final class TAPDevice {
    /// The device's descriptor (register it with a reactor for read interest).
    public let descriptor: FileDescriptor
    /// The interface name the kernel gave it.
    public let name: String
    /// Bytes of virtio-net header before every frame (0 without IFF_VNET_HDR).
    public let virtioNetHeaderSize: Int

    /// Opens a TAP device called `name` ("" or a pattern with "%d": the kernel picks). With
    /// `virtioNetHeaderSize` (10 or 12), frames carry a virtio-net header (IFF_VNET_HDR).
    /// Needs CAP_NET_ADMIN.
    public init(name: String = "", virtioNetHeaderSize: Int? = nil, nonBlocking: Bool = true) throws(Errno) {
        var flags = SLUICE_IFF_TAP | SLUICE_IFF_NO_PI
        if virtioNetHeaderSize != nil { flags |= SLUICE_IFF_VNET_HDR }
        var chosen = [CChar](repeating: 0, count: Int(SLUICE_IFNAMSIZ))
        let fd = try chosen.withUnsafeMutableBufferPointer { (out) throws(Errno) in
            try SystemCall.run { sluice_tun_open(name, out.baseAddress, out.count, flags) }
        }
        let descriptor = FileDescriptor(adopting: fd)
        if let size = virtioNetHeaderSize {
            _ = try SystemCall.run { sluice_tun_set_vnet_hdr_size(fd, CInt(size)) }
        }
        if nonBlocking { try descriptor.setNonBlocking() }
        self.descriptor = descriptor
        self.name = String(decoding: chosen.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.virtioNetHeaderSize = virtioNetHeaderSize ?? 0
    }

    /// Reads one frame (with its virtio-net header, if any): its length, or nil when none waits.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        try descriptor.read(into: buffer)
    }

    /// Writes one frame (with its virtio-net header, if any): the bytes taken, or nil when the
    /// device's queue is full.
    public func write(_ frame: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        try descriptor.write(frame)
    }

    /// Brings the interface up or down (SIOCSIFFLAGS).
    public func setUp(_ up: Bool = true) throws(Errno) {
        try NetworkInterface.setUp(name, up)
    }

    /// Tells the kernel which offloads (SLUICE_TUN_F_*) this reader handles (TUNSETOFFLOAD).
    public func setOffload(_ flags: UInt32) throws(Errno) {
        let fd = descriptor.rawValue
        _ = try SystemCall.run { sluice_tun_set_offload(fd, flags) }
    }
}
