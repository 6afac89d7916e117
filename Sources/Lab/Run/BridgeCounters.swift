// A bridge's port counters as the report's tables, the same on every backend.
import Engine

extension CounterTable {
    /// One table per port of `bridge` ("br0 port vm1 (tap)"): packets and bytes both ways, then
    /// drops by reason.
    static func ports(of bridge: Bridge, named name: String) -> [CounterTable] {
        bridge.ports.map { port in
            var rows: [CounterTable.Row] = [.init("rx packets", Int(port.counters.rxPackets)), .init("rx bytes", Int(port.counters.rxBytes)),
                                            .init("tx packets", Int(port.counters.txPackets)), .init("tx bytes", Int(port.counters.txBytes))]
            for (reason, count) in port.counters.drops.nonzero { rows.append(.init("drop \(reason)", Int(count))) }
            return CounterTable(title: "\(name) port \(port.name) (\(port.kind))", rows: rows)
        }
    }
}
