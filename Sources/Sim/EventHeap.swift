// The simulator's agenda: a binary min-heap keyed by (deadline, sequence) (docs/architecture.md,
// Determinism). The sequence number is the order of
// scheduling, so events due at the same instant run first-scheduled, first-run; nothing depends
// on heap layout or on hashing. (swift-collections' `Heap` is not a dependency of Sim, and a
// dozen lines of sift-up/sift-down keep the ordering rule in plain sight.)

import Basics

/// A min-heap of payloads ordered by `(deadline, sequence)`; sequences must be unique.
struct EventHeap<Payload> {
    struct Entry {
        var deadline: Instant
        var sequence: UInt64
        var payload: Payload

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private var entries: [Entry] = []

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// The earliest entry, without removing it.
    var first: Entry? { entries.first }

    mutating func insert(deadline: Instant, sequence: UInt64, payload: Payload) {
        entries.append(Entry(deadline: deadline, sequence: sequence, payload: payload))
        siftUp(entries.count - 1)
    }

    /// Removes and returns the earliest entry.
    mutating func popFirst() -> Entry? {
        guard !entries.isEmpty else { return nil }
        if entries.count == 1 { return entries.removeLast() }
        entries.swapAt(0, entries.count - 1)
        let first = entries.removeLast()
        siftDown(0)
        return first
    }

    mutating func removeAll() { entries.removeAll(keepingCapacity: true) }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { return }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let n = entries.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { return }
            let right = left + 1
            var smallest = left
            if right < n, entries[right].precedes(entries[left]) { smallest = right }
            guard entries[smallest].precedes(entries[parent]) else { return }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
