// virtio-net packet reception, device side — OASIS virtio 1.2 §5.1.6.3, §5.1.6.4.
//
// "If VIRTIO_NET_F_MRG_RXBUF has not been negotiated, the device MUST set num_buffers to 1." and
// "The device MUST use only a single descriptor [chain] if VIRTIO_NET_F_MRG_RXBUF was not
// negotiated." With it: "If a receive packet is spread over multiple buffers, the device MUST use
// all buffers but the last (i.e. the first num_buffers - 1 buffers) completely up to the full
// length of each buffer supplied by the driver." and "The device MUST set num_buffers to indicate
// the number of buffers the packet (including the header) is spread over."

/// The receive half of a queue pair: the queue, its chain scratch and its counters.
@usableFromInline
struct VirtioNetReceiver<Memory: GuestMemory>: ~Copyable {
    @usableFromInline var queue: SplitVirtqueue<Memory>
    @usableFromInline var chain: VirtqChain
    @usableFromInline let headerSize: Int
    @usableFromInline let features: VirtioFeatures
    @usableFromInline let mergeableReceiveBuffers: Bool
    @usableFromInline var frames: UInt64 = 0
    @usableFromInline var bytes: UInt64 = 0
    @usableFromInline var noBuffers: UInt64 = 0
    @usableFromInline var tooLarge: UInt64 = 0
    @usableFromInline var offloadRejected: UInt64 = 0

    init(queue: SplitVirtqueue<Memory>, chain: consuming VirtqChain, headerSize: Int, features: VirtioFeatures) {
        self.queue = queue
        self.chain = chain
        self.headerSize = headerSize
        self.features = features
        mergeableReceiveBuffers = features.contains(.netMergeableRxBuffers)
    }

    /// Delivers one frame (see `VirtioNetQueuePair.receive`).
    @inlinable
    mutating func receive(_ frame: UnsafeRawBufferPointer, header: VirtioNetHeader = VirtioNetHeader()) -> VirtioNetReceiveOutcome {
        if let reason = queue.brokenReason { return .queueBroken(reason) }
        guard header.isAcceptableOnReceive(features: features) else {
            offloadRejected &+= 1
            return .offloadNotNegotiated
        }
        var header = header
        header.numBuffers = 1
        var raw: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &raw) { headerBytes in
            header.emit(into: headerBytes, size: headerSize)
            let headerView = UnsafeRawBufferPointer(rebasing: headerBytes[0..<headerSize])
            return mergeableReceiveBuffers
                ? receiveMergeable(frame, headerBytes: headerView)
                : receiveSingle(frame, headerBytes: headerView)
        }
    }

    /// Without MRG_RXBUF: the whole packet goes into one chain.
    @inlinable
    mutating func receiveSingle(_ frame: UnsafeRawBufferPointer, headerBytes: UnsafeRawBufferPointer) -> VirtioNetReceiveOutcome {
        guard queue.popAvailable(into: &chain) else { return receiveStopped() }
        guard chain.readableLength == 0 else {
            queue.markBroken(.unexpectedReadable)
            return receiveStopped()
        }
        let total = headerSize + frame.count
        guard chain.writableLength >= total else {
            // Like QEMU: drop this packet, keep the buffer for the next one.
            queue.rewindAvailable(by: 1)
            tooLarge &+= 1
            return .frameTooLarge
        }
        _ = chain.scatterWritable(headerBytes, at: 0)
        _ = chain.scatterWritable(frame, at: headerSize)
        queue.pushUsed(head: chain.head, length: UInt32(total))
        frames &+= 1
        bytes &+= UInt64(frame.count)
        return .delivered(buffers: 1)
    }

    /// With MRG_RXBUF: as many chains as the packet needs, each filled before the next.
    @inlinable
    mutating func receiveMergeable(_ frame: UnsafeRawBufferPointer, headerBytes: UnsafeRawBufferPointer) -> VirtioNetReceiveOutcome {
        var buffers: UInt16 = 0
        var frameWritten = 0
        var numBuffersLow: UnsafeMutableRawPointer? = nil
        var numBuffersHigh: UnsafeMutableRawPointer? = nil
        repeat {
            guard queue.popAvailable(into: &chain) else {
                // Out of buffers mid-packet: give back what this packet took (none of it was
                // published) so the next packet, or this one retried, starts on the same buffers.
                if !queue.isBroken {
                    queue.rewindUsed(by: buffers)
                    queue.rewindAvailable(by: buffers)
                }
                return receiveStopped()
            }
            guard chain.readableLength == 0 else {
                queue.markBroken(.unexpectedReadable)
                return receiveStopped()
            }
            var offset = 0
            if buffers == 0 {
                // "each buffer MUST be at least size of struct virtio_net_hdr" (§5.1.6.3.1)
                guard chain.writableLength >= headerSize else {
                    queue.markBroken(.receiveBufferTooSmall(length: chain.writableLength))
                    return receiveStopped()
                }
                offset = chain.scatterWritable(headerBytes, at: 0)
                numBuffersLow = chain.writableByte(at: VirtioNetHeader.numBuffersOffset)
                numBuffersHigh = chain.writableByte(at: VirtioNetHeader.numBuffersOffset + 1)
            }
            let n = chain.scatterWritable(
                UnsafeRawBufferPointer(rebasing: frame[frameWritten...]), at: offset)
            frameWritten += n
            queue.pushUsed(head: chain.head, length: UInt32(offset + n))
            buffers &+= 1
        } while frameWritten < frame.count
        if buffers > 1 {
            // num_buffers may straddle two segments of the first chain: write it byte by byte.
            numBuffersLow?.storeBytes(of: UInt8(truncatingIfNeeded: buffers), as: UInt8.self)
            numBuffersHigh?.storeBytes(of: UInt8(truncatingIfNeeded: buffers >> 8), as: UInt8.self)
        }
        frames &+= 1
        bytes &+= UInt64(frame.count)
        return .delivered(buffers: Int(buffers))
    }

    /// The outcome when the receive queue gave no (usable) buffer.
    @inlinable
    mutating func receiveStopped() -> VirtioNetReceiveOutcome {
        if let reason = queue.brokenReason { return .queueBroken(reason) }
        noBuffers &+= 1
        return .noBuffers
    }
}

extension VirtioNetQueuePair {
    /// Writes `frame` (an Ethernet frame, no virtio-net header) into the guest's receive buffers,
    /// preceded by `header` (num_buffers is filled in here). Publish and decide on notifying the
    /// guest with `finishReceiveBatch()` after the batch.
    @inlinable
    public func receive(_ frame: UnsafeRawBufferPointer, header: VirtioNetHeader = VirtioNetHeader()) -> VirtioNetReceiveOutcome {
        receiver.receive(frame, header: header)
    }

    /// Publishes the used receive buffers; true when the guest asked to be notified.
    @inlinable
    public func finishReceiveBatch() -> Bool {
        receiver.queue.shouldNotifyGuest()
    }
}
