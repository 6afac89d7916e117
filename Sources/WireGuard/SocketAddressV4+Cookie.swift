// A peer's outer address is Wire's `SocketAddressV4`; the cookie (§5.4.7) is computed over it.

import Wire

extension SocketAddressV4 {
    /// The bytes the cookie is computed over (whitepaper §5.4.7: "Am ... the concatenation of the external IP
    /// source address and UDP source port"): four address bytes and the port, both big-endian.
    var cookieBytes: [UInt8] {
        let a = address.rawValue
        return [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF),
                UInt8(port >> 8), UInt8(port & 0xFF)]
    }
}
