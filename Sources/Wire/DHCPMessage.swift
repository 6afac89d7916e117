// A DHCPv4 message (RFC 2131 §2): the BOOTP fixed part, the magic cookie and the options.
//
// Field names are the RFC's ('op', 'ciaddr', ...), so a reader holding Table 1 finds them.
// Parsing copies the option area once into `DHCPOptions`; 'sname' and 'file' are kept as raw
// bytes (without their zero padding) and are not read as options even under option overload.

/// One DHCP message, parsed or to be emitted.
public struct DHCPMessage: Equatable, Sendable, CustomStringConvertible {
    /// Message op code: BOOTREQUEST from a client, BOOTREPLY from a server.
    public var op: DHCPOpcode
    /// Hardware address type (1 = Ethernet).
    public var htype: UInt8
    /// Hardware address length (6 for Ethernet); at most 16, the size of 'chaddr'.
    public var hlen: UInt8
    /// "Client sets to zero, optionally used by relay agents when booting via a relay agent."
    public var hops: UInt8
    /// Transaction ID, chosen by the client; a reply carries the request's.
    public var xid: UInt32
    /// Seconds elapsed since the client began address acquisition or renewal.
    public var secs: UInt16
    /// Flags; only the BROADCAST bit (`DHCP.broadcastFlag`) is defined.
    public var flags: UInt16
    /// Client IP address, filled in by a client in BOUND, RENEW or REBINDING state.
    public var ciaddr: IPv4Address
    /// 'your' (client) IP address: what the server assigns.
    public var yiaddr: IPv4Address
    /// IP address of the next server to use in bootstrap.
    public var siaddr: IPv4Address
    /// Relay agent IP address.
    public var giaddr: IPv4Address
    /// Client hardware address (16 octets, of which 'hlen' count).
    public var chaddr: DHCPHardwareAddress
    /// Optional server host name, as written up to its first trailing zero padding (≤ 64 octets).
    public var sname: [UInt8]
    /// Boot file name, as written without its trailing zero padding (≤ 128 octets).
    public var file: [UInt8]
    /// The options after the magic cookie, in order.
    public var options: DHCPOptions

    /// A message with every field given; `sname`, `file` and `options` default to empty.
    public init(op: DHCPOpcode, htype: UInt8 = DHCP.hardwareTypeEthernet, hlen: UInt8 = 6, hops: UInt8 = 0,
                xid: UInt32, secs: UInt16 = 0, flags: UInt16 = 0,
                ciaddr: IPv4Address = .any, yiaddr: IPv4Address = .any, siaddr: IPv4Address = .any,
                giaddr: IPv4Address = .any, chaddr: DHCPHardwareAddress,
                sname: [UInt8] = [], file: [UInt8] = [], options: DHCPOptions = DHCPOptions()) {
        self.op = op; self.htype = htype; self.hlen = hlen; self.hops = hops
        self.xid = xid; self.secs = secs; self.flags = flags
        self.ciaddr = ciaddr; self.yiaddr = yiaddr; self.siaddr = siaddr; self.giaddr = giaddr
        self.chaddr = chaddr; self.sname = sname; self.file = file; self.options = options
    }

    // MARK: Convenience

    /// The DHCP message type (option 53), which RFC 2131 §3 says "must be included in every
    /// DHCP message".
    public var messageType: DHCPMessageType? {
        get { options.messageType }
        set { options.messageType = newValue }
    }

    /// The BROADCAST flag (RFC 2131 §2, §4.1).
    public var isBroadcast: Bool {
        get { flags & DHCP.broadcastFlag != 0 }
        set { flags = newValue ? flags | DHCP.broadcastFlag : flags & ~DHCP.broadcastFlag }
    }

    /// The client's MAC address when 'htype' is Ethernet and 'hlen' is 6, else nil.
    public var clientMAC: MACAddress? {
        htype == DHCP.hardwareTypeEthernet && hlen == 6 ? chaddr.macPrefix : nil
    }

    /// Bytes `emit(into:)` writes: header, cookie, options, End, padded to the BOOTP minimum.
    public var encodedLength: Int {
        max(DHCP.headerLength + options.encodedLength + 1, DHCP.minimumMessageLength)
    }

    // MARK: Parse

    /// Parses a message from the UDP payload `buffer`. Throws `WireError` for a buffer shorter
    /// than the fixed part and cookie, an unknown 'op', an 'hlen' over 16, a missing magic
    /// cookie, an option running past the end, or no End option. Never traps.
    public init(parsing buffer: UnsafeRawBufferPointer) throws(WireError) {
        try buffer.require(DHCP.headerLength)
        guard let op = DHCPOpcode(rawValue: buffer[DHCP.Offset.op]) else {
            throw WireError.malformed("DHCP op \(buffer[DHCP.Offset.op]) is neither BOOTREQUEST nor BOOTREPLY")
        }
        let hlen = buffer[DHCP.Offset.hlen]
        guard Int(hlen) <= DHCP.chaddrLength else {
            throw WireError.malformed("DHCP hlen \(hlen) exceeds the 16-octet chaddr")
        }
        // RFC 2131 §3: "The first four octets of the 'options' field of the DHCP message contain
        // the (decimal) values 99, 130, 83 and 99, respectively".
        guard buffer.u32(DHCP.Offset.options) == DHCP.magicCookie else {
            throw WireError.unsupported("BOOTP vendor area without the DHCP magic cookie")
        }
        self.op = op
        htype = buffer[DHCP.Offset.htype]
        self.hlen = hlen
        hops = buffer[DHCP.Offset.hops]
        xid = buffer.u32(DHCP.Offset.xid)
        secs = buffer.u16(DHCP.Offset.secs)
        flags = buffer.u16(DHCP.Offset.flags)
        ciaddr = IPv4Address(buffer, at: DHCP.Offset.ciaddr)
        yiaddr = IPv4Address(buffer, at: DHCP.Offset.yiaddr)
        siaddr = IPv4Address(buffer, at: DHCP.Offset.siaddr)
        giaddr = IPv4Address(buffer, at: DHCP.Offset.giaddr)
        chaddr = DHCPHardwareAddress(buffer, at: DHCP.Offset.chaddr)
        sname = Self.unpadded(buffer, at: DHCP.Offset.sname, length: DHCP.snameLength)
        file = Self.unpadded(buffer, at: DHCP.Offset.file, length: DHCP.fileLength)
        options = try DHCPOptions(parsing: buffer, from: DHCP.Offset.firstOption)
    }

    /// The field's octets up to the last non-zero one (empty — no allocation — when all zero).
    private static func unpadded(_ buffer: UnsafeRawBufferPointer, at offset: Int, length: Int) -> [UInt8] {
        var end = offset + length
        while end > offset, buffer[end - 1] == 0 { end -= 1 }
        return end == offset ? [] : Array(buffer[offset..<end])
    }

    // MARK: Emit

    /// Writes the message to the start of `buffer` and returns the bytes written
    /// (`encodedLength`): the fixed part, the magic cookie, the options, End, then Pad up to
    /// the 300-octet BOOTP minimum. Every byte up to the returned length is written.
    /// Throws `noSpace` if `buffer` is too small and `malformed` if 'hlen', 'sname' or 'file'
    /// do not fit their fields; nothing is written then.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard Int(hlen) <= DHCP.chaddrLength else { throw WireError.malformed("DHCP hlen \(hlen) exceeds 16") }
        guard sname.count <= DHCP.snameLength else { throw WireError.malformed("DHCP sname longer than 64 octets") }
        guard file.count <= DHCP.fileLength else { throw WireError.malformed("DHCP file longer than 128 octets") }
        let length = encodedLength
        try buffer.requireSpace(length)

        buffer.setU8(DHCP.Offset.op, op.rawValue)
        buffer.setU8(DHCP.Offset.htype, htype)
        buffer.setU8(DHCP.Offset.hlen, hlen)
        buffer.setU8(DHCP.Offset.hops, hops)
        buffer.setU32(DHCP.Offset.xid, xid)
        buffer.setU16(DHCP.Offset.secs, secs)
        buffer.setU16(DHCP.Offset.flags, flags)
        ciaddr.write(to: buffer, at: DHCP.Offset.ciaddr)
        yiaddr.write(to: buffer, at: DHCP.Offset.yiaddr)
        siaddr.write(to: buffer, at: DHCP.Offset.siaddr)
        giaddr.write(to: buffer, at: DHCP.Offset.giaddr)
        chaddr.write(to: buffer, at: DHCP.Offset.chaddr)
        Self.writePadded(sname, to: buffer, at: DHCP.Offset.sname, length: DHCP.snameLength)
        Self.writePadded(file, to: buffer, at: DHCP.Offset.file, length: DHCP.fileLength)
        buffer.setU32(DHCP.Offset.options, DHCP.magicCookie)

        var at = DHCP.Offset.firstOption
        options.write(to: buffer, at: at)
        at += options.encodedLength
        // RFC 2131 §4.1: "The last option must always be the 'end' option."
        buffer.setU8(at, DHCPOptionCode.end.rawValue)
        at += 1
        // RFC 2132 §3.2: "Subsequent octets should be filled with pad options."
        if at < length { UnsafeMutableRawBufferPointer(rebasing: buffer[at..<length]).initializeMemory(as: UInt8.self, repeating: 0) }
        return length
    }

    private static func writePadded(_ bytes: [UInt8], to buffer: UnsafeMutableRawBufferPointer, at offset: Int, length: Int) {
        let field = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + length)])
        field.initializeMemory(as: UInt8.self, repeating: 0)
        bytes.withUnsafeBytes { field.copyMemory(from: $0) }
    }

    // MARK: Description

    /// "DHCPDISCOVER xid=0x… chaddr=… ciaddr=… yiaddr=…": one line for logs and test failures.
    public var description: String {
        let type = messageType.map(String.init(describing:)) ?? "\(op) without type"
        let hw = clientMAC.map(String.init(describing:)) ?? chaddr.description
        let xidHex = String(xid, radix: 16)
        var s = "\(type) xid=0x\(xidHex) chaddr=\(hw)"
        if ciaddr != .any { s += " ciaddr=\(ciaddr)" }
        if yiaddr != .any { s += " yiaddr=\(yiaddr)" }
        if giaddr != .any { s += " giaddr=\(giaddr)" }
        if isBroadcast { s += " broadcast" }
        return s
    }
}
