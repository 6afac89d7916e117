// An owned file descriptor: closed exactly once — by `close()`, or when the last reference goes.
//
// A final class rather than a ~Copyable struct: descriptors travel in arrays and enum payloads
// (fds received with a vhost-user message, actions handed to the I/O layer), which ~Copyable
// values cannot yet do. Ownership stays single: whoever holds the object owns the descriptor;
// `release()` hands the raw number over to someone else.

import CShims
import Glibc

/// An open file descriptor that this object owns and closes exactly once.
public final class FileDescriptor: CustomStringConvertible {
    private var fd: CInt

    /// Takes ownership of `rawValue` (which must be open and owned by nobody else).
    public init(adopting rawValue: CInt) {
        precondition(rawValue >= 0, "FileDescriptor(adopting:) needs an open descriptor")
        fd = rawValue
    }

    deinit {
        if fd >= 0 { try? SystemCall.close(fd) }
    }

    /// The descriptor number; -1 once closed or released.
    public var rawValue: CInt { fd }

    /// False once closed or released.
    public var isOpen: Bool { fd >= 0 }

    /// Closes the descriptor now (a second call does nothing).
    public func close() throws(Errno) {
        guard fd >= 0 else { return }
        let old = fd
        fd = -1
        try SystemCall.close(old)
    }

    /// Gives up ownership: returns the number, which the caller must close.
    public func release() -> CInt {
        let old = fd
        fd = -1
        return old
    }

    /// Makes reads and writes return at once (O_NONBLOCK) or wait.
    public func setNonBlocking(_ on: Bool = true) throws(Errno) {
        let flags = try SystemCall.run { fcntl(fd, F_GETFL) }
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if wanted != flags { _ = try SystemCall.run { fcntl(fd, F_SETFL, wanted) } }
    }

    /// `read(2)` into `buffer`: the byte count (0 at end of file), or nil when it would block.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        try SystemCall.nonBlocking { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// `write(2)` of `bytes`: the byte count written, or nil when it would block.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        try SystemCall.nonBlocking { Glibc.write(fd, bytes.baseAddress, bytes.count) }
    }

    /// `fstat(2)`'s file size (memfd sizes, regular files).
    public func size() throws(Errno) -> Int {
        var st = stat()
        _ = try SystemCall.run { fstat(fd, &st) }
        return Int(st.st_size)
    }

    public var description: String { "fd \(fd)" }
}
