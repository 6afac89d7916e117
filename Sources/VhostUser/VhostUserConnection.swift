// One front end's vhost-user session as a state machine: a message and the descriptors that came
// with it go in, actions come out (replies to send, queue pairs to attach or detach, kick fds to
// watch, or "close: reason"). It never reads or writes a socket; the only system calls it makes
// are mmap/munmap of the guest memory the front end shares (MappedGuestMemory).
//
// Rings (vhost-user.rst "Ring states"): "Each ring is initialized in a stopped state. The back-end
// must start ring upon receiving a kick […] on the descriptor specified by VHOST_USER_SET_VRING_KICK
// […] and stop ring upon receiving VHOST_USER_GET_VRING_BASE." Like libvhost-user and passt, a
// ring starts when SET_VRING_KICK arrives. A queue pair runs — is handed to the datapath as a
// VirtioNetQueuePair — while both its rings are started and enabled and the memory table, features,
// sizes and addresses are known; any change to those stops it first (saving where each ring was).

import HostIO
import Virtio

/// The back end's side of one vhost-user connection (one guest NIC).
public final class VhostUserConnection {
    /// What the device offers.
    public let configuration: VhostUserDeviceConfiguration
    /// SET_FEATURES as acknowledged (VHOST_USER_F_PROTOCOL_FEATURES included), nil before it.
    public private(set) var acknowledgedFeatureBits: UInt64?
    /// SET_PROTOCOL_FEATURES as acknowledged.
    public private(set) var protocolFeatures: VhostUserProtocolFeatures = []
    /// SET_OWNER was received.
    public private(set) var hasOwner = false
    /// Why the connection closed, once it has; later messages are ignored.
    public private(set) var closeReason: VhostUserError?

    private struct Vring {
        var size: UInt16?
        var address: VhostUserVringAddress?
        /// Where the device resumes reading the available ring (SET_VRING_BASE, saved on stop).
        var base: UInt16 = 0
        var started = false
        /// SET_VRING_ENABLE's last word; nil until one arrives.
        var enabled: Bool?
        var kick: FileDescriptor?
        var call: FileDescriptor?
        var error: FileDescriptor?
    }

    private var rings: [Vring]
    private var pairs: [VirtioNetQueuePair<GuestMemoryRegions>?]
    private var memory: MappedGuestMemory?
    private var retired: [MappedGuestMemory] = []

    /// A connection for a device configured as `configuration`.
    public init(configuration: VhostUserDeviceConfiguration = VhostUserDeviceConfiguration()) {
        self.configuration = configuration
        rings = Array(repeating: Vring(), count: configuration.queueCount)
        pairs = Array(repeating: nil, count: configuration.queuePairs)
    }

    deinit {
        // Memory a datapath still uses must not be unmapped under it: if this connection goes
        // while a queue pair is held elsewhere, the mapping is kept (leaked) instead.
        for m in retired + (memory.map { [$0] } ?? []) where m.isReferencedElsewhere {
            _ = Unmanaged.passRetained(m)
        }
    }

    // MARK: Introspection

    /// The acknowledged virtio features (without VHOST_USER_F_PROTOCOL_FEATURES), nil before SET_FEATURES.
    public var negotiatedFeatures: VirtioFeatures? {
        acknowledgedFeatureBits.map { VirtioFeatures(rawValue: $0 & ~(1 << UInt64(VhostUserSpec.protocolFeaturesBit))) }
    }

    /// The running queue pair `index`, if it runs.
    public func queuePair(_ index: Int) -> VirtioNetQueuePair<GuestMemoryRegions>? {
        pairs.indices.contains(index) ? pairs[index] : nil
    }

    /// Indices of the queue pairs that run now.
    public var runningQueuePairs: [Int] { pairs.indices.filter { pairs[$0] != nil } }

    /// The call eventfd of virtqueue `queue` (signal it to interrupt the guest), if any.
    public func callDescriptor(queue: Int) -> FileDescriptor? { rings.indices.contains(queue) ? rings[queue].call : nil }
    /// The kick eventfd of virtqueue `queue`, if any.
    public func kickDescriptor(queue: Int) -> FileDescriptor? { rings.indices.contains(queue) ? rings[queue].kick : nil }
    /// The error eventfd of virtqueue `queue`, if any.
    public func errorDescriptor(queue: Int) -> FileDescriptor? { rings.indices.contains(queue) ? rings[queue].error : nil }
    /// True when virtqueue `queue` is started without a kick fd: the back end must poll it.
    public func isPolled(queue: Int) -> Bool {
        rings.indices.contains(queue) && rings[queue].started && rings[queue].kick == nil
    }

    /// The memory regions currently mapped, in the front end's order.
    public var memoryRegions: [VhostUserMemoryRegion] { memory?.descriptions ?? [] }

    /// File descriptors this connection holds (kick, call and error eventfds).
    public var descriptorCount: Int {
        rings.reduce(0) { $0 + ($1.kick == nil ? 0 : 1) + ($1.call == nil ? 0 : 1) + ($1.error == nil ? 0 : 1) }
    }

    /// Drops retired guest memory nobody uses any more (unmapping it); returns how many retired
    /// memory tables are still held by someone (a datapath that has not let go of a queue pair).
    @discardableResult
    public func releaseUnusedMemory() -> Int {
        retired.removeAll { !$0.isReferencedElsewhere }
        return retired.count
    }

    /// Hands over retired guest memory still in use (for the server to release later).
    public func takeRetiredMemory() -> [MappedGuestMemory] {
        defer { retired = [] }
        return retired
    }

    // MARK: Messages

    /// Handles one message and the descriptors that came with it.
    public func handle(_ message: VhostUserMessage, descriptors: [FileDescriptor]) -> [VhostUserAction] {
        guard closeReason == nil else { return [] }
        var actions: [VhostUserAction] = []
        let request = message.header.request
        do {
            if let reply = try dispatch(message, descriptors: descriptors, actions: &actions) {
                actions.append(.send(VhostUserMessage.reply(to: request, payload: reply).bytes))
            } else if message.header.needsReply {
                // REPLY_ACK: "The payload should be set to zero on success or non-zero on failure,
                // unless the message already has an explicit reply body."
                actions.append(.send(VhostUserMessage.reply(to: request, payload: VhostUserU64.encode(0)).bytes))
            }
        } catch {
            if message.header.needsReply, !Self.hasExplicitReply(request) {
                actions.append(.send(VhostUserMessage.reply(to: request, payload: VhostUserU64.encode(1)).bytes))
            }
            actions += close(error)
        }
        return actions
    }

    /// Ends the session (the front end left, the socket failed, or the server stops): stops
    /// every queue pair, releases every descriptor, retires the memory. Returns the actions.
    public func close(_ reason: VhostUserError) -> [VhostUserAction] {
        guard closeReason == nil else { return [] }
        var actions: [VhostUserAction] = []
        stopAll(into: &actions)
        for q in rings.indices where rings[q].kick != nil { actions.append(.watchKick(queue: q, descriptor: nil)) }
        rings = Array(repeating: Vring(), count: configuration.queueCount)
        retireMemory()
        closeReason = reason
        actions.append(.close(reason))
        return actions
    }

    private static func hasExplicitReply(_ request: UInt32) -> Bool {
        switch VhostUserRequest(rawValue: request) {
        case .getFeatures, .getProtocolFeatures, .getVringBase, .getQueueNum, .getMaxMemSlots, .getConfig: true
        default: false
        }
    }

    /// Carries out one request; returns the explicit reply payload, if the request has one.
    private func dispatch(_ message: VhostUserMessage, descriptors: [FileDescriptor],
                          actions: inout [VhostUserAction]) throws(VhostUserError) -> [UInt8]? {
        guard let request = message.header.knownRequest else { throw .unknownRequest(message.header.request) }
        let payload = message.payload
        switch request {
        case .getFeatures:
            try expect(request, payload, size: 0, descriptors: descriptors)
            return VhostUserU64.encode(configuration.offeredFeatureBits)

        case .setFeatures:
            let bits = try u64(request, payload, descriptors: descriptors)
            let offered = configuration.offeredFeatureBits
            guard bits & ~offered == 0 else { throw .unsupportedFeatures(acknowledged: bits, offered: offered) }
            if bits != acknowledgedFeatureBits {
                // The queues were built for the old features: rebuild them.
                stopAll(into: &actions)
                acknowledgedFeatureBits = bits
                try reconcileAll(into: &actions)
            }
            return nil

        case .getProtocolFeatures:
            try expect(request, payload, size: 0, descriptors: descriptors)
            return VhostUserU64.encode(configuration.protocolFeatures.rawValue)

        case .setProtocolFeatures:
            let bits = try u64(request, payload, descriptors: descriptors)
            let offered = configuration.protocolFeatures.rawValue
            guard bits & ~offered == 0 else { throw .unsupportedProtocolFeatures(acknowledged: bits, offered: offered) }
            protocolFeatures = VhostUserProtocolFeatures(rawValue: bits)
            return nil

        case .setOwner:
            try expect(request, payload, size: 0, descriptors: descriptors)
            hasOwner = true
            return nil

        case .resetOwner:
            // "It is recommended that back-ends either ignore this message, or use it to disable all rings."
            try expect(request, payload, size: 0, descriptors: descriptors)
            resetRings(into: &actions)
            return nil

        case .resetDevice:
            try requireProtocolFeature(.resetDevice, for: request)
            try expect(request, payload, size: 0, descriptors: descriptors)
            // "disable all rings and reset all internal device state to the initial state […]
            // The back-end retains ownership of the device throughout the reset operation."
            resetRings(into: &actions)
            acknowledgedFeatureBits = nil
            return nil

        case .getQueueNum:
            try expect(request, payload, size: 0, descriptors: descriptors)
            // "Query how many queues the back-end supports": virtqueues, two per pair.
            return VhostUserU64.encode(UInt64(configuration.queueCount))

        case .setMemTable:
            let regions = try VhostUserMemoryRegion.parseTable(payload)
            // "In the ancillary data there is an array of file descriptors for each memory mapped
            // region. The size and ordering of the fds matches the number and ordering of memory regions."
            guard descriptors.count == regions.count else {
                throw .descriptorCount(request, expected: regions.count, received: descriptors.count)
            }
            var mappings: [MappedRegion] = []
            for (i, region) in regions.enumerated() {
                mappings.append(try MappedRegion(region, from: descriptors[i], index: i))
            }
            try replaceMemory(with: MappedGuestMemory(mappings), into: &actions)
            return nil

        case .getMaxMemSlots:
            try requireProtocolFeature(.configureMemorySlots, for: request)
            try expect(request, payload, size: 0, descriptors: descriptors)
            return VhostUserU64.encode(UInt64(configuration.maxMemorySlots))

        case .addMemReg:
            try requireProtocolFeature(.configureMemorySlots, for: request)
            let region = try VhostUserMemoryRegion.parseSingle(payload, for: request)
            // "Exactly one file descriptor from which the memory is mapped is passed in the ancillary data."
            guard descriptors.count == 1 else { throw .descriptorCount(request, expected: 1, received: descriptors.count) }
            let existing = memory?.mappings ?? []
            guard existing.count < configuration.maxMemorySlots else {
                throw .badMemoryTable("ADD_MEM_REG beyond the \(configuration.maxMemorySlots) memory slots offered")
            }
            let mapped = try MappedRegion(region, from: descriptors[0], index: existing.count)
            try replaceMemory(with: MappedGuestMemory(existing + [mapped]), into: &actions)
            return nil

        case .remMemReg:
            try requireProtocolFeature(.configureMemorySlots, for: request)
            let region = try VhostUserMemoryRegion.parseSingle(payload, for: request)
            // "No file descriptors SHOULD be passed […] the back-end MAY accept messages with one
            // file descriptor. If a file descriptor is passed, the back-end MUST close it" (it is,
            // when `descriptors` goes).
            guard descriptors.count <= 1 else { throw .descriptorCount(request, expected: 0, received: descriptors.count) }
            // "The memory region to be removed is identified by its guest address, user address and size."
            let existing = memory?.mappings ?? []
            guard let index = existing.firstIndex(where: {
                $0.region.guestPhysicalAddress == region.guestPhysicalAddress
                    && $0.region.userAddress == region.userAddress && $0.region.size == region.size
            }) else {
                throw .badMemoryTable("REM_MEM_REG of a region that is not mapped (guest address 0x\(String(region.guestPhysicalAddress, radix: 16)))")
            }
            var remaining = existing
            remaining.remove(at: index)
            try replaceMemory(with: remaining.isEmpty ? nil : MappedGuestMemory(remaining), into: &actions)
            return nil

        case .setVringNum:
            let state = try vringState(request, payload, descriptors: descriptors)
            let q = try queueIndex(request, UInt64(state.index))
            guard !rings[q].started else { throw .outOfOrder(request, "on vring \(q) while it is started") }
            guard state.num <= UInt32(UInt16.max), VirtqLayout.isValidQueueSize(UInt16(state.num)) else {
                throw .badValue(request, "queue size \(state.num) is not a power of 2 between 1 and \(VirtqLayout.maxQueueSize)")
            }
            rings[q].size = UInt16(state.num)
            return nil

        case .setVringAddr:
            try expectNoDescriptors(request, descriptors)
            guard let address = VhostUserVringAddress(parsing: payload) else {
                throw .badPayloadSize(request, size: payload.count, expected: "\(VhostUserSpec.vringAddressSize)")
            }
            let q = try queueIndex(request, UInt64(address.index))
            guard let memory else { throw .outOfOrder(request, "for vring \(q) before SET_MEM_TABLE") }
            for (part, user) in [("descriptor table", address.descriptor), ("available ring", address.available),
                                 ("used ring", address.used)] {
                guard memory.regions.guestPhysicalAddress(ofUserAddress: user) != nil else {
                    throw .ringAddressOutsideMemory(queue: q, part: part, address: user)
                }
            }
            if pairs[q / 2] != nil { stop(pair: q / 2, into: &actions) }
            rings[q].address = address
            try reconcile(pair: q / 2, into: &actions)
            return nil

        case .setVringBase:
            let state = try vringState(request, payload, descriptors: descriptors)
            let q = try queueIndex(request, UInt64(state.index))
            guard !rings[q].started else { throw .outOfOrder(request, "on vring \(q) while it is started") }
            // A split ring's base is its 16-bit last_avail_idx (packed rings are not offered).
            guard state.num <= UInt32(UInt16.max) else { throw .badValue(request, "base \(state.num) does not fit a split ring's 16-bit index") }
            rings[q].base = UInt16(state.num)
            return nil

        case .getVringBase:
            let state = try vringState(request, payload, descriptors: descriptors)
            let q = try queueIndex(request, UInt64(state.index))
            // "Stops the vring and returns the current descriptor index": the real last_avail_idx.
            if pairs[q / 2] != nil { stop(pair: q / 2, into: &actions) }
            rings[q].started = false
            if rings[q].kick != nil { actions.append(.watchKick(queue: q, descriptor: nil)) }
            rings[q].kick = nil
            rings[q].call = nil
            return VhostUserVringState(index: state.index, num: UInt32(rings[q].base)).bytes

        case .setVringKick:
            let (q, descriptor) = try vringFile(request, payload, descriptors: descriptors)
            guard rings[q].size != nil else { throw .outOfOrder(request, "for vring \(q) before SET_VRING_NUM") }
            guard rings[q].address != nil else { throw .outOfOrder(request, "for vring \(q) before SET_VRING_ADDR") }
            try checkRingExtents(q)
            rings[q].kick = descriptor
            actions.append(.watchKick(queue: q, descriptor: descriptor))
            rings[q].started = true
            try reconcile(pair: q / 2, into: &actions)
            return nil

        case .setVringCall:
            let (q, descriptor) = try vringFile(request, payload, descriptors: descriptors)
            rings[q].call = descriptor
            return nil

        case .setVringErr:
            let (q, descriptor) = try vringFile(request, payload, descriptors: descriptors)
            rings[q].error = descriptor
            return nil

        case .setVringEnable:
            let state = try vringState(request, payload, descriptors: descriptors)
            let q = try queueIndex(request, UInt64(state.index))
            guard state.num <= 1 else { throw .badValue(request, "enable must be 0 or 1, not \(state.num)") }
            rings[q].enabled = state.num == 1
            try reconcile(pair: q / 2, into: &actions)
            return nil

        case .setLogBase, .setLogFD:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_LOG_SHMFD and VHOST_F_LOG_ALL (not offered)")
        case .sendRARP:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_RARP (not offered)")
        case .netSetMTU:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_NET_MTU (not offered)")
        case .setBackendReqFD:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_BACKEND_REQ (not offered)")
        case .iotlbMessage:
            throw .notNegotiated(request, needs: "VIRTIO_F_IOMMU_PLATFORM (not offered)")
        case .setVringEndian:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_CROSS_ENDIAN (not offered)")
        case .getConfig, .setConfig:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_CONFIG (not offered)")
        case .vringKick:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS (not offered)")
        case .setStatus, .getStatus:
            throw .notNegotiated(request, needs: "VHOST_USER_PROTOCOL_F_STATUS (not offered)")
        case .createCryptoSession, .closeCryptoSession, .postcopyAdvise, .postcopyListen, .postcopyEnd,
             .getInflightFD, .setInflightFD, .gpuSetSocket:
            throw .notNegotiated(request, needs: "a protocol feature this net back end does not offer")
        }
    }

    // MARK: Payload checks

    private func expect(_ request: VhostUserRequest, _ payload: [UInt8], size: Int,
                        descriptors: [FileDescriptor]) throws(VhostUserError) {
        guard payload.count == size else { throw .badPayloadSize(request, size: payload.count, expected: "\(size)") }
        try expectNoDescriptors(request, descriptors)
    }

    private func expectNoDescriptors(_ request: VhostUserRequest, _ descriptors: [FileDescriptor]) throws(VhostUserError) {
        guard descriptors.isEmpty else { throw .descriptorCount(request, expected: 0, received: descriptors.count) }
    }

    private func u64(_ request: VhostUserRequest, _ payload: [UInt8],
                     descriptors: [FileDescriptor]) throws(VhostUserError) -> UInt64 {
        try expectNoDescriptors(request, descriptors)
        guard let value = VhostUserU64.parse(payload) else { throw .badPayloadSize(request, size: payload.count, expected: "8") }
        return value
    }

    private func vringState(_ request: VhostUserRequest, _ payload: [UInt8],
                            descriptors: [FileDescriptor]) throws(VhostUserError) -> VhostUserVringState {
        try expectNoDescriptors(request, descriptors)
        guard let state = VhostUserVringState(parsing: payload) else {
            throw .badPayloadSize(request, size: payload.count, expected: "\(VhostUserSpec.vringStateSize)")
        }
        return state
    }

    private func queueIndex(_ request: VhostUserRequest, _ index: UInt64) throws(VhostUserError) -> Int {
        guard index < UInt64(rings.count) else { throw .vringIndexOutOfRange(request, index: index, queues: rings.count) }
        return Int(index)
    }

    /// SET_VRING_KICK/CALL/ERR: "Bits (0-7) of the payload contain the vring index. Bit 8 is the
    /// invalid FD flag. This flag is set when there is no file descriptor in the ancillary data."
    private func vringFile(_ request: VhostUserRequest, _ payload: [UInt8],
                           descriptors: [FileDescriptor]) throws(VhostUserError) -> (Int, FileDescriptor?) {
        guard let value = VhostUserU64.parse(payload) else { throw .badPayloadSize(request, size: payload.count, expected: "8") }
        guard value & ~(VhostUserSpec.vringIndexMask | VhostUserSpec.vringInvalidFDFlag) == 0 else {
            throw .badValue(request, "payload 0x\(String(value, radix: 16)) has bits besides the index and the invalid-FD flag")
        }
        let q = try queueIndex(request, value & VhostUserSpec.vringIndexMask)
        if value & VhostUserSpec.vringInvalidFDFlag != 0 {
            guard descriptors.isEmpty else { throw .descriptorCount(request, expected: 0, received: descriptors.count) }
            return (q, nil)
        }
        guard descriptors.count == 1 else { throw .descriptorCount(request, expected: 1, received: descriptors.count) }
        // Writes to a call or error fd must never stall the reactor, whatever the front end sent
        // (QEMU's eventfds are non-blocking already; a hostile one could send a full pipe).
        do { try descriptors[0].setNonBlocking() } catch { throw .io(error) }
        return (q, descriptors[0])
    }

    private func requireProtocolFeature(_ feature: VhostUserProtocolFeatures, for request: VhostUserRequest) throws(VhostUserError) {
        guard configuration.protocolFeatures.contains(feature) else {
            throw .notNegotiated(request, needs: "its protocol feature (not offered)")
        }
    }

    /// Every part of ring `q`, at its full size, must lie inside one memory region.
    private func checkRingExtents(_ q: Int) throws(VhostUserError) {
        guard let memory, let size = rings[q].size, let address = rings[q].address else { return }
        for (part, user, bytes) in [("descriptor table", address.descriptor, VirtqLayout.descriptorTableBytes(size: size)),
                                    ("available ring", address.available, VirtqLayout.availableRingBytes(size: size)),
                                    ("used ring", address.used, VirtqLayout.usedRingBytes(size: size))] {
            guard let gpa = memory.regions.guestPhysicalAddress(ofUserAddress: user),
                  memory.regions.translate(gpa, length: UInt64(bytes)) != nil else {
                throw .ringAddressOutsideMemory(queue: q, part: part, address: user)
            }
        }
    }

    // MARK: Queue pairs

    /// VHOST_USER_F_PROTOCOL_FEATURES was negotiated: "the ring is initialized in a disabled state".
    private var ringsStartDisabled: Bool {
        (acknowledgedFeatureBits ?? 0) & (1 << UInt64(VhostUserSpec.protocolFeaturesBit)) != 0
    }

    private func isEnabled(_ q: Int) -> Bool { rings[q].enabled ?? !ringsStartDisabled }

    private func isReady(_ q: Int) -> Bool {
        rings[q].started && rings[q].size != nil && rings[q].address != nil && isEnabled(q)
    }

    /// Starts or stops pair `p` to match its rings.
    private func reconcile(pair p: Int, into actions: inout [VhostUserAction]) throws(VhostUserError) {
        let wanted = memory != nil && acknowledgedFeatureBits != nil && isReady(2 * p) && isReady(2 * p + 1)
        if pairs[p] != nil, !wanted { stop(pair: p, into: &actions) }
        if pairs[p] == nil, wanted { try start(pair: p, into: &actions) }
    }

    private func reconcileAll(into actions: inout [VhostUserAction]) throws(VhostUserError) {
        for p in pairs.indices { try reconcile(pair: p, into: &actions) }
    }

    private func start(pair p: Int, into actions: inout [VhostUserAction]) throws(VhostUserError) {
        guard let memory, let features = negotiatedFeatures else { return }
        func configuration(_ q: Int) throws(VhostUserError) -> VirtqueueConfiguration {
            let ring = rings[q]
            let address = ring.address!
            func translate(_ part: String, _ user: UInt64) throws(VhostUserError) -> UInt64 {
                guard let gpa = memory.regions.guestPhysicalAddress(ofUserAddress: user) else {
                    throw .ringAddressOutsideMemory(queue: q, part: part, address: user)
                }
                return gpa
            }
            let addresses = VirtqueueAddresses(descriptorTable: try translate("descriptor table", address.descriptor),
                                               availableRing: try translate("available ring", address.available),
                                               usedRing: try translate("used ring", address.used))
            return VirtqueueConfiguration(size: ring.size!, addresses: addresses, lastAvailIndex: ring.base)
        }
        let receive = try configuration(2 * p), transmit = try configuration(2 * p + 1)
        let nic: VirtioNetQueuePair<GuestMemoryRegions>
        do {
            nic = try VirtioNetQueuePair(memory: memory.regions, receive: receive, transmit: transmit, features: features,
                                         maximumFrameSize: self.configuration.maximumFrameSize)
        } catch {
            throw .ringSetupFailed(pair: p, error)
        }
        pairs[p] = nic
        actions.append(.startQueuePair(index: p, nic: nic))
    }

    /// Stops pair `p`, remembering where each ring was so GET_VRING_BASE and a restart resume there.
    private func stop(pair p: Int, into actions: inout [VhostUserAction]) {
        guard let nic = pairs[p] else { return }
        rings[2 * p].base = nic.receiveQueue.lastAvailIndex
        rings[2 * p + 1].base = nic.transmitQueue.lastAvailIndex
        pairs[p] = nil
        actions.append(.stopQueuePair(index: p))
    }

    private func stopAll(into actions: inout [VhostUserAction]) {
        for p in pairs.indices { stop(pair: p, into: &actions) }
    }

    /// RESET_OWNER / RESET_DEVICE: every ring back to its initial, stopped state.
    private func resetRings(into actions: inout [VhostUserAction]) {
        stopAll(into: &actions)
        for q in rings.indices where rings[q].kick != nil { actions.append(.watchKick(queue: q, descriptor: nil)) }
        rings = Array(repeating: Vring(), count: configuration.queueCount)
    }

    // MARK: Memory

    /// Installs a new memory table: running pairs stop, the old table is retired, pairs restart
    /// on the new one where their rings still translate.
    private func replaceMemory(with new: MappedGuestMemory?, into actions: inout [VhostUserAction]) throws(VhostUserError) {
        stopAll(into: &actions)
        retireMemory()
        memory = new
        try reconcileAll(into: &actions)
    }

    private func retireMemory() {
        if let memory { retired.append(memory) }
        memory = nil
        releaseUnusedMemory()
    }
}
