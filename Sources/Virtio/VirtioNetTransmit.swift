// virtio-net packet transmission, device side — OASIS virtio 1.2 §5.1.6.2.
//
// Each transmit chain is a virtio-net header followed by one frame, in device-readable buffers
// framed any way the driver likes ("The device MUST NOT make assumptions about the particular
// arrangement of descriptors", §2.7.4). A frame in one segment is handed over in place (zero
// copies); a frame spread over several is gathered into the pair's gather space.

/// A frame taken from the transmit queue, not yet returned to the guest.
@usableFromInline
struct VirtioNetPendingTransmit {
    /// The chain to return (used length 0: the device writes nothing into transmit buffers).
    @usableFromInline var head: UInt16
    @usableFromInline var header: VirtioNetHeader
    /// The frame (header stripped), or nil when it is dropped.
    @usableFromInline var frame: UnsafeRawBufferPointer?

    @inlinable init(head: UInt16, header: VirtioNetHeader, frame: UnsafeRawBufferPointer?) {
        self.head = head
        self.header = header
        self.frame = frame
    }
}

/// The transmit half of a queue pair: the queue, its chain scratch and its counters.
@usableFromInline
struct VirtioNetTransmitter<Memory: GuestMemory>: ~Copyable {
    @usableFromInline var queue: SplitVirtqueue<Memory>
    @usableFromInline var chain: VirtqChain
    @usableFromInline let headerSize: Int
    @usableFromInline let features: VirtioFeatures
    /// Owned by the pair.
    @usableFromInline let gather: UnsafeMutableRawBufferPointer
    @usableFromInline var frames: UInt64 = 0
    @usableFromInline var bytes: UInt64 = 0
    @usableFromInline var oversize: UInt64 = 0
    @usableFromInline var offloadRejected: UInt64 = 0

    init(queue: SplitVirtqueue<Memory>, chain: consuming VirtqChain, headerSize: Int, features: VirtioFeatures,
         gather: UnsafeMutableRawBufferPointer) {
        self.queue = queue
        self.chain = chain
        self.headerSize = headerSize
        self.features = features
        self.gather = gather
    }

    /// Returns the chain `finished` (if any) to the guest, then pops the next transmit chain and
    /// locates its frame; nil when the queue is empty or broken. (Both in one call: one access.)
    @inlinable
    mutating func next(returning finished: UInt16?) -> VirtioNetPendingTransmit? {
        if let finished { queue.pushUsed(head: finished, length: 0) }
        guard queue.popAvailable(into: &chain), let header = readHeader() else { return nil }
        let length = chain.readableLength - headerSize
        var frame: UnsafeRawBufferPointer? = nil
        if !header.isAcceptableOnTransmit(features: features) {
            offloadRejected &+= 1
        } else if let view = chain.readableContiguous(from: headerSize, count: length) {
            frame = view
        } else if length <= gather.count {
            let n = chain.gatherReadable(into: gather, from: headerSize)
            frame = UnsafeRawBufferPointer(rebasing: gather[0..<n])
        } else {
            oversize &+= 1
        }
        if let frame {
            frames &+= 1
            bytes &+= UInt64(frame.count)
        }
        return VirtioNetPendingTransmit(head: chain.head, header: header, frame: frame)
    }

    /// Pops the next transmit chain, copies its frame into `buffer` and returns the chain.
    @inlinable
    mutating func next(into buffer: UnsafeMutableRawBufferPointer) -> VirtioNetTransmitOutcome {
        guard queue.popAvailable(into: &chain), let header = readHeader() else {
            if let reason = queue.brokenReason { return .queueBroken(reason) }
            return .empty
        }
        let length = chain.readableLength - headerSize
        let outcome: VirtioNetTransmitOutcome
        if !header.isAcceptableOnTransmit(features: features) {
            offloadRejected &+= 1
            outcome = .offloadNotNegotiated
        } else if length <= buffer.count {
            _ = chain.gatherReadable(into: buffer, from: headerSize)
            frames &+= 1
            bytes &+= UInt64(length)
            outcome = .frame(header: header, length: length)
        } else {
            oversize &+= 1
            outcome = .tooLarge(length: length)
        }
        queue.pushUsed(head: chain.head, length: 0)
        return outcome
    }

    /// Checks the popped chain and reads its header; nil (and the queue broken) when it is not a
    /// transmit chain.
    @inlinable
    mutating func readHeader() -> VirtioNetHeader? {
        // A transmit queue is device-read-only: a writable buffer is where a readable one was required.
        guard chain.writableLength == 0 else {
            queue.markBroken(.unexpectedWritable)
            return nil
        }
        // "the packet itself is preceded by a header" (§5.1.6); QEMU treats a shorter chain as a
        // device error too.
        guard chain.readableLength >= headerSize else {
            queue.markBroken(.truncatedNetHeader(length: chain.readableLength))
            return nil
        }
        if let view = chain.readableContiguous(from: 0, count: headerSize) {
            return VirtioNetHeader(parsing: view, size: headerSize)
        }
        var raw: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &raw) { bytes in
            _ = chain.gatherReadable(into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<headerSize]), from: 0)
            return VirtioNetHeader(parsing: UnsafeRawBufferPointer(bytes), size: headerSize)
        }
    }
}

extension VirtioNetQueuePair {
    /// Takes up to `limit` frames from the transmit queue, calls `deliver(header, frame)` for each
    /// (the frame excludes the header and is valid only during the call), returns the chains to the
    /// guest and decides once whether to notify it. `deliver` may hand the frame to this pair's
    /// `receive` (a loop back), but must not call `transmit` on it.
    @inlinable
    public func transmit(limit: Int, _ deliver: (VirtioNetHeader, UnsafeRawBufferPointer) -> Void) -> VirtioNetTransmitBatch {
        var batch = VirtioNetTransmitBatch()
        var finished: UInt16? = nil
        while true {
            guard batch.frames + batch.dropped < limit else {
                batch.reachedLimit = true
                if let finished { transmitter.queue.pushUsed(head: finished, length: 0) }
                break
            }
            guard let pending = transmitter.next(returning: finished) else { break }
            if let frame = pending.frame {
                batch.frames += 1
                deliver(pending.header, frame)
            } else {
                batch.dropped += 1
            }
            finished = pending.head
        }
        batch.notifyGuest = transmitter.queue.shouldNotifyGuest()
        return batch
    }

    /// Takes one frame from the transmit queue and copies it (header stripped) into `buffer`.
    /// Call `finishTransmitBatch()` after the last one of a batch.
    @inlinable
    public func transmit(into buffer: UnsafeMutableRawBufferPointer) -> VirtioNetTransmitOutcome {
        transmitter.next(into: buffer)
    }

    /// Publishes the used transmit chains; true when the guest asked to be notified.
    @inlinable
    public func finishTransmitBatch() -> Bool {
        transmitter.queue.shouldNotifyGuest()
    }
}
