// Frames a host has produced and the driver has not yet taken, back to back in one byte array
// whose capacity is kept between drains: in steady state, emitting a frame allocates nothing.

import Wire

/// A FIFO of frames in one contiguous buffer.
struct OutgoingFrames {
    private var bytes: [UInt8] = []
    /// End offset of each frame in `bytes`.
    private var ends: [Int] = []

    var count: Int { ends.count }
    var isEmpty: Bool { ends.isEmpty }

    /// Reserves `maximumLength` bytes, lets `body` write a frame into them, and keeps the bytes it
    /// reports. Nothing is kept if `body` throws.
    mutating func emit(maximumLength: Int, _ body: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) throws(WireError) -> Int {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: maximumLength))
        let result: Result<Int, WireError> = bytes.withUnsafeMutableBytes { all in
            do throws(WireError) {
                return .success(try body(all.slice(start..<start + maximumLength)))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let written):
            bytes.removeLast(maximumLength - min(max(written, 0), maximumLength))
            ends.append(bytes.count)
            return written
        case .failure(let error):
            bytes.removeLast(maximumLength)
            throw error
        }
    }

    /// Appends a complete frame.
    mutating func append(_ frame: [UInt8]) {
        bytes.append(contentsOf: frame)
        ends.append(bytes.count)
    }

    /// Calls `body` with each frame in order, then empties the queue (keeping its capacity).
    mutating func drain(_ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            var start = 0
            for end in ends {
                body(all.slice(start..<end))
                start = end
            }
        }
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }
}
