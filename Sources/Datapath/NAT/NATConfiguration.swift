// What a NAT is told at start: the external address, the ports it may use, its filtering
// behaviour, its timers and the size of its tables.
import Basics
import Wire

/// Which inbound packets a mapping lets in (RFC 4787 §5, RFC 5382 §4.2 (REQ-3)).
///
/// RFC 4787 REQ-8: "If application transparency is most important, it is RECOMMENDED that a NAT
/// have an 'Endpoint-Independent Filtering' behavior. If a more stringent filtering behavior is
/// most important, it is RECOMMENDED that a NAT have an 'Address-Dependent Filtering' behavior."
/// "The filtering behavior MAY be an option configurable by the administrator of the NAT."
public enum NATFiltering: Sendable, Hashable {
    /// Anyone may send to a mapping's external port ("full cone").
    case endpointIndependent
    /// Only addresses the internal endpoint has sent to, from any of their ports ("restricted cone").
    case addressDependent
    /// Only the exact address and port the internal endpoint has sent to ("port-restricted cone").
    case addressAndPortDependent
}

/// Idle timeouts per kind of session. A session is forgotten when it has been idle this long; a
/// mapping when its last session is forgotten.
public struct NATTimeouts: Sendable, Hashable {
    /// UDP (RFC 4787 REQ-5: at least 2 minutes). 120 s by default: the floor, as Linux conntrack's
    /// stream timeout; REQ-5c recommends 5 minutes (`NATConstants.recommendedUDPTimeout`).
    public var udp: Duration = NATConstants.minimumUDPTimeout
    /// TCP after both SYNs were seen and before any FIN or RST (RFC 5382 REQ-5: at least 2 h 4 min).
    public var tcpEstablished: Duration = NATConstants.minimumTCPEstablishedTimeout
    /// TCP while opening or closing (RFC 5382 REQ-5: at least 4 minutes).
    public var tcpTransitory: Duration = NATConstants.minimumTCPTransitoryTimeout
    /// ICMP echo and timestamp queries (RFC 5508 REQ-2: at least 60 seconds).
    public var icmpQuery: Duration = NATConstants.minimumICMPQueryTimeout
    public init() {}

    /// True if every timeout meets its RFC floor.
    public var meetsRFCMinimums: Bool {
        udp >= NATConstants.minimumUDPTimeout && tcpEstablished >= NATConstants.minimumTCPEstablishedTimeout
            && tcpTransitory >= NATConstants.minimumTCPTransitoryTimeout && icmpQuery >= NATConstants.minimumICMPQueryTimeout
    }
}

/// Everything a `NAT` needs at start.
public struct NATConfiguration: Sendable, Hashable {
    /// The one public address every internal endpoint is translated to (the uplink's or tunnel's).
    public var externalAddress: IPv4Address
    /// External ports for TCP and UDP, and identifiers for ICMP queries, that the NAT may hand out.
    public var portRange: ClosedRange<UInt16> = NATConstants.defaultPortRange
    /// Internal networks whose sources are translated; empty means any source but the external address.
    public var internalNetworks: [IPv4Network] = []
    public var filtering: NATFiltering = .addressDependent
    public var timeouts = NATTimeouts()
    /// Most sessions held at once; mappings are at most as many (each has at least one session).
    public var capacity: Int = NATConstants.defaultCapacity

    public init(externalAddress: IPv4Address) { self.externalAddress = externalAddress }
}

/// Why a configuration was refused.
public enum NATConfigurationError: Error, Equatable, Sendable {
    case badExternalAddress(IPv4Address)
    case badPortRange(ClosedRange<UInt16>)
    case badTimeout(String)
    case badCapacity(Int)
}

extension NATConfiguration {
    /// Largest `capacity` accepted (entry numbers are `Int32`, and the index holds twice as many slots).
    public static let maximumCapacity = 1 << 24

    /// Checks the configuration; throws the first problem found. Timeouts below the RFC floors are
    /// accepted (a lab may want short ones); `timeouts.meetsRFCMinimums` tells.
    public func validate() throws(NATConfigurationError) {
        let a = externalAddress
        guard !a.isUnspecified, !a.isMulticast, !a.isLimitedBroadcast, !a.isLoopback else {
            throw .badExternalAddress(a)
        }
        // Port 0 is not a port a datagram may come from (RFC 768 makes it "no port"; RFC 6335 §6 reserves it).
        guard portRange.lowerBound >= 1 else { throw .badPortRange(portRange) }
        for (name, t) in [("udp", timeouts.udp), ("tcpEstablished", timeouts.tcpEstablished),
                          ("tcpTransitory", timeouts.tcpTransitory), ("icmpQuery", timeouts.icmpQuery)] {
            guard t > .zero else { throw .badTimeout("\(name) must be positive") }
        }
        guard (1...Self.maximumCapacity).contains(capacity) else { throw .badCapacity(capacity) }
    }
}
