// The server's records, by address and by client. Never iterated in hash order: listings are
// sorted by address, and the earliest deadline is a minimum, which no order changes.
//
// Invariants (checked by `violations()`):
//   - at most one record per address;
//   - `byClient[c] == a` exactly when `records[a]` belongs to `c` and is not declined — so a
//     client has at most one live record, and a declined address belongs to no one;
//   - `nextDeadline` is the earliest end of the records that hold their address.

import Basics
import Wire

struct DHCPLeaseTable: Sendable {
    private(set) var records: [IPv4Address: DHCPLease] = [:]
    private var byClient: [DHCPClientIdentity: IPv4Address] = [:]
    /// Counts every change (`store`, `remove`): a driver that keeps the records on disk compares
    /// it to know when to write them again.
    private(set) var revision: UInt64 = 0

    /// The record for `address`, in any state.
    subscript(address: IPv4Address) -> DHCPLease? { records[address] }

    /// The client's live (not declined) record, in any other state.
    func record(of client: DHCPClientIdentity) -> DHCPLease? {
        byClient[client].flatMap { records[$0] }
    }

    /// Puts `lease` in, replacing whatever record `lease.address` had (its client loses it) and
    /// whatever other record `lease.client` had (a client keeps one record).
    mutating func store(_ lease: DHCPLease) {
        store(lease, updatingDeadline: true)
    }

    /// `store`, leaving `nextDeadline` stale when `updatingDeadline` is false: for putting many
    /// records back at once (DHCPLeaseRestore.swift), which then calls `refreshDeadline()` once
    /// rather than scanning every record per record.
    mutating func store(_ lease: DHCPLease, updatingDeadline: Bool) {
        if let previous = records[lease.address], previous.client != lease.client, byClient[previous.client] == lease.address {
            byClient[previous.client] = nil
        }
        if let old = byClient[lease.client], old != lease.address {
            records[old] = nil
        }
        records[lease.address] = lease
        byClient[lease.client] = lease.state == .declined ? nil : lease.address
        if updatingDeadline { nextDeadline = earliestDeadline() }
        revision &+= 1
    }

    /// Removes the record for `address`.
    mutating func remove(_ address: IPv4Address) {
        guard let lease = records.removeValue(forKey: address) else { return }
        if byClient[lease.client] == address { byClient[lease.client] = nil }
        nextDeadline = earliestDeadline()
        revision &+= 1
    }

    /// The earliest end of an offered, bound or declined record. Kept up to date by `store` and
    /// `remove` (the only changes to the records): the bridge reads it after every event that
    /// touches it, which must not cost a scan of every lease.
    private(set) var nextDeadline: Instant?

    /// Recomputes `nextDeadline` (after `store(_:updatingDeadline: false)`).
    mutating func refreshDeadline() { nextDeadline = earliestDeadline() }

    private func earliestDeadline() -> Instant? {
        records.values.lazy.filter(\.holdsAddress).map(\.expiry).min()
    }

    /// Addresses whose offered, bound or declined record ends at or before `now`, ascending.
    func due(at now: Instant) -> [IPv4Address] {
        records.values.filter { $0.holdsAddress && $0.expiry <= now }.map(\.address).sorted()
    }

    /// Every record, ascending by address.
    var sorted: [DHCPLease] { records.values.sorted { $0.address < $1.address } }

    /// Broken invariants, described (empty when sound). For tests.
    func violations() -> [String] {
        var problems: [String] = []
        for (address, lease) in records.sorted(by: { $0.key < $1.key }) {
            if lease.address != address { problems.append("record under \(address) says \(lease.address)") }
            let indexed = byClient[lease.client] == address
            if lease.state == .declined, indexed { problems.append("declined \(address) still indexed for \(lease.client)") }
            if lease.state != .declined, !indexed { problems.append("\(address) not indexed for \(lease.client)") }
        }
        for (client, address) in byClient where records[address]?.client != client {
            problems.append("index \(client) → \(address) points at another record")
        }
        if nextDeadline != earliestDeadline() { problems.append("next deadline \(String(describing: nextDeadline)) is stale") }
        return problems
    }
}
