// Typed access to the options a DHCP server and client use (RFC 2132).
//
// A getter returns nil when the option is absent or its length is not the one RFC 2132 gives
// (a malformed option is treated as absent; the raw bytes stay in `DHCPOptions`). A setter
// replaces every instance with one at the end, or removes the option for nil (or for an empty
// list or string, which RFC 2132's minimum lengths forbid).
//
// RFC 2132 §2: "All multi-octet quantities are in network byte-order."

extension DHCPOptions {
    /// Option 53 (§9.6): "The code for this option is 53, and its length is 1."
    public var messageType: DHCPMessageType? {
        get { byte(.dhcpMessageType).map(DHCPMessageType.init(rawValue:)) }
        set { set(.dhcpMessageType, newValue.map { [$0.rawValue] }) }
    }

    /// Option 1 (§3.3): "The code for the subnet mask option is 1, and its length is 4 octets."
    public var subnetMask: IPv4Address? {
        get { address(.subnetMask) }
        set { setAddress(.subnetMask, newValue) }
    }

    /// Option 3 (§3.5): "The minimum length for the router option is 4 octets, and the length
    /// MUST always be a multiple of 4."
    public var routers: [IPv4Address]? {
        get { addressList(.router) }
        set { setAddressList(.router, newValue) }
    }

    /// Option 6 (§3.8), domain name servers: a list of addresses, like option 3.
    public var domainNameServers: [IPv4Address]? {
        get { addressList(.domainNameServer) }
        set { setAddressList(.domainNameServer, newValue) }
    }

    /// Option 12 (§3.14): "The code for this option is 12, and its minimum length is 1."
    public var hostName: String? {
        get { text(.hostName) }
        set { setText(.hostName, newValue) }
    }

    /// Option 15 (§3.17): the domain name the client should use when resolving hostnames.
    public var domainName: String? {
        get { text(.domainName) }
        set { setText(.domainName, newValue) }
    }

    /// Option 28 (§5.3): "The code for this option is 28, and its length is 4."
    public var broadcastAddress: IPv4Address? {
        get { address(.broadcastAddress) }
        set { setAddress(.broadcastAddress, newValue) }
    }

    /// Option 50 (§9.1): "The code for this option is 50, and its length is 4."
    public var requestedIPAddress: IPv4Address? {
        get { address(.requestedIPAddress) }
        set { setAddress(.requestedIPAddress, newValue) }
    }

    /// Option 51 (§9.2), in seconds: "The code for this option is 51, and its length is 4."
    /// `DHCP.infiniteLeaseTime` means a lease that never ends.
    public var leaseTime: UInt32? {
        get { uint32(.ipAddressLeaseTime) }
        set { setUInt32(.ipAddressLeaseTime, newValue) }
    }

    /// Option 52 (§9.3): 1 'file', 2 'sname', 3 both fields hold options. Noted only: this codec
    /// keeps 'sname' and 'file' as raw bytes and does not parse options out of them.
    public var optionOverload: UInt8? {
        get { byte(.optionOverload) }
        set { set(.optionOverload, newValue.map { [$0] }) }
    }

    /// Option 54 (§9.7): "The code for this option is 54, and its length is 4."
    public var serverIdentifier: IPv4Address? {
        get { address(.serverIdentifier) }
        set { setAddress(.serverIdentifier, newValue) }
    }

    /// Option 55 (§9.8): "The code for this option is 55. Its minimum length is 1."
    public var parameterRequestList: [DHCPOptionCode]? {
        get {
            guard let data = value(of: .parameterRequestList), !data.isEmpty else { return nil }
            return data.map(DHCPOptionCode.init(rawValue:))
        }
        set { set(.parameterRequestList, newValue.flatMap { $0.isEmpty ? nil : $0.map(\.rawValue) }) }
    }

    /// Option 56 (§9.9): "The code for this option is 56 and its minimum length is 1."
    public var message: String? {
        get { text(.message) }
        set { setText(.message, newValue) }
    }

    /// Option 57 (§9.10): "The code for this option is 57, and its length is 2."
    public var maximumMessageSize: UInt16? {
        get {
            guard let data = value(of: .maximumMessageSize), data.count == 2 else { return nil }
            return UInt16(data[data.startIndex]) << 8 | UInt16(data[data.startIndex + 1])
        }
        set { set(.maximumMessageSize, newValue.map { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }) }
    }

    /// Option 58 (§9.11), T1 in seconds: "The code for this option is 58, and its length is 4."
    public var renewalTime: UInt32? {
        get { uint32(.renewalTime) }
        set { setUInt32(.renewalTime, newValue) }
    }

    /// Option 59 (§9.12), T2 in seconds: "The code for this option is 59, and its length is 4."
    public var rebindingTime: UInt32? {
        get { uint32(.rebindingTime) }
        set { setUInt32(.rebindingTime, newValue) }
    }

    /// Option 61 (§9.14), opaque octets (a type octet, then the identifier): "The code for this
    /// option is 61, and its minimum length is 2."
    public var clientIdentifier: [UInt8]? {
        get {
            guard let data = value(of: .clientIdentifier), data.count >= 2 else { return nil }
            return Array(data)
        }
        set { set(.clientIdentifier, newValue) }
    }

    // MARK: Shapes

    private func byte(_ code: DHCPOptionCode) -> UInt8? {
        guard let data = value(of: code), data.count == 1 else { return nil }
        return data[data.startIndex]
    }

    private func uint32(_ code: DHCPOptionCode) -> UInt32? {
        guard let data = value(of: code), data.count == 4 else { return nil }
        return Self.bigEndianUInt32(data, at: data.startIndex)
    }

    private mutating func setUInt32(_ code: DHCPOptionCode, _ value: UInt32?) {
        set(code, value.map(Self.bigEndianBytes))
    }

    private func address(_ code: DHCPOptionCode) -> IPv4Address? {
        uint32(code).map(IPv4Address.init(rawValue:))
    }

    private mutating func setAddress(_ code: DHCPOptionCode, _ address: IPv4Address?) {
        setUInt32(code, address?.rawValue)
    }

    private func addressList(_ code: DHCPOptionCode) -> [IPv4Address]? {
        guard let data = value(of: code), !data.isEmpty, data.count % 4 == 0 else { return nil }
        return stride(from: data.startIndex, to: data.endIndex, by: 4).map {
            IPv4Address(rawValue: Self.bigEndianUInt32(data, at: $0))
        }
    }

    private mutating func setAddressList(_ code: DHCPOptionCode, _ list: [IPv4Address]?) {
        set(code, list.flatMap { $0.isEmpty ? nil : $0.flatMap { Self.bigEndianBytes($0.rawValue) } })
    }

    /// RFC 2132 §2: "Options containing NVT ASCII data SHOULD NOT include a trailing NULL;
    /// however, the receiver of such options MUST be prepared to delete trailing nulls if they
    /// exist."
    private func text(_ code: DHCPOptionCode) -> String? {
        guard var data = value(of: code) else { return nil }
        while data.last == 0 { data.removeLast() }
        guard !data.isEmpty else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private mutating func setText(_ code: DHCPOptionCode, _ text: String?) {
        set(code, text.flatMap { $0.isEmpty ? nil : Array($0.utf8) })
    }

    private static func bigEndianUInt32(_ data: ArraySlice<UInt8>, at i: Int) -> UInt32 {
        UInt32(data[i]) << 24 | UInt32(data[i + 1]) << 16 | UInt32(data[i + 2]) << 8 | UInt32(data[i + 3])
    }

    private static func bigEndianBytes(_ v: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16),
         UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
}
