// vhost-user messages — "Message Specification": a 12-byte header (request, flags, size) and a
// payload of `size` bytes, in native byte order. Parsed from raw bytes after one length check;
// hostile bytes give a `VhostUserError`, never a trap.

/// The message header.
public struct VhostUserHeader: Equatable, Hashable, Sendable {
    /// "32-bit type of the request" (may be one this back end does not know).
    public var request: UInt32
    /// Version, reply and need_reply bits.
    public var flags: UInt32
    /// "32-bit size of the payload".
    public var size: UInt32

    public init(request: UInt32, flags: UInt32 = VhostUserSpec.version, size: UInt32) {
        self.request = request
        self.flags = flags
        self.size = size
    }

    /// Reads a header from the first 12 bytes of `bytes`.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(VhostUserError) {
        guard bytes.count >= VhostUserSpec.headerSize else { throw .truncatedHeader(received: bytes.count) }
        request = bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        flags = bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        size = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    }

    /// Writes the 12 header bytes into the start of `buffer` (which must hold them).
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= VhostUserSpec.headerSize)
        buffer.storeBytes(of: request, toByteOffset: 0, as: UInt32.self)
        buffer.storeBytes(of: flags, toByteOffset: 4, as: UInt32.self)
        buffer.storeBytes(of: size, toByteOffset: 8, as: UInt32.self)
    }

    /// The request, if this back end knows it.
    public var knownRequest: VhostUserRequest? { VhostUserRequest(rawValue: request) }
    /// The version field (lower 2 bits of flags).
    public var version: UInt32 { flags & VhostUserSpec.versionMask }
    /// The front end asked for a REPLY_ACK.
    public var needsReply: Bool { flags & VhostUserSpec.needReplyFlag != 0 }
}

/// A whole message: header and payload (control path: a small array per message is fine).
public struct VhostUserMessage: Equatable, Sendable {
    public var header: VhostUserHeader
    public var payload: [UInt8]

    /// A message; the header's size is taken from the payload.
    public init(request: VhostUserRequest, flags: UInt32 = VhostUserSpec.version, payload: [UInt8] = []) {
        header = VhostUserHeader(request: request.rawValue, flags: flags, size: UInt32(payload.count))
        self.payload = payload
    }

    /// A message with an explicit header (its size may disagree with the payload: for tests).
    public init(header: VhostUserHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    /// Header and payload as they go on the wire.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: VhostUserSpec.headerSize)
        out.withUnsafeMutableBytes { header.emit(into: $0) }
        return out + payload
    }

    /// A reply to `request`: version 1 with the reply flag.
    public static func reply(to request: UInt32, payload: [UInt8]) -> VhostUserMessage {
        VhostUserMessage(header: VhostUserHeader(request: request, flags: VhostUserSpec.version | VhostUserSpec.replyFlag,
                                                 size: UInt32(payload.count)), payload: payload)
    }
}

// MARK: Payloads

/// "A single 64-bit integer".
public enum VhostUserU64 {
    public static func parse(_ payload: [UInt8]) -> UInt64? {
        guard payload.count == 8 else { return nil }
        return payload.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    public static func encode(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }
}

/// "A vring state description": index and num.
public struct VhostUserVringState: Equatable, Hashable, Sendable {
    public var index: UInt32
    public var num: UInt32

    public init(index: UInt32, num: UInt32) {
        self.index = index
        self.num = num
    }

    public init?(parsing payload: [UInt8]) {
        guard payload.count == VhostUserSpec.vringStateSize else { return nil }
        (index, num) = payload.withUnsafeBytes {
            ($0.loadUnaligned(fromByteOffset: 0, as: UInt32.self), $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        }
    }

    public var bytes: [UInt8] { withUnsafeBytes(of: index) { Array($0) } + withUnsafeBytes(of: num) { Array($0) } }
}

/// "A vring address description": ring addresses are front-end user addresses.
public struct VhostUserVringAddress: Equatable, Hashable, Sendable {
    public var index: UInt32
    /// VHOST_VRING_F_LOG (bit 0) asks for used-ring logging.
    public var flags: UInt32
    public var descriptor: UInt64
    public var used: UInt64
    public var available: UInt64
    public var log: UInt64

    public init(index: UInt32, flags: UInt32 = 0, descriptor: UInt64, used: UInt64, available: UInt64, log: UInt64 = 0) {
        self.index = index
        self.flags = flags
        self.descriptor = descriptor
        self.used = used
        self.available = available
        self.log = log
    }

    public init?(parsing payload: [UInt8]) {
        guard payload.count == VhostUserSpec.vringAddressSize else { return nil }
        (index, flags, descriptor, used, available, log) = payload.withUnsafeBytes {
            ($0.loadUnaligned(fromByteOffset: 0, as: UInt32.self), $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
             $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
             $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        }
    }

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: VhostUserSpec.vringAddressSize)
        out.withUnsafeMutableBytes {
            $0.storeBytes(of: index, toByteOffset: 0, as: UInt32.self)
            $0.storeBytes(of: flags, toByteOffset: 4, as: UInt32.self)
            $0.storeBytes(of: descriptor, toByteOffset: 8, as: UInt64.self)
            $0.storeBytes(of: used, toByteOffset: 16, as: UInt64.self)
            $0.storeBytes(of: available, toByteOffset: 24, as: UInt64.self)
            $0.storeBytes(of: log, toByteOffset: 32, as: UInt64.self)
        }
        return out
    }
}

/// One region of a memory table: guest address, size, user address, mmap offset.
public struct VhostUserMemoryRegion: Equatable, Hashable, Sendable {
    public var guestPhysicalAddress: UInt64
    public var size: UInt64
    public var userAddress: UInt64
    /// "offset where region starts in the mapped memory" (the fd passed with the message).
    public var mmapOffset: UInt64

    public init(guestPhysicalAddress: UInt64, size: UInt64, userAddress: UInt64, mmapOffset: UInt64) {
        self.guestPhysicalAddress = guestPhysicalAddress
        self.size = size
        self.userAddress = userAddress
        self.mmapOffset = mmapOffset
    }

    init(_ raw: UnsafeRawBufferPointer, at offset: Int) {
        guestPhysicalAddress = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        size = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
        userAddress = raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)
        mmapOffset = raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)
    }

    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: VhostUserSpec.memoryRegionSize)
        out.withUnsafeMutableBytes {
            $0.storeBytes(of: guestPhysicalAddress, toByteOffset: 0, as: UInt64.self)
            $0.storeBytes(of: size, toByteOffset: 8, as: UInt64.self)
            $0.storeBytes(of: userAddress, toByteOffset: 16, as: UInt64.self)
            $0.storeBytes(of: mmapOffset, toByteOffset: 24, as: UInt64.self)
        }
        return out
    }

    /// "Memory regions description": num regions (u32), padding (u32), regions.
    public static func parseTable(_ payload: [UInt8]) throws(VhostUserError) -> [VhostUserMemoryRegion] {
        guard payload.count >= 8 else {
            throw .badPayloadSize(.setMemTable, size: payload.count, expected: "at least 8")
        }
        let count = Int(payload.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        guard count >= 1, count <= VhostUserSpec.maxMemoryTableRegions else {
            throw .badMemoryTable("\(count) regions (1 to \(VhostUserSpec.maxMemoryTableRegions) allowed)")
        }
        let needed = 8 + count * VhostUserSpec.memoryRegionSize
        guard payload.count >= needed, payload.count <= 8 + VhostUserSpec.maxMemoryTableRegions * VhostUserSpec.memoryRegionSize else {
            throw .badPayloadSize(.setMemTable, size: payload.count, expected: "\(needed) for \(count) regions")
        }
        return payload.withUnsafeBytes { raw in
            (0..<count).map { VhostUserMemoryRegion(raw, at: 8 + $0 * VhostUserSpec.memoryRegionSize) }
        }
    }

    /// Encodes a memory table (for clients and tests).
    public static func encodeTable(_ regions: [VhostUserMemoryRegion]) -> [UInt8] {
        VhostUserU64.encode(UInt64(regions.count)) + regions.flatMap(\.bytes)
    }

    /// "Single memory region description": padding (u64) and one region.
    public static func parseSingle(_ payload: [UInt8], for request: VhostUserRequest) throws(VhostUserError) -> VhostUserMemoryRegion {
        guard payload.count == VhostUserSpec.singleMemoryRegionSize else {
            throw .badPayloadSize(request, size: payload.count, expected: "\(VhostUserSpec.singleMemoryRegionSize)")
        }
        return payload.withUnsafeBytes { VhostUserMemoryRegion($0, at: 8) }
    }

    /// Encodes a single memory region description.
    public var singleBytes: [UInt8] { [UInt8](repeating: 0, count: 8) + bytes }
}
