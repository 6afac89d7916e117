// The send buffer (RFC 9293 §3.3.1 "Send Sequence Space"): bytes the application queued, from
// SND.UNA on, kept until acknowledged so any of them can be sent again. One array with a moving
// head that is compacted now and then, so a segment's payload is always contiguous and steady-state
// sending allocates nothing.

/// Queued bytes from the oldest unacknowledged one on.
struct TCPSendBuffer: Sendable {
    private var storage: [UInt8] = []
    private var head = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    /// Bytes held (sent and unacknowledged, plus not yet sent).
    var count: Int { storage.count - head }
    var freeSpace: Int { capacity - count }

    /// Appends as much of `bytes` as fits; returns how many.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, freeSpace)
        guard n > 0 else { return 0 }
        compactIfWorthwhile()
        storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
        return n
    }

    /// Appends `n` bytes of `TCPBulkPattern` for stream offsets `offset...`; returns how many fit.
    mutating func appendPattern(count n: Int, streamOffset offset: UInt64) -> Int {
        let n = min(n, freeSpace)
        guard n > 0 else { return 0 }
        compactIfWorthwhile()
        let start = storage.count
        storage.append(contentsOf: repeatElement(0, count: n))
        storage.withUnsafeMutableBytes { all in
            TCPBulkPattern.fill(all.slice(start..<start + n), streamOffset: offset)
        }
        return n
    }

    /// Forgets the first `n` bytes (acknowledged).
    mutating func removeFirst(_ n: Int) {
        head += min(max(n, 0), count)
        if head == storage.count { storage.removeAll(keepingCapacity: true); head = 0 }
    }

    /// Calls `body` with `length` bytes starting `offset` bytes after the first held byte.
    func withBytes<R>(offset: Int, length: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(offset >= 0 && length >= 0 && offset + length <= count)
        return storage.withUnsafeBytes { body($0.slice(head + offset..<head + offset + length)) }
    }

    private mutating func compactIfWorthwhile() {
        if head >= 65536, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }
}
