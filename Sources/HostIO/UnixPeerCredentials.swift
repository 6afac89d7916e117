// Who is at the other end of a connected unix socket (SO_PEERCRED, unix(7)): the credentials the
// peer had when it connected, as the kernel recorded them.
import Glibc

/// A peer's process, user and group ids.
public struct UnixPeerCredentials: Equatable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

extension UnixStream {
    /// The peer's credentials, or nil when the kernel does not give them.
    public func peerCredentials() -> UnixPeerCredentials? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } — three 32-bit fields (Linux).
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: raw))
        let r = getsockopt(descriptor.rawValue, SOL_SOCKET, SO_PEERCRED, &raw, &length)
        guard r == 0, length == socklen_t(MemoryLayout.size(ofValue: raw)) else { return nil }
        return UnixPeerCredentials(pid: raw.0, uid: raw.1, gid: raw.2)
    }
}
