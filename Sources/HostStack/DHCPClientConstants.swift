// The DHCP client's timing constants, each from the RFC 2131 sentence that sets it.

import Wire

/// Client-side constants of RFC 2131.
public enum DHCPClientConstants {
    /// RFC 2131 §4.1: "the delay before the first retransmission SHOULD be 4 seconds randomized
    /// by the value of a uniform random number chosen from the range -1 to +1."
    public static let firstRetransmissionDelay: Duration = .seconds(4)
    /// RFC 2131 §4.1: "The delay before the next retransmission SHOULD be 8 seconds randomized by
    /// the value of a uniform number chosen from the range -1 to +1. The retransmission delay
    /// SHOULD be doubled with subsequent retransmissions up to a maximum of 64 seconds."
    public static let maximumRetransmissionDelay: Duration = .seconds(64)
    /// The ± randomisation of every retransmission delay (RFC 2131 §4.1, above).
    public static let retransmissionJitter: Duration = .seconds(1)
    /// RFC 2131 §4.4.5: "the client SHOULD wait one-half of the remaining time until T2 (in
    /// RENEWING state) and one-half of the remaining lease time (in REBINDING state), down to a
    /// minimum of 60 seconds, before retransmitting the DHCPREQUEST message."
    public static let renewRetransmissionMinimum: Duration = .seconds(60)
    /// RFC 2131 §3.1 step 5: "The client SHOULD wait a minimum of ten seconds before restarting
    /// the configuration process to avoid excessive network traffic in case of looping."
    public static let declineBackoff: Duration = .seconds(10)
    /// RFC 2131 §4.4.5: "T1 defaults to (0.5 * duration_of_lease)" — as a fraction 1/2.
    public static let renewalFraction = (numerator: 1, denominator: 2)
    /// RFC 2131 §4.4.5: "T2 defaults to (0.875 * duration_of_lease)" — as a fraction 7/8.
    public static let rebindingFraction = (numerator: 7, denominator: 8)
    /// Option 61 type octet for an Ethernet address (RFC 2132 §9.14: "the type field ... the
    /// hardware type" — 1 for Ethernet).
    public static let clientIdentifierTypeEthernet: UInt8 = 1
    /// The parameters a client asks for (option 55): subnet mask, router, DNS, domain name,
    /// lease time, server identifier, T1, T2.
    public static let defaultParameterRequestList: [DHCPOptionCode] = [
        .subnetMask, .router, .domainNameServer, .domainName,
        .ipAddressLeaseTime, .serverIdentifier, .renewalTime, .rebindingTime,
    ]
}
