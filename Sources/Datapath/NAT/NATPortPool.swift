// The external ports (and ICMP query identifiers) of the NAT, per protocol: who holds each, and
// how a new mapping gets one.
//
// RFC 4787 §4.2.1 / REQ-3: no "port overloading" — one port, one mapping, per protocol.
// Port preservation: the internal port is kept when it lies in the range and is free.
// RFC 4787 REQ-4: "It is RECOMMENDED that a NAT have a 'Port parity preservation' behavior of
// 'Yes'" — otherwise a port of the internal port's parity is preferred.
// RFC 4787 REQ-11 wants deterministic behaviour: without an injected `SeededRandom`, the search
// starts where the last one ended (next fit); with one, at a random point of the range
// (RFC 6056's advice against guessable ports), reproducibly for a given seed.
import Basics

/// Who holds each external port, per protocol. Owners are mapping numbers. Its owner (the
/// table) frees the memory with `deallocate()`.
struct NATPortPool {
    /// Never held, or released by other than a timeout.
    static let free: Int32 = -1
    /// Released when its mapping timed out (and not handed out since): late packets count as `expired`.
    static let expired: Int32 = -2

    let low: Int
    let count: Int
    private let owners: UnsafeMutableBufferPointer<Int32>
    private(set) var available: (Int, Int, Int)
    private var cursor = (0, 0, 0)
    private var random: SeededRandom?

    init(range: ClosedRange<UInt16>, random: SeededRandom?) {
        low = Int(range.lowerBound)
        count = Int(range.upperBound) - low + 1
        owners = .allocate(capacity: 3 * count)
        owners.initialize(repeating: Self.free)
        available = (count, count, count)
        self.random = random
    }

    func deallocate() { owners.deallocate() }

    /// The holder of `port` for `proto` (`free` or `expired` when none; `free` outside the range).
    @inline(__always) func owner(_ proto: NATProtocol, _ port: UInt16) -> Int32 {
        let offset = Int(port) - low
        guard offset >= 0, offset < count else { return Self.free }
        return owners[proto.index * count + offset]
    }

    /// Free ports left for `proto`.
    func availableCount(_ proto: NATProtocol) -> Int {
        switch proto.index { case 0: available.0; case 1: available.1; default: available.2 }
    }

    private mutating func adjustAvailable(_ proto: NATProtocol, by delta: Int) {
        switch proto.index { case 0: available.0 += delta; case 1: available.1 += delta; default: available.2 += delta }
    }

    /// Picks a free port for a new mapping of internal port `preferred`, or nil if none is left.
    /// The port is not taken until `assign`.
    mutating func choose(_ proto: NATProtocol, preferring preferred: UInt16) -> UInt16? {
        guard availableCount(proto) > 0 else { return nil }
        let base = proto.index * count
        let preferredOffset = Int(preferred) - low
        // Port preservation.
        if preferredOffset >= 0, preferredOffset < count, owners[base + preferredOffset] < 0 { return preferred }
        let start: Int
        if random != nil {
            start = Int(random!.next() % UInt64(count))
        } else {
            switch proto.index { case 0: start = cursor.0; case 1: start = cursor.1; default: start = cursor.2 }
        }
        // First pass: ports of the preferred parity only; second: any.
        let parity = Int(preferred) & 1
        for pass in 0..<2 {
            for step in 0..<count {
                let offset = start &+ step < count ? start &+ step : start &+ step &- count
                if pass == 0, (low &+ offset) & 1 != parity { continue }
                if owners[base + offset] < 0 {
                    let next = offset + 1 == count ? 0 : offset + 1
                    switch proto.index { case 0: cursor.0 = next; case 1: cursor.1 = next; default: cursor.2 = next }
                    return UInt16(low + offset)
                }
            }
        }
        return nil
    }

    /// Hands `port` (free, in range) to `mapping`.
    mutating func assign(_ proto: NATProtocol, _ port: UInt16, to mapping: Int32) {
        owners[proto.index * count + Int(port) - low] = mapping
        adjustAvailable(proto, by: -1)
    }

    /// Takes `port` back; `timedOut` marks it so late packets are told apart from strangers.
    mutating func release(_ proto: NATProtocol, _ port: UInt16, timedOut: Bool) {
        owners[proto.index * count + Int(port) - low] = timedOut ? Self.expired : Self.free
        adjustAvailable(proto, by: 1)
    }
}
