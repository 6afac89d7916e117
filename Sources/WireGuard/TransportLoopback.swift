// Two devices back to back with a session between them, for timing the transport path (the CLI's benchmark):
// encrypt in place on one side, decrypt in place on the other — the real send/receive code, no copies.

import Basics
import Crypto
import Wire

/// A pair of devices with an established session, pushing packets from one to the other in place.
public final class TransportLoopback {
    public let sender: WireGuardDevice
    public let receiver: WireGuardDevice
    public let packetSize: Int
    var buffer: [UInt8]
    static let senderEndpoint = SocketAddressV4(address: IPv4Address(192, 0, 2, 1), port: 51820)
    static let receiverEndpoint = SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 51820)

    /// Builds both devices (deterministic keys from `seed`) and completes a handshake. `packetSize` ≥ 20.
    public init(packetSize: Int, seed: UInt64 = 1) {
        precondition(packetSize >= 20 && packetSize <= 65535)
        self.packetSize = packetSize
        var keys = SeededRandom(seed: seed, component: "loopback-keys")
        let a = KeyPair.deterministic(using: &keys), b = KeyPair.deterministic(using: &keys)
        sender = WireGuardDevice(configuration: DeviceConfiguration(privateKey: a.privateKey),
                                 random: SeededRandom(seed: seed, component: "a"), keySource: keys.split("a"), wallClock: .monotonic)
        receiver = WireGuardDevice(configuration: DeviceConfiguration(privateKey: b.privateKey),
                                   random: SeededRandom(seed: seed, component: "b"), keySource: keys.split("b"), wallClock: .monotonic)
        sender.addPeer(PeerConfiguration(publicKey: b.publicKey, endpoint: Self.receiverEndpoint,
                                         allowedIPs: [IPv4Network("10.0.0.2/32")!]))
        receiver.addPeer(PeerConfiguration(publicKey: a.publicKey, endpoint: Self.senderEndpoint,
                                           allowedIPs: [IPv4Network("10.0.0.1/32")!]))
        buffer = [UInt8](repeating: 0, count: TransportHeader.size + packetSize + 32)
        // Handshake: the first packet is staged, the initiation and response cross, the staged packet follows.
        var pending = sender.send(packet: Self.packet(size: packetSize), now: .zero).datagrams
        var toReceiver = true
        while !pending.isEmpty {
            var next: [OutgoingDatagram] = []
            for d in pending {
                let target = toReceiver ? receiver : sender
                next += target.receive(datagram: d.bytes, from: toReceiver ? Self.senderEndpoint : Self.receiverEndpoint,
                                       now: .zero).datagrams
            }
            pending = next
            toReceiver.toggle()
        }
    }

    /// An IPv4 packet of `size` bytes from 10.0.0.1 to 10.0.0.2 (header only; the checksum is not checked).
    static func packet(size: Int) -> [UInt8] {
        var p = [UInt8](repeating: 0xA5, count: size)
        p.withUnsafeMutableBytes { b in
            b[0] = 0x45; b[1] = 0; b.setU16(2, UInt16(size)); b.setU32(4, 0); b[8] = 64; b[9] = 17
            b.setU16(10, 0); b.setU32(12, IPv4Address(10, 0, 0, 1).rawValue); b.setU32(16, IPv4Address(10, 0, 0, 2).rawValue)
        }
        return p
    }

    /// Encrypts and decrypts `count` packets in place; returns how many were delivered intact in size.
    ///
    /// The packet is copied into the buffer once, not before every send: decrypting in place restores it (the
    /// header and padding around it are rewritten by each send), so every round trip starts from the same plaintext,
    /// as libsodium's reference loop re-encrypts its own buffer. The end of the run checks that it did.
    public func run(packets count: Int, now: Instant = .zero) -> Int {
        let template = Self.packet(size: packetSize)
        let h = TransportHeader.size
        var delivered = 0
        buffer.withUnsafeMutableBytes { b in
            template.withUnsafeBytes { b.slice(h..<(h + packetSize)).copyMemory(from: $0) }
            for _ in 0..<count {
                guard case .transmit(_, _, let n) = sender.send(packet: b, count: packetSize, now: now) else { continue }
                if case .deliver(_, let range) = receiver.receive(datagram: b, count: n, from: Self.senderEndpoint, now: now),
                   range.count == packetSize { delivered += 1 }
            }
            precondition(template.withUnsafeBytes { $0.elementsEqual(b.slice(h..<(h + packetSize))) },
                         "decrypting in place did not restore the packet")
        }
        _ = sender.takeOutgoing(); _ = receiver.takeOutgoing()
        return delivered
    }
}
