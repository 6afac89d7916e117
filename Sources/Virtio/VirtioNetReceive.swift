// virtio-net packet reception, device side — OASIS virtio 1.2 §5.1.6.3, §5.1.6.4.
//
// "If VIRTIO_NET_F_MRG_RXBUF has not been negotiated, the device MUST set num_buffers to 1." and
// "The device MUST use only a single descriptor [chain] if VIRTIO_NET_F_MRG_RXBUF was not
// negotiated." With it: "If a receive packet is spread over multiple buffers, the device MUST use
// all buffers but the last (i.e. the first num_buffers - 1 buffers) completely up to the full
// length of each buffer supplied by the driver." and "The device MUST set num_buffers to indicate
// the number of buffers the packet (including the header) is spread over."

extension VirtioNetQueuePair {
    /// Writes `frame` (an Ethernet frame, no virtio-net header) into the guest's receive buffers,
    /// preceded by `header` (num_buffers is filled in here). Publish and decide on notifying the
    /// guest with `finishReceiveBatch()` after the batch.
    @inlinable
    public func receive(_ frame: UnsafeRawBufferPointer, header: VirtioNetHeader = VirtioNetHeader()) -> VirtioNetReceiveOutcome {
        if let reason = receiveQueue.brokenReason { return .queueBroken(reason) }
        guard header.isAcceptableOnReceive(features: features) else {
            counters.receiveOffloadRejected &+= 1
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

    /// Publishes the used receive buffers; true when the guest asked to be notified.
    @inlinable
    public func finishReceiveBatch() -> Bool {
        receiveQueue.shouldNotifyGuest()
    }

    /// Without MRG_RXBUF: the whole packet goes into one chain.
    @inlinable
    func receiveSingle(_ frame: UnsafeRawBufferPointer, headerBytes: UnsafeRawBufferPointer) -> VirtioNetReceiveOutcome {
        guard receiveQueue.popAvailable(into: &receiveChain) else { return receiveStopped() }
        guard receiveChain.readableLength == 0 else {
            receiveQueue.markBroken(.unexpectedReadable)
            return receiveStopped()
        }
        let total = headerSize + frame.count
        guard receiveChain.writableLength >= total else {
            // Like QEMU: drop this packet, keep the buffer for the next one.
            receiveQueue.rewindAvailable(by: 1)
            counters.receiveTooLarge &+= 1
            return .frameTooLarge
        }
        _ = receiveChain.scatterWritable(headerBytes, at: 0)
        _ = receiveChain.scatterWritable(frame, at: headerSize)
        receiveQueue.pushUsed(head: receiveChain.head, length: UInt32(total))
        counters.receivedFrames &+= 1
        counters.receivedBytes &+= UInt64(frame.count)
        return .delivered(buffers: 1)
    }

    /// With MRG_RXBUF: as many chains as the packet needs, each filled before the next.
    @inlinable
    func receiveMergeable(_ frame: UnsafeRawBufferPointer, headerBytes: UnsafeRawBufferPointer) -> VirtioNetReceiveOutcome {
        var buffers: UInt16 = 0
        var frameWritten = 0
        var numBuffersLow: UnsafeMutableRawPointer? = nil
        var numBuffersHigh: UnsafeMutableRawPointer? = nil
        repeat {
            guard receiveQueue.popAvailable(into: &receiveChain) else {
                // Out of buffers mid-packet: give back what this packet took (none of it was
                // published) so the next packet, or this one retried, starts on the same buffers.
                if !receiveQueue.isBroken {
                    receiveQueue.rewindUsed(by: buffers)
                    receiveQueue.rewindAvailable(by: buffers)
                }
                return receiveStopped()
            }
            guard receiveChain.readableLength == 0 else {
                receiveQueue.markBroken(.unexpectedReadable)
                return receiveStopped()
            }
            var offset = 0
            if buffers == 0 {
                // "each buffer MUST be at least size of struct virtio_net_hdr" (§5.1.6.3.1)
                guard receiveChain.writableLength >= headerSize else {
                    receiveQueue.markBroken(.receiveBufferTooSmall(length: receiveChain.writableLength))
                    return receiveStopped()
                }
                offset = receiveChain.scatterWritable(headerBytes, at: 0)
                numBuffersLow = receiveChain.writableByte(at: VirtioNetHeader.numBuffersOffset)
                numBuffersHigh = receiveChain.writableByte(at: VirtioNetHeader.numBuffersOffset + 1)
            }
            let n = receiveChain.scatterWritable(
                UnsafeRawBufferPointer(rebasing: frame[frameWritten...]), at: offset)
            frameWritten += n
            receiveQueue.pushUsed(head: receiveChain.head, length: UInt32(offset + n))
            buffers &+= 1
        } while frameWritten < frame.count
        if buffers > 1 {
            // num_buffers may straddle two segments of the first chain: write it byte by byte.
            numBuffersLow?.storeBytes(of: UInt8(truncatingIfNeeded: buffers), as: UInt8.self)
            numBuffersHigh?.storeBytes(of: UInt8(truncatingIfNeeded: buffers >> 8), as: UInt8.self)
        }
        counters.receivedFrames &+= 1
        counters.receivedBytes &+= UInt64(frame.count)
        return .delivered(buffers: Int(buffers))
    }

    /// The outcome when the receive queue gave no (usable) buffer.
    @inlinable
    func receiveStopped() -> VirtioNetReceiveOutcome {
        if let reason = receiveQueue.brokenReason { return .queueBroken(reason) }
        counters.receiveNoBuffers &+= 1
        return .noBuffers
    }
}
