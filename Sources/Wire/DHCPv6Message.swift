// DHCPv6 (RFC 8415): client/server and relay messages (§8, §9), the option framing (§21.1) and
// the options a server needs — client and server identifiers with their DUIDs (§11), IA_NA and
// IAADDR (§21.4, §21.6), ORO (§21.7), preference (§21.8), elapsed time (§21.9), relay message
// (§21.10), status code (§21.13), rapid commit (§21.14), IA_PD and IAPREFIX (§21.21, §21.22), and
// DNS recursive name servers (RFC 3646 §3).
//
//   client/server message: msg-type(1) transaction-id(3) options
//   relay message:         msg-type(1) hop-count(1) link-address(16) peer-address(16) options
//   option:                option-code(2) option-len(2) option-data
//
// Options are kept raw, in order, so unknown ones survive a round trip byte for byte; the typed
// accessors decode on demand, and options that nest options (IA_NA, IAADDR, IA_PD, IAPREFIX) parse
// their inner list only when asked — no recursion in the message parser.

/// DHCPv6 constants (RFC 8415 §7).
public enum DHCPv6Constants {
    /// UDP port clients listen on (§7.2).
    public static let clientPort: UInt16 = 546
    /// UDP port servers and relay agents listen on (§7.2).
    public static let serverPort: UInt16 = 547
    /// The most options one list may hold; past it the message is rejected. A 1500-octet message
    /// holds at most 371 empty options; real ones carry a dozen.
    public static let maximumOptions = 64
    /// §11.1: "A DUID can be no more than 130 octets long (including the type code)."
    public static let maximumDUIDLength = 130
    /// §19.1.2: relay agents discard messages whose hop count reached HOP_COUNT_LIMIT (8).
    public static let hopCountLimit: UInt8 = 8
}

/// The msg-type field (RFC 8415 §7.3).
public struct DHCPv6MessageType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let solicit = DHCPv6MessageType(rawValue: 1)
    public static let advertise = DHCPv6MessageType(rawValue: 2)
    public static let request = DHCPv6MessageType(rawValue: 3)
    public static let confirm = DHCPv6MessageType(rawValue: 4)
    public static let renew = DHCPv6MessageType(rawValue: 5)
    public static let rebind = DHCPv6MessageType(rawValue: 6)
    public static let reply = DHCPv6MessageType(rawValue: 7)
    public static let release = DHCPv6MessageType(rawValue: 8)
    public static let decline = DHCPv6MessageType(rawValue: 9)
    public static let reconfigure = DHCPv6MessageType(rawValue: 10)
    public static let informationRequest = DHCPv6MessageType(rawValue: 11)
    public static let relayForward = DHCPv6MessageType(rawValue: 12)
    public static let relayReply = DHCPv6MessageType(rawValue: 13)

    /// Relay-forward and relay-reply use the relay layout (§9).
    @inlinable public var isRelay: Bool { rawValue == 12 || rawValue == 13 }
}

/// An option code (IANA "DHCPv6 Option Codes").
public struct DHCPv6OptionCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let clientIdentifier = DHCPv6OptionCode(rawValue: 1)
    public static let serverIdentifier = DHCPv6OptionCode(rawValue: 2)
    public static let identityAssociationNA = DHCPv6OptionCode(rawValue: 3)
    public static let identityAssociationTA = DHCPv6OptionCode(rawValue: 4)
    public static let iaAddress = DHCPv6OptionCode(rawValue: 5)
    public static let optionRequest = DHCPv6OptionCode(rawValue: 6)
    public static let preference = DHCPv6OptionCode(rawValue: 7)
    public static let elapsedTime = DHCPv6OptionCode(rawValue: 8)
    public static let relayMessage = DHCPv6OptionCode(rawValue: 9)
    public static let serverUnicast = DHCPv6OptionCode(rawValue: 12)
    public static let statusCode = DHCPv6OptionCode(rawValue: 13)
    public static let rapidCommit = DHCPv6OptionCode(rawValue: 14)
    public static let interfaceID = DHCPv6OptionCode(rawValue: 18)
    /// DNS recursive name servers (RFC 3646 §3).
    public static let dnsServers = DHCPv6OptionCode(rawValue: 23)
    /// Domain search list (RFC 3646 §4).
    public static let domainList = DHCPv6OptionCode(rawValue: 24)
    public static let identityAssociationPD = DHCPv6OptionCode(rawValue: 25)
    public static let iaPrefix = DHCPv6OptionCode(rawValue: 26)
    public static let informationRefreshTime = DHCPv6OptionCode(rawValue: 32)
    public static let solMaxRT = DHCPv6OptionCode(rawValue: 82)
}

/// Status codes (RFC 8415 §21.13).
public struct DHCPv6Status: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let success = DHCPv6Status(rawValue: 0)
    public static let unspecifiedFailure = DHCPv6Status(rawValue: 1)
    public static let noAddressesAvailable = DHCPv6Status(rawValue: 2)
    public static let noBinding = DHCPv6Status(rawValue: 3)
    public static let notOnLink = DHCPv6Status(rawValue: 4)
    public static let useMulticast = DHCPv6Status(rawValue: 5)
    public static let noPrefixAvailable = DHCPv6Status(rawValue: 6)
}

/// A DHCP Unique Identifier (RFC 8415 §11). Servers compare DUIDs as opaque octets (§11: "DUIDs
/// ... are compared for equality by comparing their octets"), so `bytes` is what keys a binding.
public enum DHCPv6DUID: Hashable, Sendable {
    /// Type 1: link-layer address plus time (§11.2); time is seconds since 2000-01-01 UTC mod 2^32.
    case linkLayerPlusTime(hardwareType: UInt16, time: UInt32, linkLayerAddress: [UInt8])
    /// Type 2: assigned by vendor based on enterprise number (§11.3).
    case enterprise(enterpriseNumber: UInt32, identifier: [UInt8])
    /// Type 3: link-layer address (§11.4).
    case linkLayer(hardwareType: UInt16, linkLayerAddress: [UInt8])
    /// Type 4: UUID (RFC 6355), 16 octets.
    case uuid([UInt8])
    /// Any other type: its code and the rest.
    case other(type: UInt16, data: [UInt8])

    /// IANA hardware type for Ethernet (RFC 826 / "Hardware Types").
    public static let hardwareTypeEthernet: UInt16 = 1

    /// DUID-LL of an Ethernet MAC: what a host without stable storage uses (§11.4).
    public static func linkLayer(mac: MACAddress) -> DHCPv6DUID {
        .linkLayer(hardwareType: hardwareTypeEthernet, linkLayerAddress: mac.octets)
    }

    /// Reads a DUID (the whole data of a client or server identifier option).
    public init(bytes: some Collection<UInt8>) throws(WireError) {
        let b = Array(bytes)
        // A type code and at least one octet: §11.1 gives no zero-length DUID.
        guard b.count >= 3 else { throw WireError.truncated(needed: 3, have: b.count) }
        guard b.count <= DHCPv6Constants.maximumDUIDLength else { throw WireError.malformed("DUID of \(b.count) octets") }
        let type = UInt16(b[0]) << 8 | UInt16(b[1])
        func u16(_ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) << 16 | UInt32(u16(i + 2)) }
        switch type {
        case 1:
            guard b.count >= 8 else { throw WireError.truncated(needed: 8, have: b.count) }
            self = .linkLayerPlusTime(hardwareType: u16(2), time: u32(4), linkLayerAddress: Array(b[8...]))
        case 2:
            guard b.count >= 6 else { throw WireError.truncated(needed: 6, have: b.count) }
            self = .enterprise(enterpriseNumber: u32(2), identifier: Array(b[6...]))
        case 3:
            guard b.count >= 4 else { throw WireError.truncated(needed: 4, have: b.count) }
            self = .linkLayer(hardwareType: u16(2), linkLayerAddress: Array(b[4...]))
        case 4:
            // RFC 6355 §4: "the UUID ... 16 octets".
            guard b.count == 18 else { throw WireError.malformed("DUID-UUID of \(b.count - 2) octets, not 16") }
            self = .uuid(Array(b[2...]))
        default:
            self = .other(type: type, data: Array(b[2...]))
        }
    }

    /// The DUID on the wire.
    public var bytes: [UInt8] {
        func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }
        switch self {
        case .linkLayerPlusTime(let hw, let time, let ll): return be16(1) + be16(hw) + be32(time) + ll
        case .enterprise(let number, let id): return be16(2) + be32(number) + id
        case .linkLayer(let hw, let ll): return be16(3) + be16(hw) + ll
        case .uuid(let u): return be16(4) + u
        case .other(let type, let data): return be16(type) + data
        }
    }
}

/// One option: code and data, kept as on the wire.
public struct DHCPv6Option: Hashable, Sendable {
    public var code: DHCPv6OptionCode
    public var data: [UInt8]

    public init(code: DHCPv6OptionCode, data: [UInt8]) { self.code = code; self.data = data }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }

    public static func clientIdentifier(_ duid: DHCPv6DUID) -> DHCPv6Option { DHCPv6Option(code: .clientIdentifier, data: duid.bytes) }
    public static func serverIdentifier(_ duid: DHCPv6DUID) -> DHCPv6Option { DHCPv6Option(code: .serverIdentifier, data: duid.bytes) }
    public static func identityAssociation(_ ia: DHCPv6IdentityAssociation) -> DHCPv6Option {
        DHCPv6Option(code: .identityAssociationNA, data: ia.bytes)
    }
    public static func identityAssociationPD(_ ia: DHCPv6IdentityAssociation) -> DHCPv6Option {
        DHCPv6Option(code: .identityAssociationPD, data: ia.bytes)
    }
    public static func address(_ a: DHCPv6IAAddress) -> DHCPv6Option { DHCPv6Option(code: .iaAddress, data: a.bytes) }
    public static func prefix(_ p: DHCPv6IAPrefix) -> DHCPv6Option { DHCPv6Option(code: .iaPrefix, data: p.bytes) }
    /// §21.7: "a list of the option codes for the options requested".
    public static func optionRequest(_ codes: [DHCPv6OptionCode]) -> DHCPv6Option {
        DHCPv6Option(code: .optionRequest, data: codes.flatMap { be16($0.rawValue) })
    }
    public static func preference(_ value: UInt8) -> DHCPv6Option { DHCPv6Option(code: .preference, data: [value]) }
    /// §21.9: hundredths of a second; 0xFFFF for any longer time.
    public static func elapsedTime(_ hundredths: UInt16) -> DHCPv6Option { DHCPv6Option(code: .elapsedTime, data: be16(hundredths)) }
    public static func status(_ status: DHCPv6Status, message: String = "") -> DHCPv6Option {
        DHCPv6Option(code: .statusCode, data: be16(status.rawValue) + Array(message.utf8))
    }
    public static let rapidCommit = DHCPv6Option(code: .rapidCommit, data: [])
    public static func dnsServers(_ servers: [IPv6Address]) -> DHCPv6Option {
        DHCPv6Option(code: .dnsServers, data: servers.flatMap(\.octets))
    }
    public static func relayMessage(_ inner: [UInt8]) -> DHCPv6Option { DHCPv6Option(code: .relayMessage, data: inner) }
}

/// An ordered list of options (RFC 8415 §21.1).
public struct DHCPv6Options: Hashable, Sendable, RandomAccessCollection {
    public var list: [DHCPv6Option]

    public init(_ list: [DHCPv6Option] = []) { self.list = list }

    public var startIndex: Int { list.startIndex }
    public var endIndex: Int { list.endIndex }
    public subscript(position: Int) -> DHCPv6Option { list[position] }

    /// Reads options back to back to the end of `bytes`: each header whole, each length within
    /// the area, at most `DHCPv6Constants.maximumOptions`.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        var list: [DHCPv6Option] = []
        var i = 0
        while i < bytes.count {
            guard i + 4 <= bytes.count else { throw WireError.truncated(needed: i + 4, have: bytes.count) }
            let length = Int(bytes.u16(i + 2))
            guard i + 4 + length <= bytes.count else { throw WireError.truncated(needed: i + 4 + length, have: bytes.count) }
            guard list.count < DHCPv6Constants.maximumOptions else {
                throw WireError.malformed("more than \(DHCPv6Constants.maximumOptions) DHCPv6 options")
            }
            list.append(DHCPv6Option(code: DHCPv6OptionCode(rawValue: bytes.u16(i)), data: Array(bytes.slice(i + 4..<i + 4 + length))))
            i += 4 + length
        }
        self.list = list
    }

    /// Reads the options of `bytes` (an array), for nested option lists.
    init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        let copy = Array(bytes)
        let result = copy.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> Result<DHCPv6Options, WireError> in
            Result { () throws(WireError) -> DHCPv6Options in try DHCPv6Options(parsing: b) }
        }
        self = try result.get()
    }

    /// Octets on the wire.
    public var encodedLength: Int { list.reduce(0) { $0 + 4 + $1.data.count } }

    /// The options on the wire.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedLength)
        for o in list { out += DHCPv6Option.be16(o.code.rawValue) + DHCPv6Option.be16(UInt16(truncatingIfNeeded: o.data.count)) + o.data }
        return out
    }

    /// Writes the options at `offset`; the caller checked `encodedLength` octets of space.
    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(WireError) {
        var i = offset
        for o in list {
            guard o.data.count <= Int(UInt16.max) else { throw WireError.badLength }
            buffer.setU16(i, o.code.rawValue)
            buffer.setU16(i + 2, UInt16(o.data.count))
            o.data.withUnsafeBytes { buffer.copyBytes($0, at: i + 4) }
            i += 4 + o.data.count
        }
    }

    public mutating func append(_ option: DHCPv6Option) { list.append(option) }

    /// The data of the first option with `code`.
    public func first(_ code: DHCPv6OptionCode) -> [UInt8]? { list.first { $0.code == code }?.data }
    /// The data of every option with `code`, in order.
    public func all(_ code: DHCPv6OptionCode) -> [[UInt8]] { list.filter { $0.code == code }.map(\.data) }
    public func contains(_ code: DHCPv6OptionCode) -> Bool { list.contains { $0.code == code } }

    // MARK: Typed accessors (nil when absent; throw when present but malformed)

    public func clientIdentifier() throws(WireError) -> DHCPv6DUID? {
        guard let d = first(.clientIdentifier) else { return nil }
        return try DHCPv6DUID(bytes: d)
    }
    public func serverIdentifier() throws(WireError) -> DHCPv6DUID? {
        guard let d = first(.serverIdentifier) else { return nil }
        return try DHCPv6DUID(bytes: d)
    }
    /// Every IA_NA, in order (a client may ask for several, §21.4).
    public func identityAssociations() throws(WireError) -> [DHCPv6IdentityAssociation] {
        var out: [DHCPv6IdentityAssociation] = []
        for d in all(.identityAssociationNA) { out.append(try DHCPv6IdentityAssociation(bytes: d)) }
        return out
    }
    /// Every IA_PD, in order (§21.21).
    public func prefixDelegations() throws(WireError) -> [DHCPv6IdentityAssociation] {
        var out: [DHCPv6IdentityAssociation] = []
        for d in all(.identityAssociationPD) { out.append(try DHCPv6IdentityAssociation(bytes: d)) }
        return out
    }
    /// Every IAADDR in this list (inside an IA_NA's options).
    public func addresses() throws(WireError) -> [DHCPv6IAAddress] {
        var out: [DHCPv6IAAddress] = []
        for d in all(.iaAddress) { out.append(try DHCPv6IAAddress(bytes: d)) }
        return out
    }
    /// Every IAPREFIX in this list (inside an IA_PD's options).
    public func prefixes() throws(WireError) -> [DHCPv6IAPrefix] {
        var out: [DHCPv6IAPrefix] = []
        for d in all(.iaPrefix) { out.append(try DHCPv6IAPrefix(bytes: d)) }
        return out
    }
    public func optionRequest() throws(WireError) -> [DHCPv6OptionCode]? {
        guard let d = first(.optionRequest) else { return nil }
        guard d.count % 2 == 0 else { throw WireError.malformed("ORO of odd length \(d.count)") }
        return stride(from: 0, to: d.count, by: 2).map { DHCPv6OptionCode(rawValue: UInt16(d[$0]) << 8 | UInt16(d[$0 + 1])) }
    }
    public func preference() throws(WireError) -> UInt8? {
        guard let d = first(.preference) else { return nil }
        guard d.count == 1 else { throw WireError.malformed("preference option of \(d.count) octets") }
        return d[0]
    }
    public func elapsedTime() throws(WireError) -> UInt16? {
        guard let d = first(.elapsedTime) else { return nil }
        guard d.count == 2 else { throw WireError.malformed("elapsed time option of \(d.count) octets") }
        return UInt16(d[0]) << 8 | UInt16(d[1])
    }
    /// The status code and its UTF-8 message (bytes that are not UTF-8 are replaced).
    public func status() throws(WireError) -> (status: DHCPv6Status, message: String)? {
        guard let d = first(.statusCode) else { return nil }
        guard d.count >= 2 else { throw WireError.truncated(needed: 2, have: d.count) }
        return (DHCPv6Status(rawValue: UInt16(d[0]) << 8 | UInt16(d[1])), String(decoding: d[2...], as: UTF8.self))
    }
    /// §21.14: "option-len 0".
    public func rapidCommit() throws(WireError) -> Bool {
        guard let d = first(.rapidCommit) else { return false }
        guard d.isEmpty else { throw WireError.malformed("rapid commit option with data") }
        return true
    }
    /// RFC 3646 §3: "a list of 16-octet IPv6 addresses"; its length "must be a multiple of 16".
    public func dnsServers() throws(WireError) -> [IPv6Address]? {
        guard let d = first(.dnsServers) else { return nil }
        guard d.count % 16 == 0 else { throw WireError.malformed("DNS servers option of \(d.count) octets") }
        return stride(from: 0, to: d.count, by: 16).compactMap { IPv6Address(octets: d[$0..<$0 + 16]) }
    }
}

private func readU32(_ d: [UInt8], _ i: Int) -> UInt32 {
    UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3])
}

/// An IA_NA (§21.4) or IA_PD (§21.21): the same layout, IAID(4) T1(4) T2(4) options.
public struct DHCPv6IdentityAssociation: Hashable, Sendable {
    public var iaid: UInt32
    /// Seconds until the client renews / rebinds.
    public var t1: UInt32
    public var t2: UInt32
    /// IAADDR (IA_NA) or IAPREFIX (IA_PD) options, and a status code.
    public var options: DHCPv6Options

    public init(iaid: UInt32, t1: UInt32 = 0, t2: UInt32 = 0, options: DHCPv6Options = DHCPv6Options()) {
        self.iaid = iaid; self.t1 = t1; self.t2 = t2; self.options = options
    }

    public init(bytes d: [UInt8]) throws(WireError) {
        guard d.count >= 12 else { throw WireError.truncated(needed: 12, have: d.count) }
        iaid = readU32(d, 0); t1 = readU32(d, 4); t2 = readU32(d, 8)
        options = try DHCPv6Options(parsing: d[12...])
    }

    public var bytes: [UInt8] { DHCPv6Option.be32(iaid) + DHCPv6Option.be32(t1) + DHCPv6Option.be32(t2) + options.bytes }
}

/// An IAADDR (§21.6): address(16) preferred-lifetime(4) valid-lifetime(4) options.
public struct DHCPv6IAAddress: Hashable, Sendable {
    public var address: IPv6Address
    public var preferredLifetime: UInt32
    public var validLifetime: UInt32
    public var options: DHCPv6Options

    public init(address: IPv6Address, preferredLifetime: UInt32, validLifetime: UInt32, options: DHCPv6Options = DHCPv6Options()) {
        self.address = address; self.preferredLifetime = preferredLifetime
        self.validLifetime = validLifetime; self.options = options
    }

    public init(bytes d: [UInt8]) throws(WireError) {
        guard d.count >= 24 else { throw WireError.truncated(needed: 24, have: d.count) }
        address = IPv6Address(octets: d[0..<16])!
        preferredLifetime = readU32(d, 16); validLifetime = readU32(d, 20)
        options = try DHCPv6Options(parsing: d[24...])
    }

    public var bytes: [UInt8] {
        address.octets + DHCPv6Option.be32(preferredLifetime) + DHCPv6Option.be32(validLifetime) + options.bytes
    }
}

/// An IAPREFIX (§21.22): preferred-lifetime(4) valid-lifetime(4) prefix-length(1) prefix(16) options.
public struct DHCPv6IAPrefix: Hashable, Sendable {
    public var preferredLifetime: UInt32
    public var validLifetime: UInt32
    public var prefixLength: UInt8
    public var prefix: IPv6Address
    public var options: DHCPv6Options

    public init(prefix: IPv6Address, prefixLength: UInt8, preferredLifetime: UInt32, validLifetime: UInt32,
                options: DHCPv6Options = DHCPv6Options()) {
        self.prefix = prefix; self.prefixLength = prefixLength
        self.preferredLifetime = preferredLifetime; self.validLifetime = validLifetime; self.options = options
    }

    public init(bytes d: [UInt8]) throws(WireError) {
        guard d.count >= 25 else { throw WireError.truncated(needed: 25, have: d.count) }
        preferredLifetime = readU32(d, 0); validLifetime = readU32(d, 4)
        prefixLength = d[8]
        guard prefixLength <= 128 else { throw WireError.malformed("IAPREFIX prefix length \(prefixLength)") }
        prefix = IPv6Address(octets: d[9..<25])!
        options = try DHCPv6Options(parsing: d[25...])
    }

    public var bytes: [UInt8] {
        DHCPv6Option.be32(preferredLifetime) + DHCPv6Option.be32(validLifetime) + [prefixLength] + prefix.octets + options.bytes
    }
}

/// A DHCPv6 message: client/server (§8) or relay (§9).
public struct DHCPv6Message: Hashable, Sendable {
    public var type: DHCPv6MessageType
    /// 24-bit transaction id (client/server messages; 0 for relay messages).
    public var transactionID: UInt32
    /// Relay messages only (§9): hop count, link address and peer address.
    public var hopCount: UInt8
    public var linkAddress: IPv6Address
    public var peerAddress: IPv6Address
    public var options: DHCPv6Options

    /// A client/server message.
    public init(type: DHCPv6MessageType, transactionID: UInt32, options: DHCPv6Options = DHCPv6Options()) {
        self.type = type; self.transactionID = transactionID & 0xFF_FFFF; self.options = options
        hopCount = 0; linkAddress = .unspecified; peerAddress = .unspecified
    }

    /// A relay message (relay-forward or relay-reply).
    public init(relay type: DHCPv6MessageType, hopCount: UInt8, linkAddress: IPv6Address, peerAddress: IPv6Address,
                options: DHCPv6Options = DHCPv6Options()) {
        self.type = type; transactionID = 0; self.hopCount = hopCount
        self.linkAddress = linkAddress; self.peerAddress = peerAddress; self.options = options
    }

    /// Octets of the fixed part before the options.
    public var headerLength: Int { type.isRelay ? 34 : 4 }
    public var encodedLength: Int { headerLength + options.encodedLength }

    /// Parses the message that fills `bytes` (a UDP payload). Options are framed and bounded;
    /// their contents are decoded by the typed accessors.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        try bytes.require(4)
        type = DHCPv6MessageType(rawValue: bytes.u8(0))
        if type.isRelay {
            try bytes.require(34)
            transactionID = 0
            hopCount = bytes.u8(1)
            linkAddress = IPv6Address(bytes, at: 2)
            peerAddress = IPv6Address(bytes, at: 18)
            options = try DHCPv6Options(parsing: bytes.slice(from: 34))
        } else {
            transactionID = bytes.u32(0) & 0xFF_FFFF
            hopCount = 0; linkAddress = .unspecified; peerAddress = .unspecified
            options = try DHCPv6Options(parsing: bytes.slice(from: 4))
        }
    }

    /// Writes the message; returns its length.
    public func emit(into bytes: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let length = encodedLength
        try bytes.requireSpace(length)
        if type.isRelay {
            bytes.setU8(0, type.rawValue)
            bytes.setU8(1, hopCount)
            linkAddress.write(to: bytes, at: 2)
            peerAddress.write(to: bytes, at: 18)
        } else {
            bytes.setU32(0, UInt32(type.rawValue) << 24 | (transactionID & 0xFF_FFFF))
        }
        try options.write(to: bytes, at: headerLength)
        return length
    }

    /// The message inside a relay message's Relay Message option (§21.10), parsed.
    public func relayedMessage() throws(WireError) -> DHCPv6Message? {
        guard type.isRelay, let inner = options.first(.relayMessage) else { return nil }
        let result = inner.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> Result<DHCPv6Message, WireError> in
            Result { () throws(WireError) -> DHCPv6Message in try DHCPv6Message(parsing: b) }
        }
        return try result.get()
    }
}
