// An IPv4 transport endpoint: address and port. The one value for "where a datagram comes from or
// goes to" in Sluice — WireGuard's peer endpoints, the WAN's peer, HostIO's sockets (as the IPv4
// case of `SocketAddress`), `sluice wg up` and the lab. An IPv6 counterpart would sit beside it
// (and HostIO's `SocketAddress` already carries either family to the kernel).

/// An IPv4 address and a UDP (or TCP) port, in host byte order. Trivial, 8 bytes.
public struct SocketAddressV4: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    @inlinable public init(address: IPv4Address, port: UInt16) { self.address = address; self.port = port }

    /// Parses "a.b.c.d:port"; nil for anything else.
    public init?(_ text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]),
              let address = IPv4Address(text[..<colon]) else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String { "\(address):\(port)" }
}
