// A listening TCP socket (the bridge's metrics endpoint): non-blocking, close-on-exec, with
// SO_REUSEADDR so a restarted bridge binds again at once. Accepted connections are stream
// sockets like unix ones: `UnixStream`'s send and receive (sendmsg/recvmsg, never SIGPIPE) serve
// both.
import CShims
import Glibc

/// A TCP listener bound to an address.
public final class TCPListener {
    /// The listening socket (register it with a reactor for read interest).
    public let descriptor: FileDescriptor

    /// Listens on `address` (port 0: the kernel picks one; see `localAddress()`).
    public init(bindingTo address: SocketAddress, backlog: CInt = 16) throws(Errno) {
        let type = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let fd = try SystemCall.run { socket(address.family, type, 0) }
        descriptor = FileDescriptor(adopting: fd)
        var on: CInt = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<CInt>.size))
        try address.withSocketAddress { (sa, length) throws(Errno) in
            _ = try SystemCall.run { bind(fd, sa, length) }
        }
        _ = try SystemCall.run { listen(fd, backlog) }
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

    /// Accepts one pending connection (non-blocking, close-on-exec), or nil when none waits.
    public func accept() throws(Errno) -> UnixStream? {
        let flags = CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let listening = descriptor.rawValue
        guard let fd = try SystemCall.nonBlocking({ sluice_accept4(listening, flags) }) else { return nil }
        return UnixStream(FileDescriptor(adopting: fd))
    }
}
