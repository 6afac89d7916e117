// The in-process forwarding benchmark behind `sluice bench`: two in-memory virtio guests on one
// bridge (or, on the `wan` path, on two bridges joined by their WireGuard WANs), frames pushed
// from guest A's transmit ring through the engine into guest B's receive ring. The harness does
// the work; the caller (the CLI) owns the clock and the allocation counter, so this file stays
// sans-IO. It drives the Engine through its public API only.
import Basics
import Crypto
import Datapath
import Engine
import Virtio
import Wire

public final class ForwardingBench {
    /// Which way frames go through the bridge.
    public enum Path: String, CaseIterable, Sendable {
        /// guest A → switch → guest B, same segment.
        case l2
        /// guest A → switch → router → switch → guest B, across two subnets.
        case l3
        /// guest A → switch → router → NAT → WireGuard (encrypt) → datagram → the far bridge's
        /// WireGuard (decrypt) → router → switch → guest B: the WAN path both ways, one datagram
        /// copy between the bridges standing in for the network.
        case wan
    }

    public let path: Path
    public let frameSize: Int
    public let batch: Int
    public let bridge: Bridge
    /// The far bridge on the `wan` path (guest B is on it), else nil.
    public let farBridge: Bridge?
    /// Datagrams bridge A's WAN sent during the current step, copied back to back, and their lengths.
    let datagrams: UnsafeMutableRawBufferPointer
    var datagramLengths: [Int] = []
    let receiverBridge: Bridge
    let sender: InMemoryGuestDriver
    let receiver: InMemoryGuestDriver
    let senderPort: PortID
    let frame: [UInt8]
    var now = Instant.zero

    static let macA = MACAddress(0x52, 0x54, 0, 0, 0, 0x0A)
    static let macB = MACAddress(0x52, 0x54, 0, 0, 0, 0x0B)
    static let ipA = IPv4Address(10, 0, 0, 10)
    static let ipB = IPv4Address(10, 0, 1, 10)

    /// Sets up the bridge, the two guests and the learned state (MACs, ARP), so every `step()`
    /// measures steady-state forwarding.
    public init(path: Path, frameSize: Int, batch: Int = 64) throws {
        precondition(frameSize >= 60 && frameSize <= (path == .wan ? 8934 : 9000),
                     "frame size must be 60...9000 bytes (8934 on the wan path: the WAN's MTU is 8920)")
        self.path = path; self.frameSize = frameSize; self.batch = batch
        var config = BridgeConfig()
        var lan = InterfaceConfig(name: "lan", ipv4: IPv4Network("10.0.0.1/24")!)
        var lan2 = InterfaceConfig(name: "lan2", ipv4: IPv4Network("10.0.1.1/24")!)
        lan.mtu = 9000; lan2.mtu = 9000
        config.router = RouterConfig(interfaces: [lan, lan2])
        datagrams = .allocate(byteCount: batch * 9216, alignment: 16)
        datagramLengths.reserveCapacity(batch * 2)
        if path == .wan {
            var g = SeededRandom(seed: 0xB3AC)
            let a = KeyPair.deterministic(using: &g), b = KeyPair.deterministic(using: &g)
            bridge = try Bridge(config: BridgeConfig.parse("""
                router: { ipv4: 10.0.0.1/24, mtu: 9000, nat: true }
                wan: { type: wireguard, key: "\(a.privateKey.base64)", peer: "\(b.publicKey.base64)", endpoint: 192.0.2.2:51820, ipv4: 10.200.0.1/24, mtu: 8920 }
                """), wanSetup: WANSetup(random: SeededRandom(seed: 1)))
            let far = try Bridge(config: BridgeConfig.parse("""
                router: { ipv4: 10.0.1.1/24, mtu: 9000, nat: false }
                wan: { type: wireguard, key: "\(b.privateKey.base64)", peer: "\(a.publicKey.base64)", endpoint: 192.0.2.1:51820, ipv4: 10.200.0.2/24, mtu: 8920 }
                """), wanSetup: WANSetup(random: SeededRandom(seed: 2)))
            farBridge = far
            receiverBridge = far
        } else {
            bridge = try Bridge(config: config)
            farBridge = nil
            receiverBridge = bridge
        }

        var guest = InMemoryGuestDriver.Configuration()
        guest.queueSize = 256
        guest.receiveBufferCount = 256
        guest.receiveBufferSize = max(1526, frameSize + 12)
        sender = try InMemoryGuestDriver(guest)
        receiver = try InMemoryGuestDriver(guest)
        senderPort = try bridge.attachGuest(name: "a", nic: try sender.makeDevice(), segment: "lan")
        let receiverPort = try receiverBridge.attachGuest(name: "b", nic: try receiver.makeDevice(),
                                                          segment: path == .l3 ? "lan2" : "lan")
        receiver.refillReceiveBuffers()
        sender.refillReceiveBuffers()

        // Announce both guests: an ARP request to their router teaches the switch their ports
        // and the router their addresses.
        let lanRouter = config.router!.interfaces[0], lan2Router = config.router!.interfaces[1]
        Self.announce(sender, mac: Self.macA, ip: Self.ipA, router: lanRouter.ipv4.address)
        Self.announce(receiver, mac: Self.macB, ip: path == .l2 ? IPv4Address(10, 0, 0, 11) : Self.ipB,
                      router: path == .l2 ? lanRouter.ipv4.address : lan2Router.ipv4.address)
        bridge.serviceGuestTransmit(senderPort, now: now)
        receiverBridge.serviceGuestTransmit(receiverPort, now: now)
        sender.receiveFrames { _, _ in }; receiver.receiveFrames { _, _ in }
        sender.refillReceiveBuffers(); receiver.refillReceiveBuffers()

        // The measured frame: UDP from A to B, padded to `frameSize`.
        var bytes = [UInt8](repeating: 0, count: frameSize)
        let destinationMAC = path == .l2 ? Self.macB : lanRouter.mac
        let destinationIP = path == .l2 ? IPv4Address(10, 0, 0, 11) : Self.ipB
        let payloadLength = frameSize - EthernetHeader.untaggedLength - IPv4Constants.minimumHeaderLength - UDPConstants.headerLength
        let payload = [UInt8](repeating: 0x5A, count: payloadLength)
        _ = bytes.withUnsafeMutableBytes { out in
            payload.withUnsafeBytes { p in
                try! IPv4Frame.emitUDP(into: out, ethernet: EthernetHeader(destination: destinationMAC, source: Self.macA, etherType: .ipv4),
                                       ip: IPv4Header(source: Self.ipA, destination: destinationIP, protocol: .udp, payloadLength: 0),
                                       udp: UDPHeader(sourcePort: 5001, destinationPort: 5001), payload: p)
            }
        }
        frame = bytes
        if let far = farBridge, bridge.wan != nil, far.wan != nil {
            // The bench is the driver (docs/driver-contract.md): A's datagrams are kept for the
            // step to hand to B; B's (handshake responses) go straight to A.
            bridge.connect(BridgeOutputs(sendWANDatagram: { [unowned self] bytes, _ in self.keep(bytes) }))
            far.connect(BridgeOutputs(sendWANDatagram: { [unowned self] bytes, _ in
                let n = bytes.count
                guard n <= 9216 else { return }
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 9216, alignment: 16)
                defer { buffer.deallocate() }
                buffer.copyMemory(from: bytes)
                self.bridge.receiveWANDatagram(buffer, count: n, from: SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 51820), now: self.now)
            }))
        }
        if path == .wan {
            // The first packet waits for WireGuard's handshake; deliver the rest of the exchange.
            _ = step()
            _ = step()
        }
    }

    deinit { datagrams.deallocate() }

    /// Keeps one datagram of bridge A's WAN for `deliverDatagrams`.
    func keep(_ bytes: UnsafeRawBufferPointer) {
        let offset = datagramLengths.count * 9216
        guard bytes.count <= 9216, offset + 9216 <= datagrams.count else { return }
        datagrams.slice(offset..<(offset + bytes.count)).copyMemory(from: bytes)
        datagramLengths.append(bytes.count)
    }

    /// Hands bridge A's datagrams of this step to the far bridge (the `wan` path).
    func deliverDatagrams() {
        guard let far = farBridge else { return }
        let source = SocketAddressV4(address: IPv4Address(192, 0, 2, 1), port: 51820)
        for (i, n) in datagramLengths.enumerated() {
            far.receiveWANDatagram(datagrams.slice((i * 9216)..<(i * 9216 + 9216)), count: n, from: source, now: now)
        }
        datagramLengths.removeAll(keepingCapacity: true)
    }

    static func announce(_ guest: InMemoryGuestDriver, mac: MACAddress, ip: IPv4Address, router: IPv4Address) {
        var bytes = [UInt8](repeating: 0, count: 60)
        bytes.withUnsafeMutableBytes { out in
            let n = try! EthernetHeader(destination: .broadcast, source: mac, etherType: .arp).emit(into: out)
            _ = try! ARPPacket.request(from: mac, ip, asking: router).emit(into: out.slice(from: n))
        }
        guest.transmit(bytes)
    }

    /// One round: guest A submits `batch` frames, the bridge forwards them, guest B takes them and
    /// reposts its buffers. `engine` wraps the bridge's part, so the caller can time or count it
    /// alone. Returns the frames guest B received.
    @discardableResult
    public func step(engine: (() -> Void) -> Void = { $0() }) -> Int {
        frame.withUnsafeBytes { f in
            for _ in 0..<batch { sender.transmit(f) }
        }
        engine {
            bridge.serviceGuestTransmit(senderPort, now: now, limit: batch)
            deliverDatagrams()
        }
        let received = receiver.receiveFrames { _, _ in }
        receiver.refillReceiveBuffers()
        sender.reapTransmitted()
        return received
    }
}
