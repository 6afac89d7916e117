// What this vhost-user net back end offers a front end.

import Virtio

/// The device a vhost-user server presents: its queues and the features it offers.
public struct VhostUserDeviceConfiguration: Sendable {
    /// Receive/transmit queue pairs (virtqueues 2i and 2i+1); at most 128 (vring indices are 8 bits).
    public var queuePairs: Int
    /// Virtio features offered (VHOST_USER_F_PROTOCOL_FEATURES is added on the wire). Only what
    /// the front end acknowledges is used.
    public var features: VirtioFeatures
    /// vhost-user protocol features offered.
    public var protocolFeatures: VhostUserProtocolFeatures
    /// The answer to GET_MAX_MEM_SLOTS: how many regions ADD_MEM_REG may build up.
    public var maxMemorySlots: Int
    /// Largest transmit frame a queue pair gathers (VirtioNetQueuePair's maximumFrameSize).
    public var maximumFrameSize: Int

    /// The net features this device implements and offers by default: VERSION_1, MAC, STATUS,
    /// MRG_RXBUF, EVENT_IDX, INDIRECT_DESC and MQ. No offloads: guests send finished frames.
    public static let defaultFeatures: VirtioFeatures = VirtioFeatures.deviceDefault.union(.netMQ)

    /// The protocol features implemented: MQ, REPLY_ACK, RESET_DEVICE, CONFIGURE_MEM_SLOTS.
    /// (CONFIG is not: QEMU's virtio-net keeps its own configuration space for vhost-user.)
    public static let implementedProtocolFeatures: VhostUserProtocolFeatures = [
        .multipleQueues, .replyAck, .resetDevice, .configureMemorySlots,
    ]

    public init(queuePairs: Int = 1, features: VirtioFeatures = defaultFeatures,
                protocolFeatures: VhostUserProtocolFeatures = implementedProtocolFeatures,
                maxMemorySlots: Int = 32,
                maximumFrameSize: Int = VirtioNetQueuePair<GuestMemoryRegions>.defaultMaximumFrameSize) {
        precondition((1...128).contains(queuePairs), "1 to 128 queue pairs")
        precondition(protocolFeatures.isSubset(of: Self.implementedProtocolFeatures), "protocol features not implemented")
        precondition(maxMemorySlots >= VhostUserSpec.maxMemoryTableRegions)
        self.queuePairs = queuePairs
        self.features = features
        self.protocolFeatures = protocolFeatures
        self.maxMemorySlots = maxMemorySlots
        self.maximumFrameSize = maximumFrameSize
    }

    /// Virtqueues: two per pair.
    public var queueCount: Int { 2 * queuePairs }

    /// The GET_FEATURES answer: the offered features plus VHOST_USER_F_PROTOCOL_FEATURES.
    public var offeredFeatureBits: UInt64 { features.rawValue | 1 << UInt64(VhostUserSpec.protocolFeaturesBit) }
}
