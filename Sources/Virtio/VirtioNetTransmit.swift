// virtio-net packet transmission, device side — OASIS virtio 1.2 §5.1.6.2.
//
// Each transmit chain is a virtio-net header followed by one frame, in device-readable buffers
// framed any way the driver likes ("The device MUST NOT make assumptions about the particular
// arrangement of descriptors", §2.7.4). A frame in one segment is handed over in place (zero
// copies); a frame spread over several is gathered into the pair's gather space.

extension VirtioNetQueuePair {
    /// Takes up to `limit` frames from the transmit queue, calls `deliver(header, frame)` for each
    /// (the frame excludes the header and is valid only during the call), returns the chains to the
    /// guest and decides once whether to notify it.
    @inlinable
    public func transmit(limit: Int, _ deliver: (VirtioNetHeader, UnsafeRawBufferPointer) -> Void) -> VirtioNetTransmitBatch {
        var batch = VirtioNetTransmitBatch()
        while true {
            guard batch.frames + batch.dropped < limit else { batch.reachedLimit = true; break }
            guard transmitQueue.popAvailable(into: &transmitChain), let header = transmitHeader() else { break }
            // `deliver` may re-enter this pair (a frame looped back to our own receive queue), so
            // nothing of the chain is used after it returns except these locals.
            let head = transmitChain.head
            let length = transmitChain.readableLength - headerSize
            if !header.isAcceptableOnTransmit(features: features) {
                counters.transmitOffloadRejected &+= 1
                batch.dropped += 1
            } else if let frame = transmitChain.readableContiguous(from: headerSize, count: length) {
                counters.transmittedFrames &+= 1
                counters.transmittedBytes &+= UInt64(length)
                batch.frames += 1
                deliver(header, frame)
            } else if length <= gather.count {
                let n = transmitChain.gatherReadable(into: gather, from: headerSize)
                counters.transmittedFrames &+= 1
                counters.transmittedBytes &+= UInt64(n)
                batch.frames += 1
                deliver(header, UnsafeRawBufferPointer(rebasing: gather[0..<n]))
            } else {
                counters.transmitOversize &+= 1
                batch.dropped += 1
            }
            // The device writes nothing into transmit buffers: used length 0.
            transmitQueue.pushUsed(head: head, length: 0)
        }
        batch.notifyGuest = transmitQueue.shouldNotifyGuest()
        return batch
    }

    /// Takes one frame from the transmit queue and copies it (header stripped) into `buffer`.
    /// Call `finishTransmitBatch()` after the last one of a batch.
    @inlinable
    public func transmit(into buffer: UnsafeMutableRawBufferPointer) -> VirtioNetTransmitOutcome {
        guard transmitQueue.popAvailable(into: &transmitChain), let header = transmitHeader() else {
            if let reason = transmitQueue.brokenReason { return .queueBroken(reason) }
            return .empty
        }
        let length = transmitChain.readableLength - headerSize
        let outcome: VirtioNetTransmitOutcome
        if !header.isAcceptableOnTransmit(features: features) {
            counters.transmitOffloadRejected &+= 1
            outcome = .offloadNotNegotiated
        } else if length <= buffer.count {
            _ = transmitChain.gatherReadable(into: buffer, from: headerSize)
            counters.transmittedFrames &+= 1
            counters.transmittedBytes &+= UInt64(length)
            outcome = .frame(header: header, length: length)
        } else {
            counters.transmitOversize &+= 1
            outcome = .tooLarge(length: length)
        }
        transmitQueue.pushUsed(head: transmitChain.head, length: 0)
        return outcome
    }

    /// Publishes the used transmit chains; true when the guest asked to be notified.
    @inlinable
    public func finishTransmitBatch() -> Bool {
        transmitQueue.shouldNotifyGuest()
    }

    /// Checks the popped transmit chain and reads its header; nil (and the queue broken) when the
    /// chain is not a transmit chain.
    @inlinable
    func transmitHeader() -> VirtioNetHeader? {
        // A transmit queue is device-read-only: a writable buffer is where a readable one was required.
        guard transmitChain.writableLength == 0 else {
            transmitQueue.markBroken(.unexpectedWritable)
            return nil
        }
        // "the packet itself is preceded by a header" (§5.1.6); QEMU treats a shorter chain as a
        // device error too.
        guard transmitChain.readableLength >= headerSize else {
            transmitQueue.markBroken(.truncatedNetHeader(length: transmitChain.readableLength))
            return nil
        }
        var raw: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &raw) { bytes in
            let n = transmitChain.gatherReadable(into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<headerSize]), from: 0)
            assert(n == headerSize)
            return VirtioNetHeader(parsing: UnsafeRawBufferPointer(bytes), size: headerSize)
        }
    }
}
