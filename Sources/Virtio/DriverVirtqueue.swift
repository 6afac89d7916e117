// The driver side of a split virtqueue — OASIS virtio 1.2 §2.7.13 "Supplying Buffers to The
// Device" and §2.7.14 "Receiving Used Buffers From The Device". What a guest kernel's virtio_ring
// does, for the in-memory guest driver (the simulator's NIC) and for tests, which also use the raw
// accessors to write rings a real driver never would.

/// The driver side of one split virtqueue whose rings live in memory this process owns.
public struct DriverVirtqueue {
    /// Queue size.
    public let size: UInt16
    /// Guest physical addresses of the rings (hand them to the device).
    public let addresses: VirtqueueAddresses
    /// Raw ring memory, for tests that corrupt it.
    public let descriptorTable: UnsafeMutableRawPointer
    public let availableRing: UnsafeMutableRawPointer
    public let usedRing: UnsafeMutableRawPointer
    /// VIRTIO_F_EVENT_IDX was negotiated.
    public let eventIndex: Bool

    /// Free descriptor indices (a stack).
    var freeDescriptors: [UInt16]
    /// The driver's own copy of each table entry's `next` (the device may not be trusted with
    /// the table), to walk a chain back onto the free stack.
    var nextShadow: [UInt16]
    /// Descriptors in each outstanding chain, by head (0: not outstanding). An indirect chain
    /// takes one.
    var chainLength: [UInt16]
    /// avail->idx as last published.
    public private(set) var availIndex: UInt16
    /// avail->idx when the driver last decided whether to notify the device.
    var availIndexAtLastKick: UInt16
    /// The next used-ring index the driver will read.
    public private(set) var lastUsedIndex: UInt16

    /// A ring over memory at the given pointers, starting with both indices at `initialIndex`
    /// (written into the rings, as a driver resuming a queue would find them).
    public init(size: UInt16, addresses: VirtqueueAddresses, descriptorTable: UnsafeMutableRawPointer,
                availableRing: UnsafeMutableRawPointer, usedRing: UnsafeMutableRawPointer,
                features: VirtioFeatures, initialIndex: UInt16 = 0) {
        precondition(VirtqLayout.isValidQueueSize(size))
        self.size = size
        self.addresses = addresses
        self.descriptorTable = descriptorTable
        self.availableRing = availableRing
        self.usedRing = usedRing
        eventIndex = features.contains(.ringEventIndex)
        freeDescriptors = (0..<size).reversed().map { $0 }
        freeDescriptors.reserveCapacity(Int(size))
        nextShadow = Array(repeating: 0, count: Int(size))
        chainLength = Array(repeating: 0, count: Int(size))
        availIndex = initialIndex
        availIndexAtLastKick = initialIndex
        lastUsedIndex = initialIndex
        // "The driver MUST initialize flags in the used ring to 0 when allocating the used ring."
        SharedRing.storeRelaxed(usedRing + VirtqLayout.usedFlagsOffset, 0)
        SharedRing.storeRelaxed(usedRing + VirtqLayout.usedIndexOffset, initialIndex)
        SharedRing.storeRelaxed(availableRing + VirtqLayout.availFlagsOffset, 0)
        SharedRing.storeRelaxed(availableRing + VirtqLayout.availIndexOffset, initialIndex)
        SharedRing.storeRelaxed(availableRing + VirtqLayout.usedEventOffset(size: size), initialIndex)
    }

    /// Descriptors not in use.
    public var freeCount: Int { freeDescriptors.count }

    // MARK: Supplying buffers

    /// Places `descriptors` as one chain in free table entries (linking them with NEXT) and makes
    /// it available. Returns the head, or nil when too few descriptors are free.
    public mutating func add(_ descriptors: [VirtqDescriptor]) -> UInt16? {
        add(count: descriptors.count) { descriptors[$0] }
    }

    /// `add` without an array: descriptor `i` of the chain is `descriptor(i)` (its NEXT flag and
    /// `next` are set here). Allocates nothing.
    public mutating func add(count: Int, _ descriptor: (Int) -> VirtqDescriptor) -> UInt16? {
        guard count > 0, count <= freeDescriptors.count else { return nil }
        // The chain takes the top `count` entries of the free stack, top first.
        let top = freeDescriptors.count - 1
        let head = freeDescriptors[top]
        for i in 0..<count {
            let index = freeDescriptors[top - i]
            var d = descriptor(i)
            if i + 1 < count {
                d.flags |= VirtqLayout.descriptorFlagNext
                d.next = freeDescriptors[top - i - 1]
            } else {
                d.flags &= ~VirtqLayout.descriptorFlagNext
                d.next = 0
            }
            nextShadow[Int(index)] = d.next
            d.store(table: descriptorTable, index: Int(index))
        }
        freeDescriptors.removeLast(count)
        chainLength[Int(head)] = UInt16(count)
        makeAvailable(head: head)
        return head
    }

    /// Writes `descriptors` as an indirect table at `table` (guest address `tableAddress`) and
    /// makes one ring descriptor pointing at it available. Returns the head, or nil when none is free.
    public mutating func addIndirect(_ descriptors: [VirtqDescriptor], table: UnsafeMutableRawPointer,
                                     tableAddress: UInt64) -> UInt16? {
        addIndirect(count: descriptors.count, table: table, tableAddress: tableAddress) { descriptors[$0] }
    }

    /// `addIndirect` without an array: table entry `i` is `descriptor(i)`. Allocates nothing.
    public mutating func addIndirect(count: Int, table: UnsafeMutableRawPointer, tableAddress: UInt64,
                                     _ descriptor: (Int) -> VirtqDescriptor) -> UInt16? {
        guard count > 0, let index = freeDescriptors.popLast() else { return nil }
        for i in 0..<count {
            var d = descriptor(i)
            if i + 1 < count {
                d.flags |= VirtqLayout.descriptorFlagNext
                d.next = UInt16(i + 1)
            }
            d.store(table: table, index: i)
        }
        VirtqDescriptor(address: tableAddress, length: UInt32(count * VirtqLayout.descriptorSize),
                        flags: VirtqLayout.descriptorFlagIndirect, next: 0)
            .store(table: descriptorTable, index: Int(index))
        chainLength[Int(index)] = 1
        makeAvailable(head: index)
        return index
    }

    /// Puts `head` in the next available-ring slot and publishes avail->idx (after a release
    /// barrier: "The driver MUST perform a suitable memory barrier before the idx update").
    public mutating func makeAvailable(head: UInt16) {
        SharedRing.storeLE16(availableRing, VirtqLayout.availRingOffset + 2 * Int(availIndex & (size &- 1)), head)
        availIndex &+= 1
        SharedRing.storeReleasing(availableRing + VirtqLayout.availIndexOffset, availIndex)
    }

    /// Whether the device wants an available-buffer notification for what was added since the
    /// last call (avail_event with EVENT_IDX, else the NO_NOTIFY flag).
    public mutating func kickNeeded() -> Bool {
        // "The driver MUST perform a suitable memory barrier before reading flags or avail_event,
        // to avoid missing a notification."
        SharedRing.fullFence()
        let old = availIndexAtLastKick
        availIndexAtLastKick = availIndex
        guard old != availIndex else { return false }
        if eventIndex {
            let availEvent = SharedRing.loadRelaxed(usedRing + VirtqLayout.availEventOffset(size: size))
            return VirtqLayout.needsEvent(event: availEvent, new: availIndex, old: old)
        }
        return SharedRing.loadRelaxed(usedRing + VirtqLayout.usedFlagsOffset) & VirtqLayout.usedFlagNoNotify == 0
    }

    // MARK: Used buffers

    /// Used entries published by the device and not yet taken.
    public func usedPending() -> Int {
        Int(SharedRing.loadAcquiring(usedRing + VirtqLayout.usedIndexOffset) &- lastUsedIndex)
    }

    /// The `offset`-th pending used element, without taking it.
    public func peekUsed(_ offset: Int = 0) -> (id: UInt32, length: UInt32)? {
        guard offset < usedPending() else { return nil }
        let slot = Int((lastUsedIndex &+ UInt16(truncatingIfNeeded: offset)) & (size &- 1))
        let element = usedRing + VirtqLayout.usedRingOffset + VirtqLayout.usedElementSize * slot
        return (SharedRing.loadLE32(element, 0), SharedRing.loadLE32(element, 4))
    }

    /// Takes the next used element and frees its chain's descriptors.
    public mutating func popUsed() -> (id: UInt32, length: UInt32)? {
        guard let element = peekUsed() else { return nil }
        lastUsedIndex &+= 1
        if element.id < UInt32(size) {
            // Back onto the stack in reverse chain order, so the head is on top again.
            let length = Int(chainLength[Int(element.id)])
            chainLength[Int(element.id)] = 0
            let bottom = freeDescriptors.count
            freeDescriptors.append(contentsOf: repeatElement(0, count: length))
            var index = UInt16(element.id)
            for k in 0..<length {
                freeDescriptors[bottom + length - 1 - k] = index
                index = nextShadow[Int(index)]
            }
        }
        return element
    }

    /// Asks for a used-buffer notification when the device writes used entry `index` (EVENT_IDX:
    /// used_event), or simply on every entry (flags = 0) without EVENT_IDX.
    public mutating func requestInterrupt(atUsedIndex index: UInt16) {
        if eventIndex {
            SharedRing.storeRelaxed(availableRing + VirtqLayout.usedEventOffset(size: size), index)
        } else {
            SharedRing.storeRelaxed(availableRing + VirtqLayout.availFlagsOffset, 0)
        }
        SharedRing.fullFence()
    }

    /// Asks for a notification on the next used entry (what a driver does after draining the ring).
    public mutating func enableInterrupts() {
        requestInterrupt(atUsedIndex: lastUsedIndex)
    }

    /// Asks for no used-buffer notifications (VIRTQ_AVAIL_F_NO_INTERRUPT); with EVENT_IDX, moves
    /// used_event as far away as it goes.
    public mutating func disableInterrupts() {
        if eventIndex {
            SharedRing.storeRelaxed(availableRing + VirtqLayout.usedEventOffset(size: size), lastUsedIndex &- 1)
        } else {
            SharedRing.storeRelaxed(availableRing + VirtqLayout.availFlagsOffset, VirtqLayout.availFlagNoInterrupt)
        }
    }

    // MARK: Raw access for tests

    /// Writes table entry `index` as is (no free-list bookkeeping).
    public func writeDescriptor(_ descriptor: VirtqDescriptor, at index: Int) {
        descriptor.store(table: descriptorTable, index: index)
    }

    /// Overwrites avail->idx with any value (a hostile guest).
    public mutating func setAvailIndexRaw(_ index: UInt16) {
        availIndex = index
        SharedRing.storeReleasing(availableRing + VirtqLayout.availIndexOffset, index)
    }

    /// avail_event as the device last wrote it.
    public var availEvent: UInt16 { SharedRing.loadRelaxed(usedRing + VirtqLayout.availEventOffset(size: size)) }
    /// The used ring's flags as the device last wrote them.
    public var usedFlags: UInt16 { SharedRing.loadRelaxed(usedRing + VirtqLayout.usedFlagsOffset) }
}
