import Basics
import Testing
@testable import Datapath

@Suite struct PortTableTests {
    @Test func dropReasonsFitTheCountersAndAreDense() {
        #expect(ReasonCounts<PortDropReason>.fits)
        #expect(PortDropReason.allCases.map(\.rawValue) == (0..<UInt8(PortDropReason.allCases.count)).map { $0 })
        #expect(Set(PortDropReason.allCases.map(\.description)).count == PortDropReason.allCases.count)
    }

    @Test func countersCountPerReason() {
        var c = PortCounters()
        c.countReceived(bytes: 60)
        c.countReceived(bytes: 1514)
        c.countSent(bytes: 42)
        c.countDrop(.malformed)
        c.countDrop(.queueFull)
        c.countDrop(.queueFull)
        #expect(c.rxPackets == 2 && c.rxBytes == 1574)
        #expect(c.txPackets == 1 && c.txBytes == 42)
        #expect(c.drops[.malformed] == 1 && c.drops[.queueFull] == 2 && c.drops[.tooBig] == 0)
        #expect(c.drops.total == 3)
        #expect(c.drops.nonzero.map(\.reason) == [.malformed, .queueFull])
        #expect(c.drops.nonzero.map(\.count) == [1, 2])
    }

    @Test func portsGetLowestFreeIdsAndIterateInOrder() throws {
        var table = PortTable(maxPorts: 4)
        let vm1 = try table.add(name: "vm1", kind: .virtioGuest)
        let vm2 = try table.add(name: "vm2", kind: .virtioGuest)
        let rtr = try table.add(name: "router", kind: .router)
        #expect([vm1, vm2, rtr] == [PortID(0), PortID(1), PortID(2)])
        #expect(throws: PortTableError.duplicateName("vm2")) { try table.add(name: "vm2", kind: .tap) }

        #expect(table.remove(vm2)?.name == "vm2")
        #expect(table.remove(vm2) == nil)
        #expect(!table.contains(vm2) && table.count == 2)
        let tap = try table.add(name: "tap0", kind: .tap)
        #expect(tap == vm2, "the lowest free id is reused")
        let wan = try table.add(name: "wan", kind: .wan)
        #expect(throws: PortTableError.full(maxPorts: 4)) { try table.add(name: "x", kind: .tap) }

        #expect(table.map(\.name) == ["vm1", "tap0", "router", "wan"])
        #expect(table.map(\.kind) == [.virtioGuest, .tap, .router, .wan])
        #expect(table.id(named: "router") == rtr && table.id(named: "nope") == nil)
        #expect(table[wan]?.kind == .wan)

        var cursor: [PortID] = []
        var id = table.id(after: nil)
        while let current = id { cursor.append(current); id = table.id(after: current) }
        #expect(cursor == table.map(\.id))
    }

    @Test func countingGoesToThePortAndIgnoresUnknownIds() throws {
        var table = PortTable()
        let a = try table.add(name: "a", kind: .virtioGuest)
        let b = try table.add(name: "b", kind: .virtioGuest)
        table.countReceived(on: a, bytes: 100)
        table.countSent(on: b, bytes: 100)
        table.countDrop(.sameIngressPort, on: a)
        table.countDrop(.sameIngressPort, on: PortID(200))
        #expect(table[a]?.counters.rxPackets == 1 && table[a]?.counters.txPackets == 0)
        #expect(table[b]?.counters.txBytes == 100)
        #expect(table[a]?.counters.drops[.sameIngressPort] == 1)
        #expect(table[b]?.counters.drops.total == 0)
        #expect(table.remove(a)?.counters.drops[.sameIngressPort] == 1, "removal returns the final counters")
    }
}
