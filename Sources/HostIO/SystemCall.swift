// The one choke point every system call in HostIO goes through (STYLE.md, after swift-system):
// EINTR is retried here and nowhere else, -1 becomes a thrown `Errno`, and EAGAIN becomes nil for
// the calls that may legitimately find nothing to do.

import Glibc

@usableFromInline
enum SystemCall {
    /// Runs `call`, retrying while it fails with EINTR; returns its result, or throws its errno
    /// when it returns -1.
    @inlinable @inline(__always)
    static func run<T: FixedWidthInteger & SignedInteger>(_ call: () -> T) throws(Errno) -> T {
        while true {
            let result = call()
            if result != -1 { return result }
            let error = Errno.current
            if error == .interrupted { continue }
            throw error
        }
    }

    /// Like `run`, but EAGAIN/EWOULDBLOCK — nothing to do now — is nil instead of an error.
    @inlinable @inline(__always)
    static func nonBlocking<T: FixedWidthInteger & SignedInteger>(_ call: () -> T) throws(Errno) -> T? {
        do {
            return try run(call)
        } catch {
            if error == .wouldBlock || error.rawValue == EWOULDBLOCK { return nil }
            throw error
        }
    }

    /// `close(2)`, exactly once. Not retried on EINTR: on Linux the descriptor is released even
    /// then, and a retry could close a descriptor another thread just opened.
    static func close(_ fd: CInt) throws(Errno) {
        if Glibc.close(fd) == -1 {
            let error = Errno.current
            if error != .interrupted { throw error }
        }
    }
}
