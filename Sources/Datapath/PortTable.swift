// The registry of ports. Ports live in an array indexed by `PortID`, so iteration is in id order
// (deterministic) and per-packet counting is one indexed, in-place update. Ids are reused
// lowest-first after `remove`; whoever removes a port also flushes it from the switch
// (`LearningSwitch.removePort`) so a reused id never inherits stale MAC entries.

/// Why a port could not be added.
public enum PortTableError: Error, Equatable, Sendable {
    /// All `maxPorts` ids are taken.
    case full(maxPorts: Int)
    /// Another port already has this name.
    case duplicateName(String)
}

/// The bridge's ports, by id, in id order.
public struct PortTable: Sendable, Sequence {
    @usableFromInline var slots: [Port?]
    /// The most ports the table holds (ids `0 ..< maxPorts`).
    public let maxPorts: Int
    /// Ports currently registered.
    public private(set) var count = 0

    /// An empty table for up to `maxPorts` ports (at most 65536).
    public init(maxPorts: Int = 256) {
        precondition(maxPorts > 0 && maxPorts <= Int(UInt16.max) + 1, "PortTable: maxPorts must be in 1...65536")
        self.maxPorts = maxPorts
        slots = []
        slots.reserveCapacity(maxPorts)
    }

    /// Registers a port under the lowest free id.
    @discardableResult
    public mutating func add(name: String, kind: PortKind) throws(PortTableError) -> PortID {
        if id(named: name) != nil { throw .duplicateName(name) }
        let index = slots.firstIndex(where: { $0 == nil }) ?? slots.count
        guard index < maxPorts else { throw .full(maxPorts: maxPorts) }
        let id = PortID(UInt16(index))
        if index == slots.count { slots.append(nil) }
        slots[index] = Port(id: id, name: name, kind: kind)
        count += 1
        return id
    }

    /// Unregisters a port and returns it (with its final counters), or nil if it was not registered.
    @discardableResult
    public mutating func remove(_ id: PortID) -> Port? {
        let index = Int(id.rawValue)
        guard index < slots.count, let port = slots[index] else { return nil }
        slots[index] = nil
        while let last = slots.last, last == nil { slots.removeLast() }
        count -= 1
        return port
    }

    /// The port with this id, if registered.
    public subscript(id: PortID) -> Port? {
        let index = Int(id.rawValue)
        return index < slots.count ? slots[index] : nil
    }

    /// Whether a port with this id is registered.
    @inlinable public func contains(_ id: PortID) -> Bool {
        let index = Int(id.rawValue)
        return index < slots.count && slots[index] != nil
    }

    /// The id of the port called `name`.
    public func id(named name: String) -> PortID? {
        for case let port? in slots where port.name == name { return port.id }
        return nil
    }

    /// Counts a received frame on `id` (ignored if `id` is not registered).
    @inlinable public mutating func countReceived(on id: PortID, bytes: Int) {
        let index = Int(id.rawValue)
        if index < slots.count { slots[index]?.counters.countReceived(bytes: bytes) }
    }

    /// Counts a sent frame on `id` (ignored if `id` is not registered).
    @inlinable public mutating func countSent(on id: PortID, bytes: Int) {
        let index = Int(id.rawValue)
        if index < slots.count { slots[index]?.counters.countSent(bytes: bytes) }
    }

    /// Counts a drop on `id` (ignored if `id` is not registered).
    @inlinable public mutating func countDrop(_ reason: PortDropReason, on id: PortID) {
        let index = Int(id.rawValue)
        if index < slots.count { slots[index]?.counters.countDrop(reason) }
    }

    /// Registered ports in id order.
    public struct Iterator: IteratorProtocol {
        var slots: IndexingIterator<[Port?]>
        public mutating func next() -> Port? {
            while let slot = slots.next() { if let port = slot { return port } }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(slots: slots.makeIterator()) }

    /// The lowest registered id above `id` (the lowest of all when `id` is nil). A cursor for the
    /// hot path — a flood visits `id(after: nil)`, `id(after: that)`, … — that lets the caller
    /// update counters while iterating, with no copy of the table.
    @inlinable public func id(after id: PortID?) -> PortID? {
        var index = id.map { Int($0.rawValue) + 1 } ?? 0
        while index < slots.count {
            if slots[index] != nil { return PortID(UInt16(index)) }
            index += 1
        }
        return nil
    }
}
