// The service manager's readiness protocol (systemd's sd_notify(3), spoken without libsystemd):
// one datagram of "KEY=value" lines to the unix socket named by $NOTIFY_SOCKET ('@' at its start
// names the abstract namespace). "READY=1" once serving, "WATCHDOG=1" at least every
// $WATCHDOG_USEC/2, "STOPPING=1" at shutdown. Without $NOTIFY_SOCKET every call does nothing.
import CShims
import Glibc

public struct ServiceManagerNotifier: Sendable {
    /// The socket path ($NOTIFY_SOCKET), nil when not run by a service manager.
    public let socketPath: String?
    /// How often to send "WATCHDOG=1" (half of $WATCHDOG_USEC), nil without a watchdog or when
    /// $WATCHDOG_PID names another process.
    public let watchdogInterval: Duration?

    /// Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID from `environment`.
    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        var interval: Duration?
        if let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec >= 2, usec <= 3_600_000_000_000,
           environment["WATCHDOG_PID"].map({ $0 == String(getpid()) }) ?? true {
            interval = .microseconds(Int64(usec / 2))
        }
        watchdogInterval = path == nil ? nil : interval
    }

    /// Sends `state` ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=…"); errors are returned,
    /// not thrown: a service manager that went away must not stop the bridge.
    @discardableResult
    public func notify(_ state: String) -> Errno? {
        guard let socketPath else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(socketPath.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return .nameTooLong }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        // An abstract name's length counts exactly its bytes; a path's includes the NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return Errno(rawValue: errno) }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent < 0 ? Errno(rawValue: errno) : nil
    }
}
