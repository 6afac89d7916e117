// Frames a host has produced and the driver has not yet taken, back to back in one byte array
// whose capacity is kept between drains: in steady state, emitting a frame allocates nothing.

import Wire

/// A FIFO of frames in one contiguous buffer. `bytes` only grows (doubling); `used` says how much
/// of it holds frames, so emitting never appends or removes elements one by one.
struct OutgoingFrames {
    private var bytes: [UInt8] = []
    private var used = 0
    /// End offset of each frame in `bytes`.
    private var ends: [Int] = []

    var count: Int { ends.count }
    var isEmpty: Bool { ends.isEmpty }

    /// Makes room for `extra` more bytes after `used`.
    private mutating func reserve(_ extra: Int) {
        let needed = used + extra
        guard bytes.count < needed else { return }
        // One zeroed array and a copy (appending `repeatElement` costs a call per byte unoptimized).
        var grown = [UInt8](repeating: 0, count: max(needed, 2 * bytes.count))
        grown.withUnsafeMutableBytes { to in bytes.withUnsafeBytes { to.copyBytes($0, at: 0) } }
        bytes = grown
    }

    /// Reserves `maximumLength` bytes, lets `body` write a frame into them, and keeps the bytes it
    /// reports. Nothing is kept if `body` throws.
    mutating func emit(maximumLength: Int, _ body: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) throws(WireError) -> Int {
        reserve(maximumLength)
        let start = used
        let result: Result<Int, WireError> = bytes.withUnsafeMutableBytes { all in
            do throws(WireError) {
                return .success(try body(all.slice(start..<start + maximumLength)))
            } catch {
                return .failure(error)
            }
        }
        let written = try result.get()
        used += min(max(written, 0), maximumLength)
        ends.append(used)
        return written
    }

    /// Appends a complete frame.
    mutating func append(_ frame: [UInt8]) {
        reserve(frame.count)
        let start = used
        frame.withUnsafeBytes { source in bytes.withUnsafeMutableBytes { all in all.copyBytes(source, at: start) } }
        used += frame.count
        ends.append(used)
    }

    /// Calls `body` with each frame in order, then empties the queue (keeping its capacity).
    mutating func drain(_ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            // An index loop: `for end in ends` allocates an iterator box per frame in unoptimized builds.
            var start = 0, i = 0
            while i < ends.count {
                let end = ends[i]
                body(all.slice(start..<end))
                start = end
                i += 1
            }
        }
        used = 0
        ends.removeAll(keepingCapacity: true)
    }
}
