// Feature bits — OASIS virtio 1.2 §6 "Reserved Feature Bits" and §5.1.3 "Network Device / Feature bits".
// Spec names in the comments; each bit is the spec's bit number.

/// A set of virtio feature bits (64 of them, as vhost-user's GET/SET_FEATURES carry).
public struct VirtioFeatures: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The set holding only feature bit `bit` (0…63).
    @inlinable public init(bit: Int) { self.rawValue = 1 << UInt64(bit) }

    // MARK: virtio-net, §5.1.3

    /// VIRTIO_NET_F_CSUM (0): "Device handles packets with partial checksum offload."
    public static let netCsum = VirtioFeatures(bit: 0)
    /// VIRTIO_NET_F_GUEST_CSUM (1): "Driver handles packets with partial checksum."
    public static let netGuestCsum = VirtioFeatures(bit: 1)
    /// VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (2): control channel offloads reconfiguration.
    public static let netCtrlGuestOffloads = VirtioFeatures(bit: 2)
    /// VIRTIO_NET_F_MTU (3): the device reports its maximum MTU.
    public static let netMTU = VirtioFeatures(bit: 3)
    /// VIRTIO_NET_F_MAC (5): "Device has given MAC address."
    public static let netMAC = VirtioFeatures(bit: 5)
    /// VIRTIO_NET_F_GUEST_TSO4 (7): "Driver can receive TSOv4."
    public static let netGuestTSO4 = VirtioFeatures(bit: 7)
    /// VIRTIO_NET_F_GUEST_TSO6 (8): "Driver can receive TSOv6."
    public static let netGuestTSO6 = VirtioFeatures(bit: 8)
    /// VIRTIO_NET_F_GUEST_ECN (9): "Driver can receive TSO with ECN."
    public static let netGuestECN = VirtioFeatures(bit: 9)
    /// VIRTIO_NET_F_GUEST_UFO (10): "Driver can receive UFO."
    public static let netGuestUFO = VirtioFeatures(bit: 10)
    /// VIRTIO_NET_F_HOST_TSO4 (11): "Device can receive TSOv4."
    public static let netHostTSO4 = VirtioFeatures(bit: 11)
    /// VIRTIO_NET_F_HOST_TSO6 (12): "Device can receive TSOv6."
    public static let netHostTSO6 = VirtioFeatures(bit: 12)
    /// VIRTIO_NET_F_HOST_ECN (13): "Device can receive TSO with ECN."
    public static let netHostECN = VirtioFeatures(bit: 13)
    /// VIRTIO_NET_F_HOST_UFO (14): "Device can receive UFO."
    public static let netHostUFO = VirtioFeatures(bit: 14)
    /// VIRTIO_NET_F_MRG_RXBUF (15): "Driver can merge receive buffers."
    public static let netMergeableRxBuffers = VirtioFeatures(bit: 15)
    /// VIRTIO_NET_F_STATUS (16): "Configuration status field is available."
    public static let netStatus = VirtioFeatures(bit: 16)
    /// VIRTIO_NET_F_CTRL_VQ (17): "Control channel is available."
    public static let netCtrlVQ = VirtioFeatures(bit: 17)
    /// VIRTIO_NET_F_CTRL_RX (18): control channel RX mode support.
    public static let netCtrlRx = VirtioFeatures(bit: 18)
    /// VIRTIO_NET_F_CTRL_VLAN (19): control channel VLAN filtering.
    public static let netCtrlVLAN = VirtioFeatures(bit: 19)
    /// VIRTIO_NET_F_GUEST_ANNOUNCE (21): "Driver can send gratuitous packets."
    public static let netGuestAnnounce = VirtioFeatures(bit: 21)
    /// VIRTIO_NET_F_MQ (22): "Device supports multiqueue with automatic receive steering."
    public static let netMQ = VirtioFeatures(bit: 22)
    /// VIRTIO_NET_F_CTRL_MAC_ADDR (23): "Set MAC address through control channel."
    public static let netCtrlMACAddress = VirtioFeatures(bit: 23)
    /// VIRTIO_NET_F_GUEST_USO4 (54): "Driver can receive USOv4 packets."
    public static let netGuestUSO4 = VirtioFeatures(bit: 54)
    /// VIRTIO_NET_F_GUEST_USO6 (55): "Driver can receive USOv6 packets."
    public static let netGuestUSO6 = VirtioFeatures(bit: 55)
    /// VIRTIO_NET_F_HOST_USO (56): "Device can receive USO packets."
    public static let netHostUSO = VirtioFeatures(bit: 56)
    /// VIRTIO_NET_F_HASH_REPORT (57): per-packet hash reporting (20-byte header; not supported here).
    public static let netHashReport = VirtioFeatures(bit: 57)
    /// VIRTIO_NET_F_GUEST_HDRLEN (59): "Driver can provide the exact hdr_len value."
    public static let netGuestHeaderLength = VirtioFeatures(bit: 59)
    /// VIRTIO_NET_F_RSS (60): receive-side scaling.
    public static let netRSS = VirtioFeatures(bit: 60)
    /// VIRTIO_NET_F_SPEED_DUPLEX (63): "Device reports speed and duplex."
    public static let netSpeedDuplex = VirtioFeatures(bit: 63)

    // MARK: transport and ring, §6

    /// VIRTIO_F_NOTIFY_ON_EMPTY (24), legacy only.
    public static let notifyOnEmpty = VirtioFeatures(bit: 24)
    /// VIRTIO_F_ANY_LAYOUT (27), legacy: no assumptions about message framing.
    public static let anyLayout = VirtioFeatures(bit: 27)
    /// VIRTIO_F_INDIRECT_DESC (28): "the driver can use descriptors with the VIRTQ_DESC_F_INDIRECT flag set".
    public static let indirectDescriptors = VirtioFeatures(bit: 28)
    /// VIRTIO_F_EVENT_IDX (29), a.k.a. VIRTIO_RING_F_EVENT_IDX: used_event and avail_event fields.
    public static let ringEventIndex = VirtioFeatures(bit: 29)
    /// VIRTIO_F_VERSION_1 (32): compliance with virtio 1.x (little-endian rings, 12-byte net header).
    public static let version1 = VirtioFeatures(bit: 32)
    /// VIRTIO_F_ACCESS_PLATFORM (33): addresses go through an IOMMU (not supported here).
    public static let accessPlatform = VirtioFeatures(bit: 33)
    /// VIRTIO_F_RING_PACKED (34): packed virtqueue layout (not supported here).
    public static let ringPacked = VirtioFeatures(bit: 34)
    /// VIRTIO_F_IN_ORDER (35): buffers are used in the order they were made available.
    public static let inOrder = VirtioFeatures(bit: 35)

    /// What this device implements and offers by default: the split ring, EVENT_IDX, indirect
    /// descriptors, mergeable receive buffers, MAC and STATUS. Offloads are left to the caller.
    public static let deviceDefault: VirtioFeatures = [
        .version1, .ringEventIndex, .indirectDescriptors, .netMergeableRxBuffers, .netMAC, .netStatus,
    ]

    public var description: String {
        var bits: [String] = []
        for bit in 0..<64 where rawValue & (1 << UInt64(bit)) != 0 { bits.append(String(bit)) }
        return "VirtioFeatures[\(bits.joined(separator: ","))]"
    }
}
