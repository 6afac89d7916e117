// Datagrams waiting for ARP, and the resolutions in progress (RFC 1122 §2.3.2.2 "ARP Packet
// Queue"). All storage is allocated once, up front: queueing a datagram copies it into a free
// slot and allocates nothing.
import Basics
import Wire

/// A neighbor being resolved: requests sent so far, when to retry, and its waiting datagrams.
struct ARPResolution {
    var interface: Int
    var target: IPv4Address
    var attempts: Int
    var nextAttempt: Instant
    /// Datagrams queued (their slots are `fifo[base ..< base + count]`, oldest first).
    var count: Int
    var active: Bool
}

/// Fixed-capacity storage for resolutions and the datagrams waiting on them.
final class ARPWaitQueue {
    private(set) var resolutions: [ARPResolution]
    /// For resolution r, slot indices at `r * perDestination ..< r * perDestination + count`.
    private var fifo: [Int]
    let perDestination: Int
    private var freeSlots: [Int]
    /// Per slot: IP datagram length, interface and link-layer source it arrived with (for ICMP errors).
    private var slotLength: [Int]
    private(set) var slotArrivalInterface: [Int]
    private(set) var slotArrivalMAC: [MACAddress]
    /// Each slot holds 14 bytes for the Ethernet header, then the IP datagram.
    let slotSize: Int
    private let storage: UnsafeMutableRawBufferPointer

    init(maxResolutions: Int, perDestination: Int, total: Int, maxDatagram: Int) {
        let idle = ARPResolution(interface: 0, target: .any, attempts: 0, nextAttempt: .zero, count: 0, active: false)
        resolutions = Array(repeating: idle, count: maxResolutions)
        self.perDestination = perDestination
        fifo = Array(repeating: 0, count: maxResolutions * perDestination)
        freeSlots = Array((0..<total).reversed())
        slotLength = Array(repeating: 0, count: total)
        slotArrivalInterface = Array(repeating: 0, count: total)
        slotArrivalMAC = Array(repeating: .zero, count: total)
        slotSize = EthernetHeader.untaggedLength + maxDatagram
        storage = .allocate(byteCount: slotSize * total, alignment: 8)
    }

    deinit { storage.deallocate() }

    /// The active resolution for a neighbor, if any.
    func find(interface: Int, target: IPv4Address) -> Int? {
        resolutions.firstIndex { $0.active && $0.interface == interface && $0.target == target }
    }

    /// Starts resolving a neighbor (one request counted as sent); nil if the table is full.
    func start(interface: Int, target: IPv4Address, nextAttempt: Instant) -> Int? {
        guard let r = resolutions.firstIndex(where: { !$0.active }) else { return nil }
        resolutions[r] = ARPResolution(interface: interface, target: target, attempts: 1,
                                       nextAttempt: nextAttempt, count: 0, active: true)
        return r
    }

    /// Records another request sent for resolution `r`.
    func retried(_ r: Int, nextAttempt: Instant) {
        resolutions[r].attempts += 1
        resolutions[r].nextAttempt = nextAttempt
    }

    /// Copies `datagram` to the back of `r`'s queue. If that queue is full its oldest datagram is
    /// dropped first (`droppedOldest`); if no slot is free the new datagram is not queued (`queued` false).
    func append(_ r: Int, datagram: UnsafeRawBufferPointer, arrivalInterface: Int, arrivalMAC: MACAddress)
        -> (queued: Bool, droppedOldest: Bool)
    {
        var droppedOldest = false
        let base = r * perDestination
        if resolutions[r].count == perDestination {
            freeSlots.append(fifo[base])
            for k in 0..<perDestination - 1 { fifo[base + k] = fifo[base + k + 1] }
            resolutions[r].count -= 1
            droppedOldest = true
        }
        guard datagram.count <= slotSize - EthernetHeader.untaggedLength, let slot = freeSlots.popLast() else {
            return (false, droppedOldest)
        }
        slotLength[slot] = datagram.count
        slotArrivalInterface[slot] = arrivalInterface
        slotArrivalMAC[slot] = arrivalMAC
        frame(slot).copyBytes(datagram, at: EthernetHeader.untaggedLength)
        fifo[base + resolutions[r].count] = slot
        resolutions[r].count += 1
        return (true, droppedOldest)
    }

    /// The slot of `r`'s `k`-th oldest datagram.
    func slot(_ r: Int, _ k: Int) -> Int { fifo[r * perDestination + k] }

    /// A slot's frame: 14 bytes for the Ethernet header, then the datagram.
    func frame(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        storage.slice(slot * slotSize..<slot * slotSize + EthernetHeader.untaggedLength + slotLength[slot])
    }

    /// Ends resolution `r` and frees its slots.
    func finish(_ r: Int) {
        for k in 0..<resolutions[r].count { freeSlots.append(slot(r, k)) }
        resolutions[r].count = 0
        resolutions[r].active = false
    }

    /// The earliest retry deadline of any active resolution.
    var nextDeadline: Instant? {
        var best: Instant?
        for r in resolutions where r.active && (best == nil || r.nextAttempt < best!) { best = r.nextAttempt }
        return best
    }

    /// Datagrams waiting in all.
    var queuedCount: Int { slotLength.count - freeSlots.count }
}
