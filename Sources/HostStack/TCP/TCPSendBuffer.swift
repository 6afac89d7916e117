// The send buffer (RFC 9293 §3.3.1 "Send Sequence Space"): bytes the application queued, from
// SND.UNA on, kept until acknowledged so any of them can be sent again. The same structure holds
// received bytes until the application reads them. One array of twice the capacity, allocated on
// first use (a half-open connection holds none), with a moving head and tail; the held bytes are
// moved to the front when the tail reaches the end, at most once per `capacity` bytes appended.
// A segment's payload is always contiguous, and steady-state sending allocates nothing.

/// Bytes from the oldest unacknowledged (or unread) one on.
struct TCPSendBuffer: Sendable {
    private var storage: [UInt8] = []
    private var head = 0
    private var tail = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    /// Bytes held.
    var count: Int { tail - head }
    var freeSpace: Int { capacity - count }

    /// Makes `n` (≤ freeSpace) bytes of room after the tail.
    private mutating func makeRoom(_ n: Int) {
        if storage.isEmpty { storage = [UInt8](repeating: 0, count: 2 * capacity) }
        guard tail + n > storage.count else { return }
        let held = count
        storage.withUnsafeMutableBytes { all in
            all.copyBytes(UnsafeRawBufferPointer(all.slice(head..<tail)), at: 0)
        }
        head = 0
        tail = held
    }

    /// Appends as much of `bytes` as fits; returns how many.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, freeSpace)
        guard n > 0 else { return 0 }
        makeRoom(n)
        let at = tail
        storage.withUnsafeMutableBytes { $0.copyBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<n]), at: at) }
        tail += n
        return n
    }

    /// Appends `n` bytes of `TCPBulkPattern` for stream offsets `offset...`; returns how many fit.
    mutating func appendPattern(count n: Int, streamOffset offset: UInt64) -> Int {
        let n = min(n, freeSpace)
        guard n > 0 else { return 0 }
        makeRoom(n)
        let at = tail
        storage.withUnsafeMutableBytes { TCPBulkPattern.fill($0.slice(at..<at + n), streamOffset: offset) }
        tail += n
        return n
    }

    /// Forgets the first `n` bytes (acknowledged, or read).
    mutating func removeFirst(_ n: Int) {
        head += min(max(n, 0), count)
        if head == tail { head = 0; tail = 0 }
    }

    /// Calls `body` with `length` bytes starting `offset` bytes after the first held byte.
    func withBytes<R>(offset: Int, length: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(offset >= 0 && length >= 0 && offset + length <= count)
        if length == 0 { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return storage.withUnsafeBytes { body($0.slice(head + offset..<head + offset + length)) }
    }
}
