// DHCP option codes (RFC 2132), under the RFC's names.
//
// RFC 2132 §2: "All options begin with a tag octet, which uniquely identifies the option.
// Fixed-length options without data consist of only a tag octet. Only options 0 and 255 are
// fixed length. All other options are variable-length with a length octet following the tag
// octet. The value of the length octet does not include the two octets specifying the tag and
// length."

/// The tag octet of a DHCP option. Every value is representable; the common ones are named.
public struct DHCPOptionCode: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    /// §3.1 "The code for the pad option is 0, and its length is 1 octet."
    public static let pad = DHCPOptionCode(0)
    /// §3.3 Subnet Mask, 4 octets.
    public static let subnetMask = DHCPOptionCode(1)
    /// §3.5 Router, a list of addresses (length a multiple of 4).
    public static let router = DHCPOptionCode(3)
    /// §3.8 Domain Name Server, a list of addresses (length a multiple of 4).
    public static let domainNameServer = DHCPOptionCode(6)
    /// §3.14 Host Name, NVT ASCII, at least 1 octet.
    public static let hostName = DHCPOptionCode(12)
    /// §3.17 Domain Name, NVT ASCII, at least 1 octet.
    public static let domainName = DHCPOptionCode(15)
    /// §5.3 Broadcast Address, 4 octets.
    public static let broadcastAddress = DHCPOptionCode(28)
    /// §9.1 Requested IP Address, 4 octets.
    public static let requestedIPAddress = DHCPOptionCode(50)
    /// §9.2 IP Address Lease Time, 4 octets of seconds.
    public static let ipAddressLeaseTime = DHCPOptionCode(51)
    /// §9.3 Option Overload, 1 octet: 1 'file', 2 'sname', 3 both hold options.
    public static let optionOverload = DHCPOptionCode(52)
    /// §9.6 DHCP Message Type, 1 octet.
    public static let dhcpMessageType = DHCPOptionCode(53)
    /// §9.7 Server Identifier, 4 octets.
    public static let serverIdentifier = DHCPOptionCode(54)
    /// §9.8 Parameter Request List, at least 1 octet of option codes.
    public static let parameterRequestList = DHCPOptionCode(55)
    /// §9.9 Message, NVT ASCII, at least 1 octet.
    public static let message = DHCPOptionCode(56)
    /// §9.10 Maximum DHCP Message Size, 2 octets.
    public static let maximumMessageSize = DHCPOptionCode(57)
    /// §9.11 Renewal (T1) Time Value, 4 octets of seconds.
    public static let renewalTime = DHCPOptionCode(58)
    /// §9.12 Rebinding (T2) Time Value, 4 octets of seconds.
    public static let rebindingTime = DHCPOptionCode(59)
    /// §9.13 Vendor class identifier, at least 1 octet.
    public static let vendorClassIdentifier = DHCPOptionCode(60)
    /// §9.14 Client-identifier, at least 2 octets (a type octet and the identifier).
    public static let clientIdentifier = DHCPOptionCode(61)
    /// §3.2 "The code for the end option is 255, and its length is 1 octet."
    public static let end = DHCPOptionCode(255)

    @inlinable public static func < (a: DHCPOptionCode, b: DHCPOptionCode) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch rawValue {
        case 0: "pad"
        case 1: "subnet-mask"
        case 3: "router"
        case 6: "domain-name-server"
        case 12: "host-name"
        case 15: "domain-name"
        case 28: "broadcast-address"
        case 50: "requested-ip-address"
        case 51: "ip-address-lease-time"
        case 52: "option-overload"
        case 53: "dhcp-message-type"
        case 54: "server-identifier"
        case 55: "parameter-request-list"
        case 56: "message"
        case 57: "maximum-message-size"
        case 58: "renewal-time"
        case 59: "rebinding-time"
        case 60: "vendor-class-identifier"
        case 61: "client-identifier"
        case 255: "end"
        default: "option-\(rawValue)"
        }
    }
}
