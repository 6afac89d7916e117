// An in-memory virtio-net guest driver — the device's twin (STYLE.md: every I/O boundary has an
// in-memory twin). The simulator uses it as a VM's NIC; tests use it to drive the device and to
// corrupt rings the way a hostile guest would.
//
// It owns its guest memory: one region at `guestPhysicalBase` holding, page-aligned, the two
// queues' rings, indirect tables, receive buffers, transmit slots and a scratch area for tests.
// This side allocates freely (it plays the guest); the device side does not.

/// How the driver lays one transmit frame (virtio-net header + frame) over descriptors.
public struct TransmitLayout: Equatable, Sendable {
    /// Descriptors to spread header + frame over, cut evenly (ignored when `cuts` is given).
    public var parts: Int
    /// Byte offsets into header + frame where a new descriptor starts (strictly increasing, inside).
    public var cuts: [Int]?
    /// Put the descriptors in an indirect table (needs VIRTIO_F_INDIRECT_DESC).
    public var indirect: Bool

    public init(parts: Int = 1, cuts: [Int]? = nil, indirect: Bool = false) {
        self.parts = parts
        self.cuts = cuts
        self.indirect = indirect
    }

    /// Header and frame in one descriptor (what Linux does for a linear skb).
    public static let single = TransmitLayout()
    /// Spread over `parts` descriptors.
    public static func split(_ parts: Int) -> TransmitLayout { TransmitLayout(parts: parts) }
    /// Spread over `parts` descriptors of an indirect table.
    public static func indirect(_ parts: Int) -> TransmitLayout { TransmitLayout(parts: parts, indirect: true) }

    /// The byte ranges of the descriptors for `total` bytes (empty ones left out).
    func ranges(total: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        forEachRange(total: total) { out.append($0) }
        return out
    }

    /// Calls `body` with each descriptor's byte range for `total` bytes, in order. Even cuts
    /// (`parts`) allocate nothing; explicit `cuts` are sorted in a temporary array.
    func forEachRange(total: Int, _ body: (Range<Int>) -> Void) {
        if let cuts {
            let starts = ([0] + cuts.filter { $0 > 0 && $0 < total }).sorted()
            var start = 0
            for s in starts.dropFirst() where s != start { body(start..<s); start = s }
            body(start..<total)
            return
        }
        var start = 0
        for i in 1..<max(parts, 1) {
            let s = total * i / parts
            if s != start { body(start..<s); start = s }
        }
        body(start..<total)
    }

    /// How many descriptors `forEachRange` yields for `total` bytes.
    func rangeCount(total: Int) -> Int {
        var n = 0
        forEachRange(total: total) { _ in n += 1 }
        return n
    }

    /// The `k`-th range for `total` bytes.
    func range(_ k: Int, total: Int) -> Range<Int> {
        var n = 0, found = 0..<0
        forEachRange(total: total) { r in
            if n == k { found = r }
            n += 1
        }
        return found
    }
}

/// A received frame, header stripped.
public struct ReceivedFrame: Equatable, Sendable {
    public var header: VirtioNetHeader
    public var bytes: [UInt8]
}

/// A virtio-net guest driver over owned in-memory guest memory: posts receive buffers, submits
/// frames, reaps used buffers, decides kicks — the other end of `VirtioNetQueuePair`.
public final class InMemoryGuestDriver {
    /// How the guest sets itself up.
    public struct Configuration: Sendable {
        /// The features the driver acknowledged (the device must be given the same set).
        public var features: VirtioFeatures = .deviceDefault
        /// Queue size of both queues.
        public var queueSize: UInt16 = 256
        /// Bytes of each receive buffer, header included.
        public var receiveBufferSize: Int = 1526
        /// Receive buffers kept posted.
        public var receiveBufferCount: Int = 256
        /// Split each receive buffer into descriptors of at most this many bytes (nil: one).
        public var receiveSegmentSize: Int? = nil
        /// Post receive buffers through indirect tables (needs VIRTIO_F_INDIRECT_DESC).
        public var receiveIndirect: Bool = false
        /// Largest frame (without header) the driver can submit.
        public var maximumTransmitFrame: Int = 65_589
        /// Most descriptors one transmit frame may use.
        public var maximumTransmitParts: Int = 8
        /// Guest physical address of the driver's memory.
        public var guestPhysicalBase: UInt64 = 0x4000_0000
        /// Where both rings' indices start (to cross 65535 quickly); the device's lastAvailIndex too.
        public var initialRingIndex: UInt16 = 0
        /// Bytes of free memory for tests' hand-made tables and buffers.
        public var scratchBytes: Int = 1 << 16

        public init() {}
    }

    public let configuration: Configuration
    /// The guest's memory (owned).
    public let memory: GuestMemoryRegions
    /// receiveq1, driver side.
    public var receiveRing: DriverVirtqueue
    /// transmitq1, driver side.
    public var transmitRing: DriverVirtqueue
    /// Bytes of the virtio-net header for the acknowledged features.
    public let headerSize: Int
    /// Guest address and pointer of the scratch area.
    public let scratchAddress: UInt64
    public let scratch: UnsafeMutableRawPointer
    /// Receive headers with num_buffers of 0 or beyond what the ring held, or lengths past a buffer.
    public private(set) var protocolErrors = 0

    private let base: UInt64
    private let basePointer: UnsafeMutableRawPointer
    private let receiveBuffersOffset: Int
    private let receiveStride: Int
    private let receiveTablesOffset: Int
    private let receiveTableStride: Int
    private let transmitSlotsOffset: Int
    private let transmitStride: Int
    private let transmitTablesOffset: Int
    private let transmitTableStride: Int
    private var freeReceiveSlots: [Int]
    private var receiveSlotForHead: [Int]
    private var assembled: [UInt8] = []

    public init(_ configuration: Configuration = Configuration()) throws(GuestMemoryError) {
        let c = configuration
        precondition(VirtqLayout.isValidQueueSize(c.queueSize), "queue size must be a power of 2 ≤ 32768")
        precondition(c.receiveBufferCount >= 0 && c.receiveBufferCount <= Int(c.queueSize))
        precondition(c.receiveBufferSize > 0 && c.maximumTransmitParts >= 1)
        self.configuration = c
        headerSize = VirtioNetHeader.size(for: c.features)
        let q = Int(c.queueSize)
        func pageRound(_ n: Int) -> Int { (n + 4095) & ~4095 }
        var offset = 0
        func reserve(_ bytes: Int) -> Int { defer { offset += pageRound(max(bytes, 1)) }; return offset }
        let rxDesc = reserve(VirtqLayout.descriptorTableBytes(size: c.queueSize))
        let rxAvail = reserve(VirtqLayout.availableRingBytes(size: c.queueSize))
        let rxUsed = reserve(VirtqLayout.usedRingBytes(size: c.queueSize))
        let txDesc = reserve(VirtqLayout.descriptorTableBytes(size: c.queueSize))
        let txAvail = reserve(VirtqLayout.availableRingBytes(size: c.queueSize))
        let txUsed = reserve(VirtqLayout.usedRingBytes(size: c.queueSize))
        let segmentsPerBuffer = c.receiveSegmentSize.map { (c.receiveBufferSize + $0 - 1) / $0 } ?? 1
        receiveTableStride = segmentsPerBuffer * VirtqLayout.descriptorSize
        receiveTablesOffset = reserve(receiveTableStride * c.receiveBufferCount)
        receiveStride = (c.receiveBufferSize + 63) & ~63
        receiveBuffersOffset = reserve(receiveStride * c.receiveBufferCount)
        transmitTableStride = c.maximumTransmitParts * VirtqLayout.descriptorSize
        transmitTablesOffset = reserve(transmitTableStride * q)
        transmitStride = (headerSize + c.maximumTransmitFrame + 63) & ~63
        transmitSlotsOffset = reserve(transmitStride * q)
        let scratchOffset = reserve(c.scratchBytes)

        memory = try GuestMemoryRegions(allocatingBytes: UInt64(offset), at: c.guestPhysicalBase)
        base = c.guestPhysicalBase
        basePointer = memory.translate(c.guestPhysicalBase, length: UInt64(offset))!
        let p = basePointer, b = base
        receiveRing = DriverVirtqueue(
            size: c.queueSize,
            addresses: VirtqueueAddresses(descriptorTable: b + UInt64(rxDesc), availableRing: b + UInt64(rxAvail),
                                          usedRing: b + UInt64(rxUsed)),
            descriptorTable: p + rxDesc, availableRing: p + rxAvail, usedRing: p + rxUsed,
            features: c.features, initialIndex: c.initialRingIndex)
        transmitRing = DriverVirtqueue(
            size: c.queueSize,
            addresses: VirtqueueAddresses(descriptorTable: b + UInt64(txDesc), availableRing: b + UInt64(txAvail),
                                          usedRing: b + UInt64(txUsed)),
            descriptorTable: p + txDesc, availableRing: p + txAvail, usedRing: p + txUsed,
            features: c.features, initialIndex: c.initialRingIndex)
        scratchAddress = b + UInt64(scratchOffset)
        scratch = p + scratchOffset
        freeReceiveSlots = Array((0..<c.receiveBufferCount).reversed())
        receiveSlotForHead = Array(repeating: -1, count: q)
    }

    /// What to give the device for receiveq1.
    public var receiveQueueConfiguration: VirtqueueConfiguration {
        VirtqueueConfiguration(size: configuration.queueSize, addresses: receiveRing.addresses,
                               lastAvailIndex: configuration.initialRingIndex)
    }

    /// What to give the device for transmitq1.
    public var transmitQueueConfiguration: VirtqueueConfiguration {
        VirtqueueConfiguration(size: configuration.queueSize, addresses: transmitRing.addresses,
                               lastAvailIndex: configuration.initialRingIndex)
    }

    /// A device-side queue pair over this driver's memory and rings, with the same features.
    public func makeDevice(maximumFrameSize: Int = VirtioNetQueuePair<GuestMemoryRegions>.defaultMaximumFrameSize)
        throws(VirtqueueSetupError) -> VirtioNetQueuePair<GuestMemoryRegions> {
        try VirtioNetQueuePair(memory: memory, receive: receiveQueueConfiguration, transmit: transmitQueueConfiguration,
                               features: configuration.features, maximumFrameSize: maximumFrameSize)
    }

    private func pointer(_ address: UInt64) -> UnsafeMutableRawPointer { basePointer + Int(address - base) }
    private func address(_ offset: Int) -> UInt64 { base + UInt64(offset) }

    // MARK: Receive

    /// Posts free receive buffers until `receiveBufferCount` are outstanding (or the ring is full).
    /// Returns how many were posted; ask `receiveKickNeeded()` afterwards.
    @discardableResult
    public func refillReceiveBuffers() -> Int {
        let c = configuration
        var posted = 0
        while let slot = freeReceiveSlots.last {
            let start = receiveBuffersOffset + slot * receiveStride
            // Segments of receiveSegmentSize (the last one shorter), all device-writable.
            let segment = c.receiveSegmentSize ?? c.receiveBufferSize
            let count = (c.receiveBufferSize + segment - 1) / segment
            func descriptor(_ i: Int) -> VirtqDescriptor {
                VirtqDescriptor(address: address(start + i * segment), length: UInt32(min(segment, c.receiveBufferSize - i * segment)),
                                flags: VirtqLayout.descriptorFlagWrite, next: 0)
            }
            let head: UInt16?
            if c.receiveIndirect {
                let table = receiveTablesOffset + slot * receiveTableStride
                head = receiveRing.addIndirect(count: count, table: basePointer + table, tableAddress: address(table), descriptor)
            } else {
                head = receiveRing.add(count: count, descriptor)
            }
            guard let head else { break }
            freeReceiveSlots.removeLast()
            receiveSlotForHead[Int(head)] = slot
            posted += 1
        }
        return posted
    }

    /// Whether to notify the device of the receive buffers posted since the last call.
    public func receiveKickNeeded() -> Bool { receiveRing.kickNeeded() }

    /// Reaps received frames: calls `body(header, frame)` for each complete one (a frame over
    /// num_buffers buffers waits until all are used), frees their buffers, and re-enables
    /// interrupts. Returns the number of frames.
    @discardableResult
    public func receiveFrames(_ body: (VirtioNetHeader, UnsafeRawBufferPointer) -> Void) -> Int {
        var frames = 0
        let mergeable = configuration.features.contains(.netMergeableRxBuffers)
        while let first = receiveRing.peekUsed() {
            guard let firstSlot = slot(forHead: first.id), Int(first.length) >= headerSize,
                  Int(first.length) <= configuration.receiveBufferSize else {
                protocolErrors += 1
                releaseUsedReceive()
                continue
            }
            let buffer = basePointer + receiveBuffersOffset + firstSlot * receiveStride
            let header = VirtioNetHeader(parsing: UnsafeRawBufferPointer(start: buffer, count: headerSize), size: headerSize)
            let count = mergeable ? Int(header.numBuffers) : 1
            guard count >= 1 else { protocolErrors += 1; releaseUsedReceive(); continue }
            guard receiveRing.usedPending() >= count else { break }
            assembled.removeAll(keepingCapacity: true)
            assembled.append(contentsOf: UnsafeRawBufferPointer(start: buffer + headerSize, count: Int(first.length) - headerSize))
            for i in 1..<max(count, 1) {
                let next = receiveRing.peekUsed(i)!
                guard let s = slot(forHead: next.id), Int(next.length) <= configuration.receiveBufferSize else {
                    protocolErrors += 1
                    continue
                }
                assembled.append(contentsOf: UnsafeRawBufferPointer(
                    start: basePointer + receiveBuffersOffset + s * receiveStride, count: Int(next.length)))
            }
            for _ in 0..<count { releaseUsedReceive() }
            assembled.withUnsafeBytes { body(header, $0) }
            frames += 1
        }
        receiveRing.enableInterrupts()
        return frames
    }

    /// Reaps received frames as values.
    public func receivedFrames() -> [ReceivedFrame] {
        var out: [ReceivedFrame] = []
        receiveFrames { header, bytes in out.append(ReceivedFrame(header: header, bytes: Array(bytes))) }
        return out
    }

    private func slot(forHead id: UInt32) -> Int? {
        guard id < UInt32(configuration.queueSize) else { return nil }
        let s = receiveSlotForHead[Int(id)]
        return s >= 0 ? s : nil
    }

    private func releaseUsedReceive() {
        guard let element = receiveRing.popUsed() else { return }
        if let s = slot(forHead: element.id) {
            receiveSlotForHead[Int(element.id)] = -1
            freeReceiveSlots.append(s)
        }
    }

    // MARK: Transmit

    /// Submits one frame (the driver prepends `header`) laid out as `layout`. Reaps completed
    /// transmissions first; returns false when the ring is still full. Ask `transmitKickNeeded()`
    /// after a batch.
    @discardableResult
    public func transmit(_ frame: UnsafeRawBufferPointer, header: VirtioNetHeader = VirtioNetHeader(),
                         layout: TransmitLayout = .single) -> Bool {
        precondition(frame.count <= configuration.maximumTransmitFrame, "frame larger than maximumTransmitFrame")
        let total = headerSize + frame.count
        let parts = layout.rangeCount(total: total)
        precondition(parts <= configuration.maximumTransmitParts, "more parts than maximumTransmitParts")
        let needed = layout.indirect ? 1 : parts
        if transmitRing.freeCount < needed { reapTransmitted() }
        guard transmitRing.freeCount >= needed else { return false }
        // The head is the next free descriptor either way; its slot holds the bytes.
        let head = Int(transmitRing.freeDescriptors.last!)
        let slotOffset = transmitSlotsOffset + head * transmitStride
        let slot = basePointer + slotOffset
        header.emit(into: UnsafeMutableRawBufferPointer(start: slot, count: headerSize), size: headerSize)
        if frame.count > 0 { (slot + headerSize).copyMemory(from: frame.baseAddress!, byteCount: frame.count) }
        func descriptor(_ k: Int) -> VirtqDescriptor {
            let r = parts == 1 ? 0..<total : layout.range(k, total: total)
            return VirtqDescriptor(address: address(slotOffset + r.lowerBound), length: UInt32(r.count), flags: 0, next: 0)
        }
        let added: UInt16?
        if layout.indirect {
            let table = transmitTablesOffset + head * transmitTableStride
            added = transmitRing.addIndirect(count: parts, table: basePointer + table, tableAddress: address(table), descriptor)
        } else {
            added = transmitRing.add(count: parts, descriptor)
        }
        precondition(added == UInt16(head))
        return true
    }

    /// Submits `frame` given as bytes.
    @discardableResult
    public func transmit(_ frame: [UInt8], header: VirtioNetHeader = VirtioNetHeader(), layout: TransmitLayout = .single) -> Bool {
        frame.withUnsafeBytes { transmit($0, header: header, layout: layout) }
    }

    /// Whether to notify the device of the frames submitted since the last call.
    public func transmitKickNeeded() -> Bool { transmitRing.kickNeeded() }

    /// Frees the descriptors of transmitted frames; returns how many frames completed.
    @discardableResult
    public func reapTransmitted() -> Int {
        var n = 0
        while transmitRing.popUsed() != nil { n += 1 }
        return n
    }
}
