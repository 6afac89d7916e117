// A vhost-user front end written for the tests: it plays QEMU's role against a VhostUserServer.
// Guest memory is a memfd mapped here and shared with the server through SET_MEM_TABLE (two
// regions at different guest addresses, user addresses and mmap offsets, so every translation is
// exercised); the rings are Virtio's DriverVirtqueue laid out in that memory; kicks and calls are
// eventfds. The server runs on the same thread: `settle()` runs its reactor until it is idle.

import Basics
import CShims
import Glibc
import HostIO
import Synchronization
import Testing
import Virtio
@testable import VhostUser

/// Where guest memory lies: region A for buffers, region B for rings.
enum TestLayout {
    static let regionSize: UInt64 = 2 << 20
    static let regionA = VhostUserMemoryRegion(guestPhysicalAddress: 0, size: regionSize,
                                               userAddress: 0x7F00_0000_0000, mmapOffset: 0)
    static let regionB = VhostUserMemoryRegion(guestPhysicalAddress: 0x1_0000_0000, size: regionSize,
                                               userAddress: 0x7F00_4000_0000, mmapOffset: regionSize)
    static let fileSize = Int(2 * regionSize)
    /// Each virtqueue's rings take 16 KiB of region B.
    static let ringStride = 0x4000
    /// Receive buffers in region A from 64 KiB, transmit slots from 1 MiB; 2 KiB each, 128 per queue.
    static let bufferSize = 2048
    static let buffersPerQueue = 128
    static func receiveBufferOffset(queue: Int, slot: Int) -> Int { 0x1_0000 + (queue * buffersPerQueue + slot) * bufferSize }
    static func transmitBufferOffset(queue: Int, slot: Int) -> Int { 0x10_0000 + (queue * buffersPerQueue + slot) * bufferSize }
}

/// Errors of the test front end itself.
struct FrontEndError: Error, CustomStringConvertible {
    var description: String
}

final class TestFrontEnd {
    static let headerSize = 12
    let stream: UnixStream
    let name: String
    let memfd: FileDescriptor
    let base: UnsafeMutableRawPointer
    let settle: () -> Void
    let features: VirtioFeatures
    var queueSize: UInt16 = 256
    var drivers: [Int: DriverVirtqueue] = [:]
    var kicks: [Int: EventFD] = [:]
    var calls: [Int: EventFD] = [:]
    /// Receive slot of each posted chain head, per receive queue.
    var receiveSlots: [Int: [UInt16: Int]] = [:]
    var freeReceiveSlots: [Int: [Int]] = [:]

    private static let counter = Atomic<Int>(0)

    /// Connects to `path`; `settle` runs the server until it is idle.
    init(path: String, features: VirtioFeatures = VhostUserDeviceConfiguration.defaultFeatures,
         memfdTag: String = "test", settle: @escaping () -> Void) throws {
        stream = try UnixStream(connectingTo: path)
        name = "sluice-vu-\(memfdTag)-\(getpid())-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        let fd = sluice_memfd_create(name, SLUICE_MFD_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        memfd = FileDescriptor(adopting: fd)
        guard ftruncate(fd, off_t(TestLayout.fileSize)) == 0 else { throw Errno.current }
        guard let p = mmap(nil, TestLayout.fileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw Errno.current
        }
        base = p
        self.settle = settle
        self.features = features
    }

    deinit { munmap(base, TestLayout.fileSize) }

    /// The memfd's name, as /proc/self/maps shows it ("/memfd:<name> (deleted)").
    var memfdName: String { name }

    // MARK: Addresses

    /// Pointer here for an offset into region A or B.
    func pointer(regionB: Bool, offset: Int) -> UnsafeMutableRawPointer {
        base + (regionB ? Int(TestLayout.regionSize) : 0) + offset
    }
    func guestAddress(regionB: Bool, offset: Int) -> UInt64 {
        (regionB ? TestLayout.regionB : TestLayout.regionA).guestPhysicalAddress + UInt64(offset)
    }
    func userAddress(regionB: Bool, offset: Int) -> UInt64 {
        (regionB ? TestLayout.regionB : TestLayout.regionA).userAddress + UInt64(offset)
    }

    func ringOffsets(queue: Int) -> (descriptor: Int, available: Int, used: Int) {
        let start = queue * TestLayout.ringStride
        return (start, start + 0x1000, start + 0x2000)
    }

    // MARK: Messages

    func send(_ message: VhostUserMessage, descriptors: [FileDescriptor] = []) throws {
        try message.bytes.withUnsafeBytes { try stream.sendAll($0, descriptors: descriptors) }
    }

    func send(_ request: VhostUserRequest, payload: [UInt8] = [], descriptors: [FileDescriptor] = [],
              needReply: Bool = false) throws {
        let flags = VhostUserSpec.version | (needReply ? VhostUserSpec.needReplyFlag : 0)
        try send(VhostUserMessage(request: request, flags: flags, payload: payload), descriptors: descriptors)
    }

    /// Reads one reply, running the server until it arrives (or the connection closes).
    func readReply() throws -> VhostUserMessage {
        var bytes: [UInt8] = []
        var wanted = VhostUserSpec.headerSize
        var header: VhostUserHeader?
        var buffer = [UInt8](repeating: 0, count: 4096)
        var idle = 0
        while true {
            if let h = header, bytes.count == VhostUserSpec.headerSize + Int(h.size) {
                return VhostUserMessage(header: h, payload: Array(bytes[VhostUserSpec.headerSize...]))
            }
            let got = try buffer.withUnsafeMutableBytes { try stream.receive(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<(wanted - bytes.count)])) }
            guard let got else {
                settle()
                idle += 1
                if idle > 200 { throw FrontEndError(description: "no reply") }
                if idle > 2 { usleep(1000) }
                continue
            }
            if got.count == 0 { throw FrontEndError(description: "connection closed while waiting for a reply") }
            bytes += buffer.prefix(got.count)
            if header == nil, bytes.count == VhostUserSpec.headerSize {
                header = try bytes.withUnsafeBytes { try VhostUserHeader(parsing: $0) }
                wanted = VhostUserSpec.headerSize + Int(header!.size)
            }
        }
    }

    func request(_ request: VhostUserRequest, payload: [UInt8] = []) throws -> VhostUserMessage {
        try send(request, payload: payload)
        settle()
        let reply = try readReply()
        #expect(reply.header.request == request.rawValue)
        #expect(reply.header.flags == VhostUserSpec.version | VhostUserSpec.replyFlag)
        return reply
    }

    func requestU64(_ request: VhostUserRequest) throws -> UInt64 {
        let reply = try self.request(request)
        return try #require(VhostUserU64.parse(reply.payload))
    }

    /// Sends with NEED_REPLY and returns the REPLY_ACK value (0 = success).
    func acked(_ request: VhostUserRequest, payload: [UInt8] = [], descriptors: [FileDescriptor] = []) throws -> UInt64 {
        try send(request, payload: payload, descriptors: descriptors, needReply: true)
        settle()
        let reply = try readReply()
        #expect(reply.header.request == request.rawValue)
        return try #require(VhostUserU64.parse(reply.payload))
    }

    /// True once the server has closed this connection (end of stream is readable).
    func isClosedByServer() throws -> Bool {
        settle()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            do {
                guard let got = try buffer.withUnsafeMutableBytes({ try stream.receive(into: $0) }) else { return false }
                if got.count == 0 { return true }
            } catch let error as Errno where error == .connectionReset {
                // Closed with our messages unread: the kernel resets the connection.
                return true
            }
        }
    }

    // MARK: Set-up, the way QEMU does it

    /// GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER, SET_FEATURES.
    func negotiate(protocolFeatures: VhostUserProtocolFeatures = [.multipleQueues, .replyAck]) throws {
        let offered = try requestU64(.getFeatures)
        #expect(offered & (1 << 30) != 0, "VHOST_USER_F_PROTOCOL_FEATURES offered")
        let protocolOffered = try requestU64(.getProtocolFeatures)
        let chosen = protocolOffered & protocolFeatures.rawValue
        try send(.setProtocolFeatures, payload: VhostUserU64.encode(chosen))
        try send(.setOwner)
        let wanted = (features.rawValue | 1 << 30) & offered
        try send(.setFeatures, payload: VhostUserU64.encode(wanted))
        settle()
    }

    func setMemTable() throws {
        try send(.setMemTable, payload: VhostUserMemoryRegion.encodeTable([TestLayout.regionA, TestLayout.regionB]),
                 descriptors: [memfd, memfd])
        settle()
    }

    /// SET_VRING_CALL for `queue` (QEMU sends it early, before the memory table).
    func setCall(queue: Int) throws {
        let call = try EventFD()
        calls[queue] = call
        try send(.setVringCall, payload: VhostUserU64.encode(UInt64(queue)), descriptors: [call.descriptor])
    }

    /// SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK (and CALL), enable: the
    /// sequence of QEMU's vhost_virtqueue_start. Builds the driver's rings on first use.
    func startQueue(_ queue: Int, base: UInt16 = 0, polling: Bool = false, enable: Bool = true) throws {
        let (d, a, u) = ringOffsets(queue: queue)
        if drivers[queue] == nil {
            drivers[queue] = DriverVirtqueue(
                size: queueSize,
                addresses: VirtqueueAddresses(descriptorTable: guestAddress(regionB: true, offset: d),
                                              availableRing: guestAddress(regionB: true, offset: a),
                                              usedRing: guestAddress(regionB: true, offset: u)),
                descriptorTable: pointer(regionB: true, offset: d), availableRing: pointer(regionB: true, offset: a),
                usedRing: pointer(regionB: true, offset: u), features: features, initialIndex: base)
            if queue % 2 == 0 {
                receiveSlots[queue] = [:]
                freeReceiveSlots[queue] = Array((0..<TestLayout.buffersPerQueue).reversed())
            }
        }
        try send(.setVringNum, payload: VhostUserVringState(index: UInt32(queue), num: UInt32(queueSize)).bytes)
        try send(.setVringBase, payload: VhostUserVringState(index: UInt32(queue), num: UInt32(base)).bytes)
        try send(.setVringAddr, payload: VhostUserVringAddress(
            index: UInt32(queue), descriptor: userAddress(regionB: true, offset: d),
            used: userAddress(regionB: true, offset: u), available: userAddress(regionB: true, offset: a)).bytes)
        if polling {
            try send(.setVringKick, payload: VhostUserU64.encode(UInt64(queue) | VhostUserSpec.vringInvalidFDFlag))
        } else {
            let kick = try EventFD()
            kicks[queue] = kick
            try send(.setVringKick, payload: VhostUserU64.encode(UInt64(queue)), descriptors: [kick.descriptor])
        }
        if calls[queue] == nil { try setCall(queue: queue) }
        if enable { try send(.setVringEnable, payload: VhostUserVringState(index: UInt32(queue), num: 1).bytes) }
        settle()
    }

    /// Both queues of `pair`.
    func startPair(_ pair: Int, base: UInt16 = 0, polling: Bool = false) throws {
        try startQueue(2 * pair, base: base, polling: polling)
        try startQueue(2 * pair + 1, base: base, polling: polling)
    }

    /// GET_VRING_BASE: stops the ring, returns where the back end got to.
    func stopQueue(_ queue: Int) throws -> UInt32 {
        let reply = try request(.getVringBase, payload: VhostUserVringState(index: UInt32(queue), num: 0).bytes)
        let state = try #require(VhostUserVringState(parsing: reply.payload))
        #expect(state.index == UInt32(queue))
        return state.num
    }

    // MARK: Traffic

    /// Posts receive buffers on pair `pair` (up to `count`) and kicks if the device asks.
    func postReceiveBuffers(pair: Int, count: Int = 64, bufferSize: Int = TestLayout.bufferSize) throws {
        let q = 2 * pair
        for _ in 0..<count {
            guard let slot = freeReceiveSlots[q]?.popLast() else { break }
            let offset = TestLayout.receiveBufferOffset(queue: q, slot: slot)
            let added = drivers[q]!.add([VirtqDescriptor(
                address: guestAddress(regionB: false, offset: offset), length: UInt32(bufferSize),
                flags: VirtqLayout.descriptorFlagWrite, next: 0)])
            let head = try #require(added)
            receiveSlots[q]![head] = slot
        }
        if drivers[q]!.kickNeeded() { try kicks[q]?.signal() }
        settle()
    }

    /// Transmits `frame` on pair `pair` (12-byte zero header + frame in one descriptor) and kicks.
    func transmit(_ frame: [UInt8], pair: Int) throws {
        let q = 2 * pair + 1
        while drivers[q]!.popUsed() != nil {}
        let slot = Int(drivers[q]!.availIndex) % TestLayout.buffersPerQueue
        let offset = TestLayout.transmitBufferOffset(queue: q, slot: slot)
        let p = pointer(regionB: false, offset: offset)
        memset(p, 0, Self.headerSize)
        frame.withUnsafeBytes { (p + Self.headerSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let added = drivers[q]!.add([VirtqDescriptor(
            address: guestAddress(regionB: false, offset: offset), length: UInt32(Self.headerSize + frame.count),
            flags: 0, next: 0)])
        #expect(added != nil, "transmit ring full")
        if drivers[q]!.kickNeeded() { try kicks[q]?.signal() }
        settle()
    }

    /// Frames the device wrote into pair `pair`'s receive queue (mergeable buffers reassembled).
    func receivedFrames(pair: Int) -> [[UInt8]] {
        let q = 2 * pair
        var frames: [[UInt8]] = []
        while let first = drivers[q]!.peekUsed() {
            let count: Int
            let slot = receiveSlots[q]![UInt16(first.id)]!
            let p = pointer(regionB: false, offset: TestLayout.receiveBufferOffset(queue: q, slot: slot))
            count = Int(p.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
            guard drivers[q]!.usedPending() >= max(count, 1) else { break }
            var frame: [UInt8] = []
            for i in 0..<max(count, 1) {
                let element = drivers[q]!.popUsed()!
                let s = receiveSlots[q]!.removeValue(forKey: UInt16(element.id))!
                freeReceiveSlots[q]!.append(s)
                let buffer = pointer(regionB: false, offset: TestLayout.receiveBufferOffset(queue: q, slot: s))
                let skip = i == 0 ? Self.headerSize : 0
                frame += UnsafeRawBufferPointer(start: buffer + skip, count: Int(element.length) - skip)
            }
            frames.append(frame)
        }
        drivers[q]!.enableInterrupts()
        return frames
    }

    /// The value of the call eventfd of `queue` (reset to 0).
    func drainCall(_ queue: Int) throws -> UInt64 { try calls[queue]?.drain() ?? 0 }

    /// Closes the connection like a front end that goes away.
    func disconnect() throws {
        try stream.descriptor.close()
        settle()
    }
}

/// Deterministic test frames with a recognisable prefix.
func testFrame(_ length: Int, tag: UInt8) -> [UInt8] {
    var rng = SeededRandom(seed: UInt64(length) << 8 | UInt64(tag))
    var frame: [UInt8] = [0x02, 0, 0, 0, 0, tag, 0x02, 0, 0, 0, 1, tag, 0x88, 0xB5]
    while frame.count < length { frame.append(UInt8(truncatingIfNeeded: rng.next())) }
    return Array(frame.prefix(length))
}
