// A non-blocking UDP socket: the WAN uplinks (plain UDP, WireGuard) send and receive datagrams
// through it. "Would block" is nil, not an error.

// CShims includes <sys/socket.h>; in a whole-module (release) build glibc's MSG_* constants are
// then seen through CShims, so a file that uses them imports it too.
import CShims
import Glibc

/// One received datagram.
public struct UDPDatagram: Equatable, Sendable {
    /// Bytes stored in the caller's buffer.
    public var count: Int
    /// Who sent it.
    public var source: SocketAddress
    /// The datagram was longer than the buffer; the rest is lost.
    public var truncated: Bool
}

/// A bound, non-blocking, close-on-exec UDP socket.
public final class UDPSocket {
    /// The socket (register it with a reactor for read interest).
    public let descriptor: FileDescriptor

    /// A socket bound to `address` (port 0: the kernel picks one; see `localAddress()`).
    public init(bindingTo address: SocketAddress) throws(Errno) {
        let type = CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let fd = try SystemCall.run { socket(address.family, type, 0) }
        descriptor = FileDescriptor(adopting: fd)
        try address.withSocketAddress { (sa, length) throws(Errno) in
            _ = try SystemCall.run { bind(fd, sa, length) }
        }
    }

    /// Receive and send buffers of `bytes` each: SO_RCVBUFFORCE / SO_SNDBUFFORCE (root may exceed
    /// net.core.rmem_max), else the plain options, which the kernel caps. Best effort.
    public func growBuffers(bytes: Int) {
        var size = CInt(clamping: bytes)
        let length = socklen_t(MemoryLayout<CInt>.size)
        for (force, plain) in [(SO_RCVBUFFORCE, SO_RCVBUF), (SO_SNDBUFFORCE, SO_SNDBUF)] {
            if setsockopt(descriptor.rawValue, SOL_SOCKET, force, &size, length) != 0 {
                _ = setsockopt(descriptor.rawValue, SOL_SOCKET, plain, &size, length)
            }
        }
    }

    /// Marks every packet the socket sends with `mark` (SO_MARK, needs CAP_NET_ADMIN; 0 clears it): what
    /// WireGuard's fwmark sets, so policy routing can keep the tunnel's own datagrams out of the tunnel.
    public func setMark(_ mark: UInt32) throws(Errno) {
        var value = mark
        let fd = descriptor.rawValue
        _ = try SystemCall.run { setsockopt(fd, SOL_SOCKET, SO_MARK, &value, socklen_t(MemoryLayout<UInt32>.size)) }
    }

    /// The address the socket is bound to.
    public func localAddress() throws(Errno) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = descriptor.rawValue
        _ = try withUnsafeMutablePointer(to: &storage) { (p) throws(Errno) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(Errno) in
                try SystemCall.run { getsockname(fd, sa, &length) }
            }
        }
        guard let address = SocketAddress(storage: storage) else { throw .invalidArgument }
        return address
    }

    /// Sends one datagram to `destination`: the bytes sent, or nil when the send buffer is full.
    public func send(_ bytes: UnsafeRawBufferPointer, to destination: SocketAddress) throws(Errno) -> Int? {
        let fd = descriptor.rawValue
        return try destination.withSocketAddress { (sa, length) throws(Errno) in
            try SystemCall.nonBlocking { sendto(fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL), sa, length) }
        }
    }

    /// Receives one datagram into `buffer`, or nil when none is waiting.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> UDPDatagram? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = descriptor.rawValue
        // MSG_TRUNC makes recvfrom return the datagram's real length.
        let n = try withUnsafeMutablePointer(to: &storage) { (p) throws(Errno) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(Errno) in
                try SystemCall.nonBlocking { recvfrom(fd, buffer.baseAddress, buffer.count, CInt(MSG_TRUNC), sa, &length) }
            }
        }
        guard let n else { return nil }
        guard let source = SocketAddress(storage: storage) else { throw .invalidArgument }
        return UDPDatagram(count: min(n, buffer.count), source: source, truncated: n > buffer.count)
    }
}
