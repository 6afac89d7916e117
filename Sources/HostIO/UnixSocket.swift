// Unix-domain stream sockets: a listening socket that accepts non-blocking, close-on-exec
// connections (vhost-user front ends connect to it), and the connected stream with file
// descriptors passed as SCM_RIGHTS ancillary data.

import CShims
import Glibc

/// What one `UnixStream.receive` got.
public struct UnixReceived {
    /// Bytes stored in the buffer; 0 means the peer closed the stream.
    public var count: Int
    /// Descriptors that arrived with those bytes (now owned by the receiver).
    public var descriptors: [FileDescriptor]
    /// More descriptors came than were asked for; the extra ones were closed.
    public var descriptorsTruncated: Bool
}

/// A listening unix stream socket at a path; accepts non-blocking, close-on-exec connections.
public final class UnixListener {
    /// The listening socket (register it with a reactor for read interest).
    public let descriptor: FileDescriptor
    /// Where it listens.
    public let path: String
    private let inode: (dev: UInt64, ino: UInt64)

    /// Listens at `path`. A stale socket file left there by a dead server (nobody accepts on
    /// it) is replaced; a live one is `Errno.addressInUse`.
    public init(path: String, backlog: CInt = 16) throws(Errno) {
        let type = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let fd = try SystemCall.run { socket(AF_UNIX, type, 0) }
        let descriptor = FileDescriptor(adopting: fd)
        var st = stat()
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else { throw .addressInUse }
            if (try? UnixStream(connectingTo: path)) != nil { throw .addressInUse }
            unlink(path)
        }
        try UnixAddress.with(path) { (sa, length) throws(Errno) in
            _ = try SystemCall.run { bind(fd, sa, length) }
        }
        _ = try SystemCall.run { listen(fd, backlog) }
        _ = try SystemCall.run { lstat(path, &st) }
        self.descriptor = descriptor
        self.path = path
        inode = (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    deinit {
        // Remove the socket file, unless someone else has replaced it meanwhile.
        var st = stat()
        if lstat(path, &st) == 0, UInt64(st.st_dev) == inode.dev, UInt64(st.st_ino) == inode.ino { unlink(path) }
    }

    /// Accepts one pending connection (non-blocking, close-on-exec), or nil when none waits.
    public func accept() throws(Errno) -> UnixStream? {
        let flags = CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let listening = descriptor.rawValue
        guard let fd = try SystemCall.nonBlocking({ sluice_accept4(listening, flags) }) else { return nil }
        return UnixStream(FileDescriptor(adopting: fd))
    }
}

/// A connected unix stream socket that can carry file descriptors.
public final class UnixStream {
    /// The socket.
    public let descriptor: FileDescriptor

    /// Wraps a connected socket.
    public init(_ descriptor: FileDescriptor) {
        self.descriptor = descriptor
    }

    /// Connects to the listener at `path`; the stream is non-blocking unless told otherwise.
    public convenience init(connectingTo path: String, nonBlocking: Bool = true) throws(Errno) {
        let fd = try SystemCall.run { socket(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0) }
        let descriptor = FileDescriptor(adopting: fd)
        try UnixAddress.with(path) { (sa, length) throws(Errno) in
            _ = try SystemCall.run { connect(fd, sa, length) }
        }
        if nonBlocking { try descriptor.setNonBlocking() }
        self.init(descriptor)
    }

    /// A connected pair (socketpair), both non-blocking and close-on-exec.
    public static func pair() throws(Errno) -> (UnixStream, UnixStream) {
        var fds: (CInt, CInt) = (-1, -1)
        let type = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        _ = try withUnsafeMutableBytes(of: &fds) { (raw) throws(Errno) in
            try SystemCall.run { socketpair(AF_UNIX, type, 0, raw.baseAddress!.assumingMemoryBound(to: CInt.self)) }
        }
        return (UnixStream(FileDescriptor(adopting: fds.0)), UnixStream(FileDescriptor(adopting: fds.1)))
    }

    /// Sends `bytes` with `descriptors` attached (their numbers are duplicated into the peer;
    /// the caller still owns them). Returns the bytes sent, or nil when the buffer is full.
    /// A closed peer is `Errno.brokenPipe` (never SIGPIPE).
    public func send(_ bytes: UnsafeRawBufferPointer, descriptors: [FileDescriptor] = []) throws(Errno) -> Int? {
        let fd = descriptor.rawValue
        let numbers = descriptors.map(\.rawValue)
        return try numbers.withUnsafeBufferPointer { (fds) throws(Errno) in
            try SystemCall.nonBlocking {
                sluice_sendmsg_fds(fd, bytes.baseAddress, bytes.count, fds.baseAddress, fds.count)
            }
        }
    }

    /// Sends all of `bytes`, waiting for room if the buffer is full; descriptors go with the
    /// first byte (send at least one byte with them). For small, rare control messages.
    public func sendAll(_ bytes: UnsafeRawBufferPointer, descriptors: [FileDescriptor] = []) throws(Errno) {
        var offset = 0
        var attached = descriptors
        while offset < bytes.count {
            if let n = try send(UnsafeRawBufferPointer(rebasing: bytes[offset...]), descriptors: attached) {
                offset += n
                attached = []
            } else {
                try waitUntil(writable: true)
            }
        }
    }

    /// Receives up to `buffer.count` bytes and up to `maxDescriptors` descriptors, or nil when
    /// nothing is waiting.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, maxDescriptors: Int = 0) throws(Errno) -> UnixReceived? {
        let fd = descriptor.rawValue
        var numbers = [CInt](repeating: -1, count: max(maxDescriptors, 1))
        var count = 0
        var flags: CInt = 0
        let n = try numbers.withUnsafeMutableBufferPointer { (out) throws(Errno) in
            try SystemCall.nonBlocking {
                sluice_recvmsg_fds(fd, buffer.baseAddress, buffer.count, out.baseAddress, maxDescriptors, &count, &flags)
            }
        }
        guard let n else { return nil }
        let received = numbers.prefix(count).map { FileDescriptor(adopting: $0) }
        return UnixReceived(count: n, descriptors: received, descriptorsTruncated: flags & SLUICE_MSG_CTRUNC != 0)
    }

    /// Blocks until the socket is readable (or writable), at most `timeoutMilliseconds` (-1: forever).
    /// Returns false on timeout.
    @discardableResult
    func waitUntil(writable: Bool = false, timeoutMilliseconds: CInt = -1) throws(Errno) -> Bool {
        var p = pollfd(fd: descriptor.rawValue, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        return try SystemCall.run { poll(&p, 1, timeoutMilliseconds) } > 0
    }

    /// Shuts down both directions (the peer sees end of stream), keeping the descriptor open.
    public func shutdown() {
        _ = Glibc.shutdown(descriptor.rawValue, CInt(SHUT_RDWR))
    }
}

/// `struct sockaddr_un` for a path.
enum UnixAddress {
    static func with<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> R) throws(Errno) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { throw .nameTooLong }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        return try withUnsafePointer(to: &address) { (p) throws(Errno) -> R in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(Errno) -> R in try body(sa, length) }
        }
    }
}
