// errno as a small value (STYLE.md, after swift-system): a failed system call throws an `Errno`;
// "would block" is not an error and comes back as nil from the non-blocking calls instead.

import Glibc

/// A POSIX error number.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The C `errno` value.
    public var rawValue: CInt

    /// The error numbered `rawValue`.
    @inlinable public init(rawValue: CInt) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    @inlinable public static var current: Errno { Errno(rawValue: errno) }

    /// EAGAIN / EWOULDBLOCK: nothing to do now on a non-blocking descriptor.
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// EINTR: interrupted by a signal (retried by `SystemCall`, never surfaced).
    public static let interrupted = Errno(rawValue: EINTR)
    /// EBADF.
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// EINVAL.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// EPERM.
    public static let notPermitted = Errno(rawValue: EPERM)
    /// EACCES.
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// ENOENT.
    public static let noSuchFile = Errno(rawValue: ENOENT)
    /// EADDRINUSE.
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// ECONNREFUSED.
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// ECONNRESET.
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    /// EPIPE: the peer closed its end.
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// ENAMETOOLONG.
    public static let nameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// EMSGSIZE.
    public static let messageTooLong = Errno(rawValue: EMSGSIZE)
    /// ENODEV.
    public static let noSuchDevice = Errno(rawValue: ENODEV)
    /// ENOMEM.
    public static let outOfMemory = Errno(rawValue: ENOMEM)

    public var description: String {
        guard let text = strerror(rawValue) else { return "errno \(rawValue)" }
        return "\(String(cString: text)) (errno \(rawValue))"
    }
}
