// The 'op' field of a DHCP message (RFC 2131 §2, Table 1; RFC 951).

/// Whether a message travels from client to server or back.
///
/// RFC 2131 §3: "The 'op' field of each DHCP message sent from a client to a server contains
/// BOOTREQUEST. BOOTREPLY is used in the 'op' field of each DHCP message sent from a server to
/// a client."
public enum DHCPOpcode: UInt8, Sendable, CustomStringConvertible {
    case bootRequest = 1
    case bootReply = 2

    public var description: String { self == .bootRequest ? "BOOTREQUEST" : "BOOTREPLY" }
}
