// ARP for Ethernet and IPv4 (RFC 826).
//
//   hrd(2)=1  pro(2)=0x0800  hln(1)=6  pln(1)=4  op(2)
//   sha(6) spa(4) tha(6) tpa(4)                                    — 28 bytes

/// ARP constants (RFC 826 "Packet format"; IANA ARP parameters).
public enum ARPConstants {
    /// ar$hrd for Ethernet (10Mb): 1.
    public static let hardwareEthernet: UInt16 = 1
    /// ar$pro: the EtherType of the protocol, IPv4.
    public static let protocolIPv4: UInt16 = EtherType.ipv4.rawValue
    /// ar$hln: bytes in an Ethernet address.
    public static let hardwareLength: UInt8 = 6
    /// ar$pln: bytes in an IPv4 address.
    public static let protocolLength: UInt8 = 4
    /// Length of an Ethernet/IPv4 ARP packet.
    public static let packetLength = 28
}

/// ar$op (RFC 826: "ares_op$REQUEST (= 1), ares_op$REPLY (= 2)").
public struct ARPOperation: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let request = ARPOperation(rawValue: 1)
    public static let reply = ARPOperation(rawValue: 2)
}

/// An ARP packet for Ethernet hardware and IPv4 protocol addresses.
public struct ARPPacket: Hashable, Sendable {
    public var operation: ARPOperation
    public var senderHardwareAddress: MACAddress
    public var senderProtocolAddress: IPv4Address
    public var targetHardwareAddress: MACAddress
    public var targetProtocolAddress: IPv4Address

    @inlinable public init(
        operation: ARPOperation, senderHardwareAddress: MACAddress, senderProtocolAddress: IPv4Address,
        targetHardwareAddress: MACAddress, targetProtocolAddress: IPv4Address
    ) {
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress; self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress; self.targetProtocolAddress = targetProtocolAddress
    }

    /// A request "who has `target`? tell `sender`" (target hardware address zero, as is customary).
    public static func request(from mac: MACAddress, _ ip: IPv4Address, asking target: IPv4Address) -> ARPPacket {
        ARPPacket(operation: .request, senderHardwareAddress: mac, senderProtocolAddress: ip,
                  targetHardwareAddress: .zero, targetProtocolAddress: target)
    }

    /// The reply to `request` from the owner of its target address, `mac`.
    /// RFC 826: "swap hardware and protocol fields, putting the local hardware and protocol
    /// addresses in the sender fields ... set the ar$op field to ares_op$REPLY".
    public func reply(with mac: MACAddress) -> ARPPacket {
        ARPPacket(operation: .reply, senderHardwareAddress: mac, senderProtocolAddress: targetProtocolAddress,
                  targetHardwareAddress: senderHardwareAddress, targetProtocolAddress: senderProtocolAddress)
    }

    /// True for a gratuitous ARP (RFC 5227 §3): sender and target protocol addresses are equal.
    @inlinable public var isGratuitous: Bool { senderProtocolAddress == targetProtocolAddress }

    /// Parses an ARP packet (the Ethernet payload). Trailing padding is ignored.
    @inlinable public init(parsing packet: UnsafeRawBufferPointer) throws(WireError) {
        try packet.require(8)
        // RFC 826: "?Do I have the hardware type in ar$hrd? Yes: ... ?Do I speak the protocol in ar$pro?"
        guard packet.u16(0) == ARPConstants.hardwareEthernet, packet.u16(2) == ARPConstants.protocolIPv4 else {
            throw WireError.unsupported("ARP hardware/protocol type")
        }
        guard packet.u8(4) == ARPConstants.hardwareLength, packet.u8(5) == ARPConstants.protocolLength else {
            throw WireError.badLength
        }
        try packet.require(ARPConstants.packetLength)
        operation = ARPOperation(rawValue: packet.u16(6))
        guard operation == .request || operation == .reply else { throw WireError.unsupported("ARP operation") }
        senderHardwareAddress = MACAddress(packet, at: 8)
        senderProtocolAddress = IPv4Address(packet, at: 14)
        targetHardwareAddress = MACAddress(packet, at: 18)
        targetProtocolAddress = IPv4Address(packet, at: 24)
    }

    /// Writes the 28-byte packet; returns 28.
    @inlinable public func emit(into packet: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        try packet.requireSpace(ARPConstants.packetLength)
        packet.setU16(0, ARPConstants.hardwareEthernet)
        packet.setU16(2, ARPConstants.protocolIPv4)
        packet.setU8(4, ARPConstants.hardwareLength)
        packet.setU8(5, ARPConstants.protocolLength)
        packet.setU16(6, operation.rawValue)
        senderHardwareAddress.write(to: packet, at: 8)
        senderProtocolAddress.write(to: packet, at: 14)
        targetHardwareAddress.write(to: packet, at: 18)
        targetProtocolAddress.write(to: packet, at: 24)
        return ARPConstants.packetLength
    }
}
