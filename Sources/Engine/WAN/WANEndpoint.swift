// Where WAN datagrams go and come from: an IPv4 address and UDP port, resolved by the driver.
import Wire

/// An IPv4 address and UDP port on the underlay network.
public struct WANEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16
    public init(address: IPv4Address, port: UInt16) { self.address = address; self.port = port }

    /// The config's endpoint when its host is an IPv4 literal (names are resolved by the driver).
    public init?(_ endpoint: Endpoint) {
        guard let a = IPv4Address(endpoint.host) else { return nil }
        self.init(address: a, port: endpoint.port)
    }

    public var description: String { "\(address):\(port)" }
}
