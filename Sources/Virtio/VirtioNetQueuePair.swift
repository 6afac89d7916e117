// A virtio-net receive/transmit queue pair, device side — OASIS virtio 1.2 §5.1.2, §5.1.6.
//
// "receiveq1 … transmitq1 …": queue 2(N-1) receives, queue 2(N-1)+1 transmits. One pair per
// VIRTIO_NET_F_MQ queue pair; the control queue (VIRTIO_NET_F_CTRL_VQ) is not handled here.
// Transmit: `transmit(limit:_:)`; receive: `receive(_:header:)` per frame, `finishReceiveBatch()`.

/// Statistics of one queue pair (the device's own; outcomes are also returned to the caller).
public struct VirtioNetCounters: Equatable, Sendable {
    /// Frames taken from the transmit queue and handed to the caller.
    public var transmittedFrames: UInt64 = 0
    /// Their bytes, virtio-net header excluded.
    public var transmittedBytes: UInt64 = 0
    /// Transmit frames dropped because they exceeded the gather space.
    public var transmitOversize: UInt64 = 0
    /// Transmit frames dropped because their header asks for an offload the driver did not negotiate.
    public var transmitOffloadRejected: UInt64 = 0
    /// Frames written into the receive queue.
    public var receivedFrames: UInt64 = 0
    /// Their bytes, virtio-net header excluded.
    public var receivedBytes: UInt64 = 0
    /// Frames not delivered: no receive buffer was available.
    public var receiveNoBuffers: UInt64 = 0
    /// Frames not delivered: larger than a receive buffer (without MRG_RXBUF).
    public var receiveTooLarge: UInt64 = 0
    /// Frames not delivered: their header asks for an offload the driver did not negotiate.
    public var receiveOffloadRejected: UInt64 = 0

    public init() {}
}

/// What one transmit batch did.
public struct VirtioNetTransmitBatch: Equatable, Sendable {
    /// Frames handed to the caller.
    public var frames: Int = 0
    /// Frames dropped (larger than the gather space, or asking for offloads not negotiated).
    public var dropped: Int = 0
    /// The guest asked for a used-buffer notification: signal it (once for the whole batch).
    public var notifyGuest: Bool = false
    /// The batch stopped at its limit, so more frames may be waiting: schedule another batch.
    public var reachedLimit: Bool = false

    public init() {}
}

/// The result of taking one frame from the transmit queue into a caller buffer.
public enum VirtioNetTransmitOutcome: Equatable, Sendable {
    /// A frame of `length` bytes (header stripped) is at the start of the buffer.
    case frame(header: VirtioNetHeader, length: Int)
    /// Nothing to transmit.
    case empty
    /// The frame (of `length` bytes) did not fit the buffer; it was dropped and its chain returned.
    case tooLarge(length: Int)
    /// The header asks for an offload the driver did not negotiate; dropped, chain returned.
    case offloadNotNegotiated
    /// The guest broke the transmit queue; the device needs a reset.
    case queueBroken(VirtqueueBrokenReason)
}

/// The result of delivering one frame to the guest.
public enum VirtioNetReceiveOutcome: Equatable, Sendable {
    /// Written into `buffers` receive buffers (more than one only with MRG_RXBUF).
    case delivered(buffers: Int)
    /// No receive buffer was available: drop the frame (or hold it until the guest adds buffers).
    case noBuffers
    /// Without MRG_RXBUF the frame must fit one buffer and did not; dropped, buffer kept.
    case frameTooLarge
    /// The header asks for checksum or segmentation offload the driver did not negotiate; finish
    /// the checksum or segment first.
    case offloadNotNegotiated
    /// The guest broke the receive queue; the device needs a reset.
    case queueBroken(VirtqueueBrokenReason)
}

/// The device side of one virtio-net queue pair: frames out of the transmit queue, frames into
/// the receive queue, using only the features the driver acknowledged.
public final class VirtioNetQueuePair<Memory: GuestMemory> {
    /// The features the driver acknowledged.
    public let features: VirtioFeatures
    /// Bytes of the virtio-net header on both queues (10 or 12).
    public let headerSize: Int
    /// VIRTIO_NET_F_MRG_RXBUF was negotiated.
    public let mergeableReceiveBuffers: Bool

    // Each direction's state sits in one stored property, so a frame costs one or two dynamic
    // exclusivity checks rather than one per field touched (it halved the per-frame cost).
    @usableFromInline var transmitter: VirtioNetTransmitter<Memory>
    @usableFromInline var receiver: VirtioNetReceiver<Memory>
    /// Where transmit frames spread over several descriptors are gathered.
    @usableFromInline let gather: UnsafeMutableRawBufferPointer

    /// "the maximum incoming packet will be 65589 bytes long (14 bytes of Ethernet header, plus 40
    /// bytes of the IPv6 header, plus 65535 bytes of maximum IPv6 payload …)" (§5.1.6.3).
    public static var defaultMaximumFrameSize: Int { 65_589 }

    /// Sets up both queues on `memory`. `maximumFrameSize` bounds transmit frames that must be
    /// gathered; `maximumSegments` bounds descriptors (and region crossings) per chain.
    public init(memory: Memory, receive: VirtqueueConfiguration, transmit: VirtqueueConfiguration,
                features: VirtioFeatures, maximumFrameSize: Int = defaultMaximumFrameSize,
                maximumSegments: Int = VirtqChain.defaultCapacity) throws(VirtqueueSetupError) {
        let rx = try SplitVirtqueue(memory: memory, configuration: receive, features: features)
        let tx = try SplitVirtqueue(memory: memory, configuration: transmit, features: features)
        self.features = features
        headerSize = VirtioNetHeader.size(for: features)
        mergeableReceiveBuffers = features.contains(.netMergeableRxBuffers)
        let gather = UnsafeMutableRawBufferPointer.allocate(byteCount: max(maximumFrameSize, 1), alignment: 64)
        self.gather = gather
        transmitter = VirtioNetTransmitter(queue: tx, chain: VirtqChain(capacity: maximumSegments),
                                           headerSize: headerSize, features: features, gather: gather)
        receiver = VirtioNetReceiver(queue: rx, chain: VirtqChain(capacity: maximumSegments),
                                     headerSize: headerSize, features: features)
    }

    deinit { gather.deallocate() }

    /// receiveqN (device writes): its state, vring base and notification controls.
    public var receiveQueue: SplitVirtqueue<Memory> {
        get { receiver.queue }
        set { receiver.queue = newValue }
    }

    /// transmitqN (device reads): its state, vring base and notification controls.
    public var transmitQueue: SplitVirtqueue<Memory> {
        get { transmitter.queue }
        set { transmitter.queue = newValue }
    }

    /// The device's statistics.
    public var counters: VirtioNetCounters {
        var c = VirtioNetCounters()
        c.transmittedFrames = transmitter.frames
        c.transmittedBytes = transmitter.bytes
        c.transmitOversize = transmitter.oversize
        c.transmitOffloadRejected = transmitter.offloadRejected
        c.receivedFrames = receiver.frames
        c.receivedBytes = receiver.bytes
        c.receiveNoBuffers = receiver.noBuffers
        c.receiveTooLarge = receiver.tooLarge
        c.receiveOffloadRejected = receiver.offloadRejected
        return c
    }

    /// Queues of this pair the guest has broken (0, 1 or 2); the device should set DEVICE_NEEDS_RESET.
    public var brokenQueues: Int {
        (receiver.queue.isBroken ? 1 : 0) + (transmitter.queue.isBroken ? 1 : 0)
    }
}
