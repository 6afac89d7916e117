// Configuring a network interface through the classic socket ioctls (linux/sockios.h):
// SIOCGIFFLAGS/SIOCSIFFLAGS to bring it up or down, SIOCSIFMTU, SIOCSIFADDR/SIOCSIFNETMASK for an
// IPv4 address. No `ip` process is spawned. Needs CAP_NET_ADMIN in the interface's namespace.

import Glibc

/// ioctl-based configuration of an interface by name.
public enum NetworkInterface {
    /// Brings the interface up (IFF_UP set) or down.
    public static func setUp(_ name: String, _ up: Bool = true) throws(Errno) {
        try withRequest(name) { (socket, request) throws(Errno) in
            _ = try SystemCall.run { ioctl(socket, UInt(SIOCGIFFLAGS), request) }
            let flags = request.pointee.ifr_ifru.ifru_flags
            let wanted = up ? flags | Int16(IFF_UP) : flags & ~Int16(IFF_UP)
            guard wanted != flags else { return }
            request.pointee.ifr_ifru.ifru_flags = wanted
            _ = try SystemCall.run { ioctl(socket, UInt(SIOCSIFFLAGS), request) }
        }
    }

    /// True when the interface is administratively up.
    public static func isUp(_ name: String) throws(Errno) -> Bool {
        try withRequest(name) { (socket, request) throws(Errno) in
            _ = try SystemCall.run { ioctl(socket, UInt(SIOCGIFFLAGS), request) }
            return request.pointee.ifr_ifru.ifru_flags & Int16(IFF_UP) != 0
        }
    }

    /// Sets the MTU.
    public static func setMTU(_ name: String, _ mtu: Int) throws(Errno) {
        try withRequest(name) { (socket, request) throws(Errno) in
            request.pointee.ifr_ifru.ifru_mtu = CInt(mtu)
            _ = try SystemCall.run { ioctl(socket, UInt(SIOCSIFMTU), request) }
        }
    }

    /// Assigns an IPv4 address (host order) with a prefix length.
    public static func setIPv4Address(_ name: String, address: UInt32, prefixLength: Int) throws(Errno) {
        guard (0...32).contains(prefixLength) else { throw .invalidArgument }
        let mask: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength)
        for (command, value) in [(UInt(SIOCSIFADDR), address), (UInt(SIOCSIFNETMASK), mask)] {
            try withRequest(name) { (socket, request) throws(Errno) in
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_addr.s_addr = value.bigEndian
                withUnsafeMutableBytes(of: &request.pointee.ifr_ifru) { raw in
                    withUnsafeBytes(of: sin) { raw.copyMemory(from: $0) }
                }
                _ = try SystemCall.run { ioctl(socket, command, request) }
            }
        }
    }

    /// The interface's index, or nil when there is no such interface.
    public static func index(of name: String) -> UInt32? {
        let index = if_nametoindex(name)
        return index == 0 ? nil : index
    }

    private static func withRequest<R>(_ name: String,
                                       _ body: (CInt, UnsafeMutablePointer<ifreq>) throws(Errno) -> R) throws(Errno) -> R {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count < Int(IFNAMSIZ) else { throw .nameTooLong }
        let fd = try SystemCall.run { socket(AF_INET, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0) }
        let control = FileDescriptor(adopting: fd)
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn) { raw in
            raw.copyBytes(from: bytes)
        }
        return try withExtendedLifetime(control) { () throws(Errno) -> R in
            try withUnsafeMutablePointer(to: &request) { (p) throws(Errno) -> R in try body(fd, p) }
        }
    }
}
