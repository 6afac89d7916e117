// vhost-user protocol constants — QEMU docs/interop/vhost-user.rst, under the spec's own names.
// "All numbers are in the machine native byte order." (Message Specification)

/// Header layout, flags and limits (vhost-user.rst "Header", "Memory regions description").
public enum VhostUserSpec {
    /// request (u32), flags (u32), size (u32).
    public static let headerSize = 12
    /// "Lower 2 bits are the version (currently 0x01)".
    public static let versionMask: UInt32 = 0x3
    /// VHOST_USER_VERSION.
    public static let version: UInt32 = 0x1
    /// "Bit 2 is the reply flag - needs to be sent on each reply from the back-end".
    public static let replyFlag: UInt32 = 1 << 2
    /// "Bit 3 is the need_reply flag" (REPLY_ACK).
    public static let needReplyFlag: UInt32 = 1 << 3

    /// "Bits (0-7) of the payload contain the vring index." (SET_VRING_KICK/CALL/ERR)
    public static let vringIndexMask: UInt64 = 0xFF
    /// "Bit 8 is the invalid FD flag. This flag is set when there is no file descriptor in the
    /// ancillary data."
    public static let vringInvalidFDFlag: UInt64 = 0x100

    /// VHOST_USER_F_PROTOCOL_FEATURES: the virtio feature bit (30, UNUSED in virtio 1.x) that
    /// "signals back-end support for VHOST_USER_GET_PROTOCOL_FEATURES".
    public static let protocolFeaturesBit = 30

    /// VHOST_MEMORY_BASELINE_NREGIONS: regions one SET_MEM_TABLE can carry ("region0 … region7").
    public static let maxMemoryTableRegions = 8
    /// Bytes of one memory region description: guest address, size, user address, mmap offset.
    public static let memoryRegionSize = 32
    /// Bytes of a vring state description: index, num.
    public static let vringStateSize = 8
    /// Bytes of a vring address description: index, flags, descriptor, used, available, log.
    public static let vringAddressSize = 40
    /// Bytes of a single memory region description: padding (u64) and a region.
    public static let singleMemoryRegionSize = 8 + memoryRegionSize

    /// The largest payload this back end reads. The largest the spec defines (a device
    /// configuration space of 256 bytes plus 12) is far below it.
    public static let maxPayloadSize = 4096
    /// The most descriptors one message may carry (SET_MEM_TABLE: one per region).
    public static let maxDescriptorsPerMessage = maxMemoryTableRegions
}

/// Front-end message types ("Front-end message types"), by id.
public enum VhostUserRequest: UInt32, Sendable, CustomStringConvertible {
    case getFeatures = 1
    case setFeatures = 2
    case setOwner = 3
    case resetOwner = 4
    case setMemTable = 5
    case setLogBase = 6
    case setLogFD = 7
    case setVringNum = 8
    case setVringAddr = 9
    case setVringBase = 10
    case getVringBase = 11
    case setVringKick = 12
    case setVringCall = 13
    case setVringErr = 14
    case getProtocolFeatures = 15
    case setProtocolFeatures = 16
    case getQueueNum = 17
    case setVringEnable = 18
    case sendRARP = 19
    case netSetMTU = 20
    case setBackendReqFD = 21
    case iotlbMessage = 22
    case setVringEndian = 23
    case getConfig = 24
    case setConfig = 25
    case createCryptoSession = 26
    case closeCryptoSession = 27
    case postcopyAdvise = 28
    case postcopyListen = 29
    case postcopyEnd = 30
    case getInflightFD = 31
    case setInflightFD = 32
    case gpuSetSocket = 33
    case resetDevice = 34
    case vringKick = 35
    case getMaxMemSlots = 36
    case addMemReg = 37
    case remMemReg = 38
    case setStatus = 39
    case getStatus = 40

    /// The spec's name, e.g. VHOST_USER_SET_MEM_TABLE.
    public var description: String {
        let names: [VhostUserRequest: String] = [
            .getFeatures: "GET_FEATURES", .setFeatures: "SET_FEATURES", .setOwner: "SET_OWNER",
            .resetOwner: "RESET_OWNER", .setMemTable: "SET_MEM_TABLE", .setLogBase: "SET_LOG_BASE",
            .setLogFD: "SET_LOG_FD", .setVringNum: "SET_VRING_NUM", .setVringAddr: "SET_VRING_ADDR",
            .setVringBase: "SET_VRING_BASE", .getVringBase: "GET_VRING_BASE", .setVringKick: "SET_VRING_KICK",
            .setVringCall: "SET_VRING_CALL", .setVringErr: "SET_VRING_ERR",
            .getProtocolFeatures: "GET_PROTOCOL_FEATURES", .setProtocolFeatures: "SET_PROTOCOL_FEATURES",
            .getQueueNum: "GET_QUEUE_NUM", .setVringEnable: "SET_VRING_ENABLE", .sendRARP: "SEND_RARP",
            .netSetMTU: "NET_SET_MTU", .setBackendReqFD: "SET_BACKEND_REQ_FD", .iotlbMessage: "IOTLB_MSG",
            .setVringEndian: "SET_VRING_ENDIAN", .getConfig: "GET_CONFIG", .setConfig: "SET_CONFIG",
            .createCryptoSession: "CREATE_CRYPTO_SESSION", .closeCryptoSession: "CLOSE_CRYPTO_SESSION",
            .postcopyAdvise: "POSTCOPY_ADVISE", .postcopyListen: "POSTCOPY_LISTEN", .postcopyEnd: "POSTCOPY_END",
            .getInflightFD: "GET_INFLIGHT_FD", .setInflightFD: "SET_INFLIGHT_FD", .gpuSetSocket: "GPU_SET_SOCKET",
            .resetDevice: "RESET_DEVICE", .vringKick: "VRING_KICK", .getMaxMemSlots: "GET_MAX_MEM_SLOTS",
            .addMemReg: "ADD_MEM_REG", .remMemReg: "REM_MEM_REG", .setStatus: "SET_STATUS", .getStatus: "GET_STATUS",
        ]
        return "VHOST_USER_" + (names[self] ?? "\(rawValue)")
    }
}

/// Protocol feature bits ("Protocol features"), negotiated by GET/SET_PROTOCOL_FEATURES.
public struct VhostUserProtocolFeatures: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// VHOST_USER_PROTOCOL_F_MQ (0): GET_QUEUE_NUM; several queue pairs.
    public static let multipleQueues = VhostUserProtocolFeatures(rawValue: 1 << 0)
    /// VHOST_USER_PROTOCOL_F_LOG_SHMFD (1).
    public static let logSharedMemoryFD = VhostUserProtocolFeatures(rawValue: 1 << 1)
    /// VHOST_USER_PROTOCOL_F_RARP (2).
    public static let rarp = VhostUserProtocolFeatures(rawValue: 1 << 2)
    /// VHOST_USER_PROTOCOL_F_REPLY_ACK (3): the need_reply flag on any request.
    public static let replyAck = VhostUserProtocolFeatures(rawValue: 1 << 3)
    /// VHOST_USER_PROTOCOL_F_MTU (4).
    public static let mtu = VhostUserProtocolFeatures(rawValue: 1 << 4)
    /// VHOST_USER_PROTOCOL_F_BACKEND_REQ (5), formerly SLAVE_REQ.
    public static let backendRequests = VhostUserProtocolFeatures(rawValue: 1 << 5)
    /// VHOST_USER_PROTOCOL_F_CROSS_ENDIAN (6).
    public static let crossEndian = VhostUserProtocolFeatures(rawValue: 1 << 6)
    /// VHOST_USER_PROTOCOL_F_CONFIG (9): GET/SET_CONFIG.
    public static let config = VhostUserProtocolFeatures(rawValue: 1 << 9)
    /// VHOST_USER_PROTOCOL_F_RESET_DEVICE (13): RESET_DEVICE.
    public static let resetDevice = VhostUserProtocolFeatures(rawValue: 1 << 13)
    /// VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS (14).
    public static let inbandNotifications = VhostUserProtocolFeatures(rawValue: 1 << 14)
    /// VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS (15): GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG.
    public static let configureMemorySlots = VhostUserProtocolFeatures(rawValue: 1 << 15)
    /// VHOST_USER_PROTOCOL_F_STATUS (16).
    public static let status = VhostUserProtocolFeatures(rawValue: 1 << 16)

    public var description: String {
        var bits: [String] = []
        for bit in 0..<64 where rawValue & (1 << UInt64(bit)) != 0 { bits.append(String(bit)) }
        return "VhostUserProtocolFeatures[\(bits.joined(separator: ","))]"
    }
}
