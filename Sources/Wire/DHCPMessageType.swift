// The DHCP message type option's values (RFC 2132 §9.6).

/// The value of option 53, which names what a DHCP message is.
///
/// RFC 2132 §9.6: "Legal values for this option are: 1 DHCPDISCOVER 2 DHCPOFFER 3 DHCPREQUEST
/// 4 DHCPDECLINE 5 DHCPACK 6 DHCPNAK 7 DHCPRELEASE 8 DHCPINFORM". Other values (later RFCs
/// define some) are kept as raw numbers so that a message carrying one still parses.
public struct DHCPMessageType: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let discover = DHCPMessageType(rawValue: 1)
    public static let offer = DHCPMessageType(rawValue: 2)
    public static let request = DHCPMessageType(rawValue: 3)
    public static let decline = DHCPMessageType(rawValue: 4)
    public static let ack = DHCPMessageType(rawValue: 5)
    public static let nak = DHCPMessageType(rawValue: 6)
    public static let release = DHCPMessageType(rawValue: 7)
    public static let inform = DHCPMessageType(rawValue: 8)

    /// The eight types RFC 2131 defines, in numeric order.
    public static let rfc2131Types: [DHCPMessageType] = [.discover, .offer, .request, .decline, .ack, .nak, .release, .inform]

    @inlinable public static func < (a: DHCPMessageType, b: DHCPMessageType) -> Bool { a.rawValue < b.rawValue }

    /// The RFC's name ("DHCPDISCOVER"), or "DHCP type N" for a number it does not define.
    public var description: String {
        switch rawValue {
        case 1: "DHCPDISCOVER"
        case 2: "DHCPOFFER"
        case 3: "DHCPREQUEST"
        case 4: "DHCPDECLINE"
        case 5: "DHCPACK"
        case 6: "DHCPNAK"
        case 7: "DHCPRELEASE"
        case 8: "DHCPINFORM"
        default: "DHCP type \(rawValue)"
        }
    }
}
