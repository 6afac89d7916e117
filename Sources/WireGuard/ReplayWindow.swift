// Whitepaper §5.4.6: "the receiver ... must keep track of the received counters and reject replays, using a
// sliding window" — the RFC 6479 algorithm, as wireguard-go's replay/replay.go and the Linux kernel implement it:
// a ring of 64-bit blocks; moving the window forward clears whole blocks. 32 blocks = a 2048-bit bitmap,
// accepting counters up to 2048 − 64 = 1984 behind the highest seen (the kernel's COUNTER_WINDOW_SIZE).

/// A sliding anti-replay window over 64-bit message counters. Fixed storage; no allocation per packet.
public struct ReplayWindow: Sendable {
    @usableFromInline static let blockBitLog = 6
    @usableFromInline static let blockBits = 1 << blockBitLog
    /// 32 blocks of 64 bits: 2048 bits in all.
    public static let ringBlocks = 32
    /// How far behind the highest counter a packet may be and still be accepted.
    public static let windowSize: UInt64 = UInt64((ringBlocks - 1) * blockBits)

    @usableFromInline var last: UInt64 = 0
    @usableFromInline var ring: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                 UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                 UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                 UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}

    /// Accepts `counter` once: false if it was seen, is too old, or is at or past `limit`.
    @inlinable @inline(__always) public mutating func validate(_ counter: UInt64, limit: UInt64) -> Bool {
        guard counter < limit else { return false }
        let mask = UInt64(Self.ringBlocks - 1)
        var indexBlock = counter >> UInt64(Self.blockBitLog)
        return withUnsafeMutableBytes(of: &ring) { raw in
            let ring = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
            if counter > last {
                // Move the window forward, clearing the blocks it passes over (at most the whole ring).
                let current = last >> UInt64(Self.blockBitLog)
                let diff = min(indexBlock - current, UInt64(Self.ringBlocks))
                var i = current + 1
                while i <= current + diff { ring[Int(i & mask)] = 0; i += 1 }
                last = counter
            } else if last - counter > Self.windowSize {
                return false
            }
            indexBlock &= mask
            let bit = UInt64(1) << (counter & UInt64(Self.blockBits - 1))
            let old = ring[Int(indexBlock)]
            ring[Int(indexBlock)] = old | bit
            return old & bit == 0
        }
    }

    /// True if `counter` would be accepted now (no state change) — a cheap check before decrypting.
    @inlinable @inline(__always) public func wouldAccept(_ counter: UInt64, limit: UInt64) -> Bool {
        guard counter < limit else { return false }
        if counter > last { return true }
        if last - counter > Self.windowSize { return false }
        let mask = UInt64(Self.ringBlocks - 1)
        return withUnsafeBytes(of: ring) { raw in
            let word = raw.load(fromByteOffset: Int((counter >> UInt64(Self.blockBitLog)) & mask) * 8, as: UInt64.self)
            return word & (UInt64(1) << (counter & UInt64(Self.blockBits - 1))) == 0
        }
    }
}
