// Putting a server's records back after a restart. The server keeps no files: a driver writes
// `leases` somewhere stable whenever `revision` moves and hands them back to a new server with
// `restore` before the first message. RFC 2131 §2.2: "DHCP servers ... must be able to
// guarantee that a network address is not reused ... The server MUST NOT reuse network
// addresses that have been allocated"; §1: a client "may obtain the same network address" after
// "a client or server reboot", which takes the bindings surviving the server's restart.

import Basics
import Wire

extension DHCPServer {
    /// Why a record was not put back.
    public enum RestoreRefusal: Equatable, Sendable, CustomStringConvertible {
        /// Offers are not kept: the client asks again.
        case offer
        /// The address is not a host address of this server's subnet (other than its own).
        case notInSubnet
        /// Reserved for another client by the configuration.
        case reservedForAnother
        /// Another record already has the address or the client.
        case duplicate

        public var description: String {
            switch self {
            case .offer: "offers are not restored"
            case .notInSubnet: "the address is not a host address of the subnet"
            case .reservedForAnother: "the address is reserved for another client"
            case .duplicate: "the address or the client already has a record"
            }
        }
    }

    /// Puts `lease` back as it was (bound, released, expired or declined, with its expiry), or
    /// says why not. Records whose time ran out before `now` end at the next `expire(now:)`, as
    /// if the server had never stopped. A bound lease outside a pool that has since shrunk is kept
    /// until it runs out (the client holds it); renewing it is then refused as for any address no
    /// longer in the pool.
    public mutating func restore(_ lease: DHCPLease) -> RestoreRefusal? {
        restore([lease]).first?.refusal
    }

    /// Puts many records back (as `restore(_:)` each, in order), in time linear in their number.
    /// Returns those refused, with why.
    public mutating func restore(_ leases: [DHCPLease]) -> [(lease: DHCPLease, refusal: RestoreRefusal)] {
        var refused: [(lease: DHCPLease, refusal: RestoreRefusal)] = []
        for lease in leases {
            if let why = restoreOne(lease) { refused.append((lease, why)) }
        }
        table.refreshDeadline()
        return refused
    }

    private mutating func restoreOne(_ lease: DHCPLease) -> RestoreRefusal? {
        guard lease.state != .offered else { return .offer }
        guard configuration.isHostAddress(lease.address) else { return .notInSubnet }
        if reservedAddresses.contains(lease.address) {
            var matches = lease.mac.flatMap { reservedByMAC[$0] } == lease.address
            if case .clientIdentifier(let id) = lease.client, reservedByClientID[id] == lease.address { matches = true }
            guard matches || lease.state == .declined else { return .reservedForAnother }
        }
        if table[lease.address] != nil { return .duplicate }
        if lease.state != .declined, table.record(of: lease.client) != nil { return .duplicate }
        table.store(lease, updatingDeadline: false)
        return nil
    }
}
