// The device side of a split virtqueue — OASIS virtio 1.2 §2.7.
//
// Sans-IO: the queue reads and writes the rings in guest memory and answers "notify the guest?";
// the caller does the notifying (an eventfd write for vhost-user, a callback in the simulator) and
// is told, through `brokenReason`, when the guest broke the rules and the device needs a reset.
//
// Ring memory is translated once, when the queue is set up; after that every access is through
// the pointers checked here. Buffer addresses from descriptors are checked one by one as chains
// are popped (see `resolveChain`). Nothing the guest writes can make the queue read or write
// outside `memory`, trap, or loop for more than a queue's worth of descriptors.

/// Guest physical addresses of the three parts of a split virtqueue.
public struct VirtqueueAddresses: Equatable, Hashable, Sendable {
    /// The Descriptor Area ("Descriptor Table").
    public var descriptorTable: UInt64
    /// The Driver Area ("Available Ring").
    public var availableRing: UInt64
    /// The Device Area ("Used Ring").
    public var usedRing: UInt64

    @inlinable public init(descriptorTable: UInt64, availableRing: UInt64, usedRing: UInt64) {
        self.descriptorTable = descriptorTable
        self.availableRing = availableRing
        self.usedRing = usedRing
    }
}

/// Everything needed to start a queue: vhost-user's SET_VRING_NUM, SET_VRING_ADDR and SET_VRING_BASE.
public struct VirtqueueConfiguration: Equatable, Hashable, Sendable {
    /// Queue size: a power of 2, at most 32768.
    public var size: UInt16
    /// Guest physical addresses of the rings (vhost-user gives user addresses: translate them with
    /// `GuestMemory.guestPhysicalAddress(ofUserAddress:)` first).
    public var addresses: VirtqueueAddresses
    /// The next available-ring index the device will read (SET_VRING_BASE; 0 for a fresh queue).
    public var lastAvailIndex: UInt16

    @inlinable public init(size: UInt16, addresses: VirtqueueAddresses, lastAvailIndex: UInt16 = 0) {
        self.size = size
        self.addresses = addresses
        self.lastAvailIndex = lastAvailIndex
    }
}

/// The device side of one split virtqueue over guest memory `Memory`.
///
/// Typical batch: `while count < limit, queue.popAvailable(into: &chain) { …; queue.pushUsed(…) }`
/// then `if queue.shouldNotifyGuest() { signal the guest }`. Popping until it returns false also
/// re-arms the guest's notifications (EVENT_IDX or the NO_NOTIFY flag), race-free.
///
/// A value type for cheap storage, but it is the one owner of its ring state: don't use two copies.
public struct SplitVirtqueue<Memory: GuestMemory> {
    /// The guest memory the rings and buffers live in.
    public let memory: Memory
    /// Queue size (entries in each ring).
    public let size: UInt16
    @usableFromInline let mask: UInt16
    @usableFromInline let descriptorTable: UnsafeMutableRawPointer
    @usableFromInline let availableRing: UnsafeMutableRawPointer
    @usableFromInline let usedRing: UnsafeMutableRawPointer
    /// VIRTIO_F_EVENT_IDX was negotiated.
    public let eventIndex: Bool
    /// VIRTIO_F_INDIRECT_DESC was negotiated.
    public let indirectDescriptors: Bool

    @usableFromInline var _lastAvail: UInt16
    @usableFromInline var _shadowAvail: UInt16
    @usableFromInline var _usedIndex: UInt16
    @usableFromInline var _publishedUsed: UInt16
    @usableFromInline var _signalledUsed: UInt16
    @usableFromInline var _signalledValid: Bool
    @usableFromInline var _notificationsEnabled: Bool
    @usableFromInline var _noNotifyFlagSet: Bool
    @usableFromInline var _broken: VirtqueueBrokenReason?

    /// Sets the queue up on the driver's rings; `features` is the set the driver acknowledged.
    /// The used index is read from the used ring (the driver has seen it); the available index to
    /// resume from is `configuration.lastAvailIndex`.
    public init(memory: Memory, configuration: VirtqueueConfiguration, features: VirtioFeatures) throws(VirtqueueSetupError) {
        let size = configuration.size
        guard VirtqLayout.isValidQueueSize(size) else { throw .invalidQueueSize(size) }
        func map(_ part: VirtqueuePart, _ address: UInt64, bytes: Int, alignment: UInt64) throws(VirtqueueSetupError) -> UnsafeMutableRawPointer {
            guard address % alignment == 0 else { throw .misaligned(part, address: address) }
            guard let p = memory.translate(address, length: UInt64(bytes)) else { throw .outsideGuestMemory(part, address: address) }
            // The index fields are accessed atomically, so the mapping must keep the alignment too.
            guard UInt(bitPattern: p) % UInt(alignment) == 0 else { throw .misaligned(part, address: address) }
            return p
        }
        let a = configuration.addresses
        descriptorTable = try map(.descriptorTable, a.descriptorTable, bytes: VirtqLayout.descriptorTableBytes(size: size),
                                  alignment: VirtqLayout.descriptorTableAlignment)
        availableRing = try map(.availableRing, a.availableRing, bytes: VirtqLayout.availableRingBytes(size: size),
                                alignment: VirtqLayout.availableRingAlignment)
        usedRing = try map(.usedRing, a.usedRing, bytes: VirtqLayout.usedRingBytes(size: size),
                           alignment: VirtqLayout.usedRingAlignment)
        self.memory = memory
        self.size = size
        mask = size &- 1
        eventIndex = features.contains(.ringEventIndex)
        indirectDescriptors = features.contains(.indirectDescriptors)
        _lastAvail = configuration.lastAvailIndex
        _shadowAvail = configuration.lastAvailIndex
        _usedIndex = SharedRing.loadAcquiring(usedRing + VirtqLayout.usedIndexOffset)
        _publishedUsed = _usedIndex
        _signalledUsed = _usedIndex
        _signalledValid = false
        _notificationsEnabled = true
        _noNotifyFlagSet = SharedRing.loadRelaxed(usedRing + VirtqLayout.usedFlagsOffset) & VirtqLayout.usedFlagNoNotify != 0
        _broken = nil
        armNotifications()
    }

    // MARK: State

    /// Why the queue stopped, or nil while it works. Once set, the queue pops and pushes nothing
    /// more; the device should set DEVICE_NEEDS_RESET and notify a configuration change.
    @inlinable public var brokenReason: VirtqueueBrokenReason? { _broken }
    /// True once the guest broke a rule on this queue.
    @inlinable public var isBroken: Bool { _broken != nil }
    /// The next available-ring index the device will read: what vhost-user GET_VRING_BASE returns.
    @inlinable public var lastAvailIndex: UInt16 { _lastAvail }
    /// The used index the device will write next (published or not).
    @inlinable public var usedIndex: UInt16 { _usedIndex }

    /// Restarts reading the available ring at `index` (vhost-user SET_VRING_BASE on a stopped queue).
    public mutating func setLastAvailIndex(_ index: UInt16) {
        _lastAvail = index
        _shadowAvail = index
        armNotifications()
    }

    /// Stops the queue for `reason` (first reason wins). Also for device-type rules, e.g. a
    /// writable buffer on a transmit queue.
    @inlinable
    public mutating func markBroken(_ reason: VirtqueueBrokenReason) {
        if _broken == nil { _broken = reason }
    }

    // MARK: Available ring

    /// Pops the next available chain into `chain`. False when the ring is empty (notifications
    /// are re-armed first, unless disabled) or the queue is broken (see `brokenReason`).
    @inlinable
    public mutating func popAvailable(into chain: inout VirtqChain) -> Bool {
        if _broken != nil { return false }
        if _lastAvail == _shadowAvail {
            guard refreshAvailable(arming: _notificationsEnabled) else { return false }
        }
        // Ordered after the acquiring load of avail->idx that revealed this entry.
        let head = SharedRing.loadLE16(availableRing, VirtqLayout.availRingOffset &+ 2 &* Int(_lastAvail & mask))
        _lastAvail &+= 1
        if let reason = resolveChain(head: head, into: &chain) {
            markBroken(reason)
            return false
        }
        return true
    }

    /// True when at least one chain is waiting (re-reads avail->idx; never arms notifications).
    @inlinable
    public mutating func hasAvailable() -> Bool {
        if _broken != nil { return false }
        if _lastAvail != _shadowAvail { return true }
        return refreshAvailable(arming: false)
    }

    /// Gives back the last `count` popped chains, unused, so the next pops return them again
    /// (QEMU's virtqueue_unpop). For a receive packet that did not fit.
    @inlinable
    public mutating func rewindAvailable(by count: UInt16) {
        _lastAvail &-= count
    }

    /// Asks the guest not to notify the device of new buffers (while the device polls anyway).
    public mutating func disableNotifications() {
        _notificationsEnabled = false
        // With EVENT_IDX nothing to write: avail_event stays behind, so the guest kicks at most once more.
        if !eventIndex && !_noNotifyFlagSet {
            SharedRing.storeRelaxed(usedRing + VirtqLayout.usedFlagsOffset, VirtqLayout.usedFlagNoNotify)
            _noNotifyFlagSet = true
        }
    }

    /// Asks the guest to notify the device again. Returns true when buffers are already waiting,
    /// which the guest will not notify about: pop them now.
    public mutating func enableNotifications() -> Bool {
        _notificationsEnabled = true
        guard _broken == nil else { return false }
        armNotifications()
        SharedRing.fullFence()
        guard readAvailableIndex() else { return false }
        return _shadowAvail != _lastAvail
    }

    /// Re-reads avail->idx; when nothing is new and `arming`, re-arms notifications and checks once
    /// more, so a buffer added meanwhile is either seen now or notified.
    @inlinable
    mutating func refreshAvailable(arming: Bool) -> Bool {
        guard readAvailableIndex() else { return false }
        if _shadowAvail != _lastAvail { return true }
        guard arming else { return false }
        armNotifications()
        // Store avail_event (or clear NO_NOTIFY) before re-reading avail->idx: the guest does the
        // mirror image (store idx, then read avail_event), so one of us sees the other.
        SharedRing.fullFence()
        guard readAvailableIndex() else { return false }
        return _shadowAvail != _lastAvail
    }

    @inlinable
    mutating func readAvailableIndex() -> Bool {
        let index = SharedRing.loadAcquiring(availableRing + VirtqLayout.availIndexOffset)
        // "the ring buffer is the same size as the descriptor table" (§2.7.13): the guest can be at
        // most a queue's worth ahead; "A driver MUST NOT decrement the available idx".
        guard index &- _lastAvail <= size else {
            markBroken(.availableIndexJump(from: _lastAvail, to: index))
            return false
        }
        _shadowAvail = index
        return true
    }

    /// Tells the guest to notify the device when it adds the entry numbered `lastAvailIndex`.
    @inlinable
    mutating func armNotifications() {
        if eventIndex {
            // "The device MAY use avail_event to advise the driver that notifications are unnecessary
            // until the driver writes entry with an index specified by avail_event" (§2.7.10).
            SharedRing.storeRelaxed(usedRing + VirtqLayout.availEventOffset(size: size), _lastAvail)
        } else if _noNotifyFlagSet {
            SharedRing.storeRelaxed(usedRing + VirtqLayout.usedFlagsOffset, 0)
            _noNotifyFlagSet = false
        }
    }

    // MARK: Descriptor chains

    /// Walks the chain starting at `head` into `chain`, checking every rule of §2.7.5. Returns
    /// why the chain is unacceptable, or nil.
    @inlinable
    func resolveChain(head: UInt16, into chain: inout VirtqChain) -> VirtqueueBrokenReason? {
        chain.reset(head: head)
        guard head < size else { return .descriptorIndexOutOfRange(index: head) }
        var table = UnsafeRawPointer(descriptorTable)
        var tableSize = Int(size)
        var index = Int(head)
        var visited = 0
        var inIndirectTable = false
        var seenWritable = false
        var total: UInt64 = 0
        while true {
            // "The number of descriptors in the table is defined by the queue size for this
            // virtqueue: this is the maximum possible descriptor chain length." More is a loop.
            visited &+= 1
            guard visited <= tableSize else { return .descriptorLoop }
            let d = VirtqDescriptor(table: table, index: index)
            if d.isIndirect {
                // "The driver MUST NOT set the VIRTQ_DESC_F_INDIRECT flag unless the
                // VIRTIO_F_INDIRECT_DESC feature was negotiated. The driver MUST NOT set the
                // VIRTQ_DESC_F_INDIRECT flag within an indirect descriptor (ie. only one table per
                // descriptor). […] A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and
                // VIRTQ_DESC_F_NEXT in flags." "The device MUST ignore the write-only flag in the
                // descriptor that refers to an indirect table."
                guard indirectDescriptors else { return .indirectNotNegotiated }
                guard !inIndirectTable else { return .nestedIndirect }
                guard !d.hasNext else { return .indirectWithNext }
                guard d.length > 0, d.length % UInt32(VirtqLayout.descriptorSize) == 0 else {
                    return .indirectTableMisaligned(length: d.length)
                }
                let entries = Int(d.length) / VirtqLayout.descriptorSize
                guard entries <= Int(size) else { return .indirectTableTooLarge(entries: entries) }
                guard let p = memory.translate(d.address, length: UInt64(d.length)) else {
                    return .descriptorOutOfBounds(index: UInt16(truncatingIfNeeded: index))
                }
                // "The first indirect descriptor is located at start of the indirect descriptor
                // table (index 0), additional indirect descriptors are chained by next."
                table = UnsafeRawPointer(p)
                tableSize = entries
                index = 0
                visited = 0
                inIndirectTable = true
                continue
            }
            guard d.length > 0 else { return .zeroLengthDescriptor(index: UInt16(truncatingIfNeeded: index)) }
            if d.isWritable {
                seenWritable = true
            } else if seenWritable {
                return .readableAfterWritable(index: UInt16(truncatingIfNeeded: index))
            }
            total &+= UInt64(d.length)
            guard total <= UInt64(UInt32.max) else { return .chainTooLarge }
            // Map the buffer run by run: it may straddle two adjacent regions.
            var address = d.address
            var remaining = UInt64(d.length)
            while remaining > 0 {
                guard let run = memory.run(at: address, upTo: remaining) else {
                    return .descriptorOutOfBounds(index: UInt16(truncatingIfNeeded: index))
                }
                guard chain.append(run.pointer, length: Int(run.length), writable: d.isWritable) else {
                    return .tooManySegments(limit: chain.capacity)
                }
                remaining -= run.length
                let (next, overflow) = address.addingReportingOverflow(run.length)
                if overflow && remaining > 0 { return .descriptorOutOfBounds(index: UInt16(truncatingIfNeeded: index)) }
                address = next
            }
            guard d.hasNext else { return nil }
            guard Int(d.next) < tableSize else { return .descriptorIndexOutOfRange(index: d.next) }
            index = Int(d.next)
        }
    }

    // MARK: Used ring

    /// Records chain `head` as used with `length` bytes written into it. Becomes visible to the
    /// guest at the next `publishUsed()` / `shouldNotifyGuest()`.
    @inlinable
    public mutating func pushUsed(head: UInt16, length: UInt32) {
        guard _broken == nil else { return }
        // "The device MUST set len prior to updating the used idx."
        let element = usedRing + (VirtqLayout.usedRingOffset &+ VirtqLayout.usedElementSize &* Int(_usedIndex & mask))
        SharedRing.storeLE32(element, 0, UInt32(head))
        SharedRing.storeLE32(element, 4, length)
        _usedIndex &+= 1
    }

    /// Takes back the last `count` used entries, which must not have been published yet.
    @inlinable
    public mutating func rewindUsed(by count: UInt16) {
        precondition(count <= _usedIndex &- _publishedUsed, "cannot take back used entries the guest may have seen")
        _usedIndex &-= count
    }

    /// Publishes used->idx: the buffer contents and used elements written so far become visible first.
    @inlinable
    public mutating func publishUsed() {
        guard _usedIndex != _publishedUsed else { return }
        SharedRing.storeReleasing(usedRing + VirtqLayout.usedIndexOffset, _usedIndex)
        _publishedUsed = _usedIndex
    }

    /// Publishes the used entries and decides, once per batch, whether the guest wants a used
    /// buffer notification (an interrupt) for them.
    @inlinable
    public mutating func shouldNotifyGuest() -> Bool {
        publishUsed()
        guard _usedIndex != _signalledUsed else { return false }
        // used->idx must be visible before we read the guest's used_event / flags (smp_mb).
        SharedRing.fullFence()
        let old = _signalledUsed
        let new = _usedIndex
        _signalledUsed = new
        if eventIndex {
            // Until the first notification the device cannot know what the guest last saw (e.g.
            // after a reconnect), so it notifies; QEMU does the same.
            guard _signalledValid else { _signalledValid = true; return true }
            // "If the idx field in the used ring (which determined where that descriptor index was
            // placed) was equal to used_event, the device MUST send a notification." (§2.7.7)
            let usedEvent = SharedRing.loadRelaxed(availableRing + VirtqLayout.usedEventOffset(size: size))
            return VirtqLayout.needsEvent(event: usedEvent, new: new, old: old)
        }
        // "If flags is 1, the device SHOULD NOT send a notification. If flags is 0, the device MUST
        // send a notification." (§2.7.7)
        return SharedRing.loadRelaxed(availableRing + VirtqLayout.availFlagsOffset) & VirtqLayout.availFlagNoInterrupt == 0
    }
}
