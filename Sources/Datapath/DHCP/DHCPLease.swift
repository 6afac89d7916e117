// One address's record in a DHCP server: who has it, in what state, until when.

import Basics
import Wire

/// The server's record of one address. Released and expired records are kept (they hold
/// nothing) so that a returning client gets its old address back when it is still free —
/// RFC 2131 §4.3.4: "The server SHOULD retain a record of the client's initialization
/// parameters for possible reuse in response to subsequent requests from the client."
public struct DHCPLease: Equatable, Sendable, CustomStringConvertible {
    public enum State: String, Sendable {
        /// Offered in a DHCPOFFER and set aside until `expiry` (RFC 2131 §4.3.1: "the server
        /// SHOULD NOT reuse the selected network address before the client responds").
        case offered
        /// Acknowledged with a DHCPACK; the client may use it until `expiry`.
        case bound
        /// Given back with a DHCPRELEASE; free for anyone, preferred for this client.
        case released
        /// The lease ran out; free for anyone, preferred for this client.
        case expired
        /// A client reported it in use (DHCPDECLINE); out of use until `expiry`.
        case declined
    }

    public var address: IPv4Address
    /// The client that holds (or last held, or declined) the address.
    public var client: DHCPClientIdentity
    /// The client's Ethernet address, when 'chaddr' is one.
    public var mac: MACAddress?
    /// The client's host name (option 12), if it gave one.
    public var hostName: String?
    public var state: State
    /// When an offered, bound or declined record ends; when a released or expired one ended.
    public var expiry: Instant

    public init(address: IPv4Address, client: DHCPClientIdentity, mac: MACAddress?, hostName: String?,
                state: State, expiry: Instant) {
        self.address = address; self.client = client; self.mac = mac; self.hostName = hostName
        self.state = state; self.expiry = expiry
    }

    /// Whether the record keeps the address from other clients (offered, bound, declined).
    public var holdsAddress: Bool { state == .offered || state == .bound || state == .declined }

    public var description: String {
        var s = "\(address) \(state.rawValue) \(client)"
        if let mac { s += " mac \(mac)" }
        if let hostName { s += " host \(hostName)" }
        return s + " until \(expiry)"
    }
}
