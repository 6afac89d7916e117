// Socket addresses of either family, converted to and from `struct sockaddr_*` only here. The IPv4
// case is Wire's `SocketAddressV4`, the one endpoint value the rest of Sluice uses. Host byte order
// throughout.

import Glibc
import Wire

/// An IPv4 or IPv6 address and port, as the kernel's sockets take and give them.
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    case ipv4(SocketAddressV4)
    /// The 128-bit address as two host-order halves, with its scope (interface index) for link-local.
    case ipv6(high: UInt64, low: UInt64, port: UInt16, scopeID: UInt32)

    /// 127.0.0.1:`port`.
    public static func loopback(port: UInt16) -> SocketAddress {
        .ipv4(SocketAddressV4(address: IPv4Address(rawValue: 0x7F00_0001), port: port))
    }

    /// Parses "a.b.c.d:port" or "[v6]:port".
    public init?(_ text: String) {
        if text.hasPrefix("["), let close = text.lastIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
            var bytes = in6_addr()
            guard inet_pton(AF_INET6, host, &bytes) == 1 else { return nil }
            let (high, low) = Self.halves(bytes)
            self = .ipv6(high: high, low: low, port: port, scopeID: 0)
        } else {
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
            var address = in_addr()
            guard inet_pton(AF_INET, String(text[..<colon]), &address) == 1 else { return nil }
            self = .ipv4(SocketAddressV4(address: IPv4Address(rawValue: UInt32(bigEndian: address.s_addr)), port: port))
        }
    }

    /// The port.
    public var port: UInt16 {
        switch self {
        case .ipv4(let v4): v4.port
        case .ipv6(_, _, let port, _): port
        }
    }

    /// The address family (AF_INET or AF_INET6).
    public var family: CInt {
        switch self {
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        }
    }

    /// Calls `body` with the C form of the address.
    public func withSocketAddress<R, E: Error>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> R) throws(E) -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        switch self {
        case .ipv4(let v4):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = v4.port.bigEndian
            sin.sin_addr.s_addr = v4.address.rawValue.bigEndian
            withUnsafeBytes(of: sin) { src in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6(let high, let low, let port, let scopeID):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_scope_id = scopeID
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                raw.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            withUnsafeBytes(of: sin6) { src in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        return try withUnsafePointer(to: &storage) { (p) throws(E) -> R in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(E) -> R in try body(sa, length) }
        }
    }

    /// The address in a `sockaddr_storage` filled by the kernel, or nil for another family.
    public init?(storage: sockaddr_storage) {
        var storage = storage
        switch CInt(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in.self) }
            self = .ipv4(SocketAddressV4(address: IPv4Address(rawValue: UInt32(bigEndian: sin.sin_addr.s_addr)),
                                         port: UInt16(bigEndian: sin.sin_port)))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in6.self) }
            let (high, low) = Self.halves(sin6.sin6_addr)
            self = .ipv6(high: high, low: low, port: UInt16(bigEndian: sin6.sin6_port), scopeID: sin6.sin6_scope_id)
        default:
            return nil
        }
    }

    private static func halves(_ address: in6_addr) -> (UInt64, UInt64) {
        withUnsafeBytes(of: address) { raw in
            (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    public var description: String {
        switch self {
        case .ipv4(let v4):
            return v4.description
        case .ipv6(let high, let low, let port, _):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { raw in
                raw.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return "[\(String(decoding: bytes, as: UTF8.self))]:\(port)"
        }
    }
}
