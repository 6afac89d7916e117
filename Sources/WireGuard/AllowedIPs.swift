// Whitepaper §2 (cryptokey routing): each peer owns a set of allowed source IPs; outgoing packets go to the peer
// whose allowed IPs contain the destination by longest-prefix match, and an incoming packet is accepted only if
// its source is in the sending peer's allowed IPs. A binary trie over IPv4 addresses (wireguard-go allowedips.go
// uses a compressed trie); nodes live in one array, so a lookup is at most 32 steps and allocates nothing.

import Wire

/// IPv4 allowed-IPs: networks mapped to peer numbers, longest prefix wins.
public struct AllowedIPs: Sendable {
    struct Node: Sendable {
        var zero: Int32 = -1
        var one: Int32 = -1
        var peer: Int32 = -1
    }
    var nodes: [Node] = [Node()]

    public init() {}

    /// Routes `network` to `peer`; a network already present moves to the new peer (as in wireguard-go).
    public mutating func insert(_ network: IPv4Network, peer: Int) {
        let address = network.address.rawValue
        var node = 0
        for depth in 0..<network.prefixLength {
            let bit = address >> (31 - UInt32(depth)) & 1
            var child = bit == 0 ? nodes[node].zero : nodes[node].one
            if child < 0 {
                nodes.append(Node())
                child = Int32(nodes.count - 1)
                if bit == 0 { nodes[node].zero = child } else { nodes[node].one = child }
            }
            node = Int(child)
        }
        nodes[node].peer = Int32(peer)
    }

    /// Removes every network routed to `peer`.
    public mutating func remove(peer: Int) {
        for i in nodes.indices where nodes[i].peer == Int32(peer) { nodes[i].peer = -1 }
    }

    /// The peer whose network most specifically contains `address`.
    @inlinable public func lookup(_ address: IPv4Address) -> Int? {
        lookupRaw(address.rawValue)
    }

    @usableFromInline func lookupRaw(_ address: UInt32) -> Int? {
        nodes.withUnsafeBufferPointer { n in
            var best: Int32 = n[0].peer
            var node = 0
            for depth in 0..<32 {
                let child = address >> (31 - UInt32(depth)) & 1 == 0 ? n[node].zero : n[node].one
                if child < 0 { break }
                node = Int(child)
                if n[node].peer >= 0 { best = n[node].peer }
            }
            return best >= 0 ? Int(best) : nil
        }
    }

    /// The networks routed to `peer`, in address order.
    public func networks(of peer: Int) -> [IPv4Network] {
        var out: [IPv4Network] = []
        func walk(_ node: Int, _ prefix: UInt32, _ depth: Int) {
            if nodes[node].peer == Int32(peer) {
                out.append(IPv4Network(address: IPv4Address(rawValue: prefix), prefixLength: depth)!)
            }
            guard depth < 32 else { return }
            if nodes[node].zero >= 0 { walk(Int(nodes[node].zero), prefix, depth + 1) }
            if nodes[node].one >= 0 { walk(Int(nodes[node].one), prefix | 1 << (31 - UInt32(depth)), depth + 1) }
        }
        walk(0, 0, 0)
        return out
    }
}
