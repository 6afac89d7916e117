// The outer address of a peer: an opaque IPv4 + UDP port value. No sockets here; the driver owns those.

import Wire

/// Where a peer's datagrams come from and go to.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(address: IPv4Address, port: UInt16) { self.address = address; self.port = port }

    /// The bytes the cookie is computed over (whitepaper §5.4.7: "Am ... the concatenation of the external IP
    /// source address and UDP source port"): four address bytes and the port, both big-endian.
    var cookieBytes: [UInt8] {
        let a = address.rawValue
        return [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF),
                UInt8(port >> 8), UInt8(port & 0xFF)]
    }

    public var description: String { "\(address):\(port)" }
}
