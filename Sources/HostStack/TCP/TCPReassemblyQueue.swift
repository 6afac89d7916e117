// Receive-side reassembly (RFC 9293 §3.10.7.4 "seventh": segments beyond RCV.NXT "may be held
// for later processing") and the SACK blocks that describe what is held (RFC 2018 §4: "the first
// SACK block ... MUST specify the contiguous block of data containing the segment which triggered
// this ACK"; the others repeat the most recently reported blocks).

/// Out-of-order data above RCV.NXT, sorted, non-overlapping.
struct TCPReassemblyQueue: Sendable {
    struct Piece: Sendable {
        var start: TCPSequenceNumber
        var bytes: [UInt8]
        /// When it arrived (a counter), for SACK block order.
        var arrival: Int
        var end: TCPSequenceNumber { start + bytes.count }
    }

    private(set) var pieces: [Piece] = []
    private var arrivals = 0
    /// Bytes held.
    private(set) var byteCount = 0

    var isEmpty: Bool { pieces.isEmpty }

    /// Pieces held at most: the window bounds the bytes, this bounds the bookkeeping a peer
    /// sending many tiny out-of-order segments could make us keep.
    static let pieceLimit = 2048

    /// Holds `bytes` at `start` (above `rcvNxt`), keeping only what no held piece covers already.
    /// Returns false (holding nothing) when `pieceLimit` pieces are held.
    @discardableResult
    mutating func insert(_ bytes: UnsafeRawBufferPointer, at start: TCPSequenceNumber) -> Bool {
        guard pieces.count < Self.pieceLimit else { return false }
        arrivals += 1
        var start = start
        var data = bytes
        // Walk the sorted pieces, cutting `data` into the gaps between them.
        var i = 0
        while !data.isEmpty {
            let end = start + data.count
            // Skip pieces entirely before us.
            while i < pieces.count, !(start < pieces[i].end) { i += 1 }
            if i == pieces.count || !(pieces[i].start < end) {
                insertPiece(Piece(start: start, bytes: Array(data), arrival: arrivals), at: i)
                return true
            }
            if start < pieces[i].start {
                // The part before piece i.
                let n = pieces[i].start - start
                insertPiece(Piece(start: start, bytes: Array(data[0..<n]), arrival: arrivals), at: i)
                i += 1
                data = UnsafeRawBufferPointer(rebasing: data[n...])
                start = start + n
            }
            // Overlap with piece i: skip what it covers and mark it fresh.
            pieces[i].arrival = arrivals
            let covered = min(pieces[i].end - start, data.count)
            data = UnsafeRawBufferPointer(rebasing: data[covered...])
            start = start + covered
        }
        return true
    }

    private mutating func insertPiece(_ piece: Piece, at index: Int) {
        byteCount += piece.bytes.count
        pieces.insert(piece, at: index)
    }

    /// Removes and hands over, in order, the bytes that now continue `rcvNxt`; returns the new RCV.NXT.
    mutating func deliver(after rcvNxt: TCPSequenceNumber, _ body: (UnsafeRawBufferPointer) -> Void) -> TCPSequenceNumber {
        var next = rcvNxt
        while let first = pieces.first, !(next < first.start) {
            pieces.removeFirst()
            byteCount -= first.bytes.count
            guard next < first.end else { continue }
            let skip = next - first.start
            first.bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[skip...])) }
            next = first.end
        }
        return next
    }

    /// Up to `limit` SACK blocks: contiguous held ranges, most recently touched first.
    func sackBlocks(limit: Int) -> [(left: TCPSequenceNumber, right: TCPSequenceNumber, arrival: Int)] {
        var blocks: [(left: TCPSequenceNumber, right: TCPSequenceNumber, arrival: Int)] = []
        for p in pieces {
            if let last = blocks.last, last.right == p.start {
                blocks[blocks.count - 1].right = p.end
                blocks[blocks.count - 1].arrival = max(last.arrival, p.arrival)
            } else {
                blocks.append((p.start, p.end, p.arrival))
            }
        }
        blocks.sort { $0.arrival > $1.arrival }
        return Array(blocks.prefix(limit))
    }

    mutating func removeAll() { pieces.removeAll(); byteCount = 0 }
}
