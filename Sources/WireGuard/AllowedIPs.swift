// Whitepaper §2 (cryptokey routing): each peer owns a set of allowed source IPs; outgoing packets go to the peer
// whose allowed IPs contain the destination by longest-prefix match, and an incoming packet is accepted only if
// its source is in the sending peer's allowed IPs. A path-compressed binary trie over IPv4 addresses (as
// wireguard-go's allowedips.go): every node holds a whole prefix, so a chain of single-child nodes collapses into
// one and a lookup visits one node per branching point — a device whose peers own one /32 each resolves an
// address in two steps, not 32. Nodes live in one array; a lookup allocates nothing.

import Wire

/// IPv4 allowed-IPs: networks mapped to peer numbers, longest prefix wins.
public struct AllowedIPs: Sendable {
    /// A prefix (`key`, the first `bits` bits; the rest zero) with the peer it is routed to, if any, and the
    /// subtrees of longer prefixes whose bit `bits` is 0 and 1.
    struct Node: Sendable {
        var key: UInt32
        var mask: UInt32
        var bits: UInt8
        var peer: Int32 = -1
        var zero: Int32 = -1
        var one: Int32 = -1

        init(key: UInt32, bits: Int, peer: Int32) {
            self.mask = Self.mask(bits)
            self.key = key & mask
            self.bits = UInt8(bits)
            self.peer = peer
        }

        static func mask(_ bits: Int) -> UInt32 { bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits) }

        /// Which subtree of this node `address` belongs in (bit `bits`, counting from the most significant).
        /// Only meaningful below /32.
        @inline(__always) func child(for address: UInt32) -> Int32 {
            address & (UInt32(0x8000_0000) >> UInt32(bits)) == 0 ? zero : one
        }
    }
    var nodes: [Node] = []
    var root: Int32 = -1

    public init() {}

    /// Routes `network` to `peer`; a network already present moves to the new peer (as in wireguard-go).
    public mutating func insert(_ network: IPv4Network, peer: Int) {
        let bits = network.prefixLength
        let key = network.address.rawValue & Node.mask(bits)
        let peer = Int32(peer)
        // `link` is where the node being looked at hangs: the root (-1) or a child slot of node `parent`.
        var parent: Int32 = -1, parentBitIsOne = false
        var index = root
        func attach(_ new: Int32, _ nodes: inout [Node], _ root: inout Int32) {
            if parent < 0 { root = new } else if parentBitIsOne { nodes[Int(parent)].one = new } else { nodes[Int(parent)].zero = new }
        }
        while true {
            if index < 0 {
                nodes.append(Node(key: key, bits: bits, peer: peer))
                attach(Int32(nodes.count - 1), &nodes, &root)
                return
            }
            let node = nodes[Int(index)]
            let common = min((key ^ node.key).leadingZeroBitCount, bits, Int(node.bits))
            if common == Int(node.bits) {
                // The node's prefix contains the network: it is the node, or the network lies below it.
                if bits == common { nodes[Int(index)].peer = peer; return }
                parent = index
                parentBitIsOne = key & (UInt32(0x8000_0000) >> UInt32(common)) != 0
                index = parentBitIsOne ? node.one : node.zero
                continue
            }
            // The network and the node part before the node's prefix ends: a new node goes above it — the network
            // itself when it contains the node, otherwise a branching point for their common prefix.
            let nodeBitIsOne = node.key & (UInt32(0x8000_0000) >> UInt32(common)) != 0
            var above = Node(key: key, bits: common, peer: common == bits ? peer : -1)
            let new = Int32(nodes.count)
            if common == bits {
                if nodeBitIsOne { above.one = index } else { above.zero = index }
                nodes.append(above)
            } else {
                let leaf = Int32(nodes.count + 1)
                if nodeBitIsOne { above.one = index; above.zero = leaf } else { above.zero = index; above.one = leaf }
                nodes.append(above)
                nodes.append(Node(key: key, bits: bits, peer: peer))
            }
            attach(new, &nodes, &root)
            return
        }
    }

    /// Removes every network routed to `peer`.
    public mutating func remove(peer: Int) {
        for i in nodes.indices where nodes[i].peer == Int32(peer) { nodes[i].peer = -1 }
    }

    /// Every network with its peer, in address order (one walk for all peers).
    public var entries: [(network: IPv4Network, peer: Int)] {
        var out: [(network: IPv4Network, peer: Int)] = []
        func walk(_ index: Int32) {
            guard index >= 0 else { return }
            let node = nodes[Int(index)]
            if node.peer >= 0 {
                out.append((IPv4Network(address: IPv4Address(rawValue: node.key), prefixLength: Int(node.bits))!, Int(node.peer)))
            }
            walk(node.zero)
            walk(node.one)
        }
        walk(root)
        return out
    }

    /// The same routes rebuilt from scratch, without the empty nodes `remove(peer:)` leaves (each network belongs to
    /// one peer, so the rebuilt table routes every address as before); `self` when there are few of those.
    public func compacted() -> AllowedIPs {
        let live = nodes.reduce(0) { $0 + ($1.peer >= 0 ? 1 : 0) }
        guard nodes.count > 64, nodes.count > 2 * live else { return self }
        var out = AllowedIPs()
        for (network, owner) in entries { out.insert(network, peer: owner) }
        return out
    }

    /// The peer whose network most specifically contains `address`.
    @inlinable public func lookup(_ address: IPv4Address) -> Int? {
        lookupRaw(address.rawValue)
    }

    /// `lookup` on a raw address (host byte order); the per-packet form.
    @usableFromInline func lookupRaw(_ address: UInt32) -> Int? {
        nodes.withUnsafeBufferPointer { n in
            var best: Int32 = -1
            var index = root
            while index >= 0 {
                let node = n[Int(index)]
                if (address ^ node.key) & node.mask != 0 { break }
                if node.peer >= 0 { best = node.peer }
                if node.bits == 32 { break }
                index = node.child(for: address)
            }
            return best >= 0 ? Int(best) : nil
        }
    }

    /// The networks routed to `peer`, in address order (a network before the longer ones inside it).
    public func networks(of peer: Int) -> [IPv4Network] {
        var out: [IPv4Network] = []
        func walk(_ index: Int32) {
            guard index >= 0 else { return }
            let node = nodes[Int(index)]
            if node.peer == Int32(peer) {
                out.append(IPv4Network(address: IPv4Address(rawValue: node.key), prefixLength: Int(node.bits))!)
            }
            walk(node.zero)
            walk(node.one)
        }
        walk(root)
        return out
    }
}
