// struct virtio_net_hdr — OASIS virtio 1.2 §5.1.6 "Device Operation".
//
//   struct virtio_net_hdr {
//       u8 flags;        // VIRTIO_NET_HDR_F_NEEDS_CSUM 1, _DATA_VALID 2, _RSC_INFO 4
//       u8 gso_type;     // VIRTIO_NET_HDR_GSO_NONE 0, _TCPV4 1, _UDP 3, _TCPV6 4, _UDP_L4 5, _ECN 0x80
//       le16 hdr_len;
//       le16 gso_size;
//       le16 csum_start;
//       le16 csum_offset;
//       le16 num_buffers;
//   };
//
// "The legacy driver only presented num_buffers in the struct virtio_net_hdr when
// VIRTIO_NET_F_MRG_RXBUF was negotiated; without that feature the structure was 2 bytes shorter."
// The hash-report fields (VIRTIO_NET_F_HASH_REPORT, 20-byte header) are not supported.

/// The virtio-net header that precedes every frame on the transmit and receive queues.
public struct VirtioNetHeader: Equatable, Hashable, Sendable {
    public var flags: UInt8
    public var gsoType: UInt8
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16
    /// Buffers a received packet spans (MRG_RXBUF); zero on transmit.
    public var numBuffers: UInt16

    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at csum_start + csum_offset is to be completed.
    public static let flagNeedsChecksum: UInt8 = 1
    /// VIRTIO_NET_HDR_F_DATA_VALID: the device has validated the packet checksum.
    public static let flagDataValid: UInt8 = 2
    /// VIRTIO_NET_HDR_F_RSC_INFO: csum_start/csum_offset carry coalescing counts.
    public static let flagRSCInfo: UInt8 = 4
    /// VIRTIO_NET_HDR_GSO_NONE.
    public static let gsoNone: UInt8 = 0
    /// VIRTIO_NET_HDR_GSO_TCPV4.
    public static let gsoTCPv4: UInt8 = 1
    /// VIRTIO_NET_HDR_GSO_UDP.
    public static let gsoUDP: UInt8 = 3
    /// VIRTIO_NET_HDR_GSO_TCPV6.
    public static let gsoTCPv6: UInt8 = 4
    /// VIRTIO_NET_HDR_GSO_UDP_L4.
    public static let gsoUDPL4: UInt8 = 5
    /// VIRTIO_NET_HDR_GSO_ECN (a bit on top of the type).
    public static let gsoECN: UInt8 = 0x80

    /// Bytes of the largest header this code reads or writes.
    public static let maximumSize = 12

    /// An all-zero header: a fully checksummed frame, no segmentation.
    @inlinable
    public init(flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
                checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0, numBuffers: UInt16 = 0) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
        self.numBuffers = numBuffers
    }

    /// The header size for the negotiated `features`: 12 bytes with VIRTIO_F_VERSION_1 or
    /// VIRTIO_NET_F_MRG_RXBUF, else 10 (legacy). HASH_REPORT is never negotiated by this device.
    @inlinable
    public static func size(for features: VirtioFeatures) -> Int {
        features.contains(.version1) || features.contains(.netMergeableRxBuffers) ? 12 : 10
    }

    /// Parses a header of `size` (10 or 12) bytes from `bytes`, which must hold at least that many.
    @inlinable
    public init(parsing bytes: UnsafeRawBufferPointer, size: Int) {
        precondition(size == 10 || size == 12, "virtio-net header is 10 or 12 bytes")
        precondition(bytes.count >= size, "caller checks the length first")
        let p = bytes.baseAddress!
        flags = p.load(fromByteOffset: 0, as: UInt8.self)
        gsoType = p.load(fromByteOffset: 1, as: UInt8.self)
        headerLength = SharedRing.loadLE16(p, 2)
        gsoSize = SharedRing.loadLE16(p, 4)
        checksumStart = SharedRing.loadLE16(p, 6)
        checksumOffset = SharedRing.loadLE16(p, 8)
        numBuffers = size == 12 ? SharedRing.loadLE16(p, 10) : 0
    }

    /// Writes the header as `size` (10 or 12) bytes into `buffer`, which must hold that many.
    @inlinable
    public func emit(into buffer: UnsafeMutableRawBufferPointer, size: Int) {
        precondition(size == 10 || size == 12, "virtio-net header is 10 or 12 bytes")
        precondition(buffer.count >= size, "caller checks the space first")
        let p = buffer.baseAddress!
        p.storeBytes(of: flags, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: gsoType, toByteOffset: 1, as: UInt8.self)
        SharedRing.storeLE16(p, 2, headerLength)
        SharedRing.storeLE16(p, 4, gsoSize)
        SharedRing.storeLE16(p, 6, checksumStart)
        SharedRing.storeLE16(p, 8, checksumOffset)
        if size == 12 { SharedRing.storeLE16(p, 10, numBuffers) }
    }

    /// Byte offset of num_buffers in the header.
    public static let numBuffersOffset = 10

    /// True when a driver with `features` was allowed to send this header: NEEDS_CSUM needs
    /// VIRTIO_NET_F_CSUM, each segmentation type its HOST_TSO/UFO/USO bit (§5.1.6.2.1: "If
    /// VIRTIO_NET_F_HOST_TSO4 is negotiated, the driver MAY set gso_type to VIRTIO_NET_HDR_GSO_TCPV4
    /// […], otherwise the driver MUST NOT"). Other flag bits are ignored ("The device MUST ignore
    /// flag bits that it does not recognize.").
    @inlinable
    public func isAcceptableOnTransmit(features: VirtioFeatures) -> Bool {
        if flags & Self.flagNeedsChecksum != 0 && !features.contains(.netCsum) { return false }
        if gsoType & Self.gsoECN != 0 && !features.contains(.netHostECN) { return false }
        switch gsoType & ~Self.gsoECN {
        case Self.gsoNone: return true
        case Self.gsoTCPv4: return features.contains(.netHostTSO4)
        case Self.gsoTCPv6: return features.contains(.netHostTSO6)
        case Self.gsoUDP: return features.contains(.netHostUFO)
        case Self.gsoUDPL4: return features.contains(.netHostUSO)
        default: return false
        }
    }

    /// True when a driver with `features` may be handed this header on receive: checksum flags
    /// need VIRTIO_NET_F_GUEST_CSUM, each segmentation type its GUEST_TSO/UFO/USO bit (§5.1.6.4.1).
    @inlinable
    public func isAcceptableOnReceive(features: VirtioFeatures) -> Bool {
        if flags & (Self.flagNeedsChecksum | Self.flagDataValid) != 0 && !features.contains(.netGuestCsum) { return false }
        if flags & Self.flagRSCInfo != 0 { return false }
        if gsoType & Self.gsoECN != 0 && !features.contains(.netGuestECN) { return false }
        switch gsoType & ~Self.gsoECN {
        case Self.gsoNone: return true
        case Self.gsoTCPv4: return features.contains(.netGuestTSO4)
        case Self.gsoTCPv6: return features.contains(.netGuestTSO6)
        case Self.gsoUDP: return features.contains(.netGuestUFO)
        case Self.gsoUDPL4: return features.contains(.netGuestUSO4) || features.contains(.netGuestUSO6)
        default: return false
        }
    }
}
