// Later fragments of translated datagrams (RFC 4787 REQ-14, RFC 5508 REQ-9's concern for ICMP).
//
// Only the first fragment carries the ports, so only it can be matched to a mapping. Later
// fragments need just their address rewritten: outbound, that is always the external address,
// so they need no state and may come in any order. Inbound, the internal address is learned from
// the datagram's first fragment: RFC 791 §3.2 names a datagram by "source, destination, protocol,
// and identifier", and this table remembers that name → internal address for a while. Later
// fragments that arrive before their first are dropped: REQ-14 ("MUST support receiving
// in-order and out-of-order fragments") is met for in-order fragments only.
//
// A small ring, searched linearly (only fragments look here), overwritten oldest first; fixed at
// start, so it never allocates and its behaviour never depends on hash order.
import Basics

struct NATFragmentTable {
    struct Entry {
        var remote: UInt32
        var internalAddress: UInt32
        var identification: UInt16
        var proto: UInt8
        var expires: Instant
    }

    private var entries: [Entry]
    private var next = 0
    let lifetime: Duration

    init(capacity: Int, lifetime: Duration) {
        entries = Array(repeating: Entry(remote: 0, internalAddress: 0, identification: 0, proto: 0, expires: .zero),
                        count: capacity)
        self.lifetime = lifetime
    }

    private func find(_ remote: UInt32, _ identification: UInt16, _ proto: UInt8) -> Int? {
        for i in entries.indices {
            let e = entries[i]
            if e.remote == remote, e.identification == identification, e.proto == proto { return i }
        }
        return nil
    }

    /// Remembers that the datagram (`remote`, external address, `proto`, `identification`) is for `internalAddress`.
    mutating func record(remote: UInt32, identification: UInt16, proto: UInt8, internalAddress: UInt32, now: Instant) {
        let entry = Entry(remote: remote, internalAddress: internalAddress, identification: identification, proto: proto,
                          expires: now + lifetime)
        if let i = find(remote, identification, proto) { entries[i] = entry; return }
        entries[next] = entry
        next = next + 1 == entries.count ? 0 : next + 1
    }

    /// The internal address of a datagram whose first fragment was translated, if remembered and fresh.
    func internalAddress(remote: UInt32, identification: UInt16, proto: UInt8, now: Instant) -> UInt32? {
        guard let i = find(remote, identification, proto), entries[i].expires > now else { return nil }
        return entries[i].internalAddress
    }
}
