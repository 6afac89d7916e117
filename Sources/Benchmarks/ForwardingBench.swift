// The in-process forwarding benchmark behind `sluice bench`: two in-memory virtio guests on one
// bridge, frames pushed from guest A's transmit ring through the engine into guest B's receive
// ring. The harness does the work; the caller (the CLI) owns the clock and the allocation counter,
// so this file stays sans-IO. It drives the Engine through its public API only.
import Basics
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
    }

    public let path: Path
    public let frameSize: Int
    public let batch: Int
    public let bridge: Bridge
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
        precondition(frameSize >= 60 && frameSize <= 9000, "frame size must be 60...9000 bytes")
        self.path = path; self.frameSize = frameSize; self.batch = batch
        var config = BridgeConfig()
        var lan = InterfaceConfig(name: "lan", ipv4: IPv4Network("10.0.0.1/24")!)
        var lan2 = InterfaceConfig(name: "lan2", ipv4: IPv4Network("10.0.1.1/24")!)
        lan.mtu = 9000; lan2.mtu = 9000
        config.router = RouterConfig(interfaces: [lan, lan2])
        bridge = try Bridge(config: config)

        var guest = InMemoryGuestDriver.Configuration()
        guest.queueSize = 256
        guest.receiveBufferCount = 256
        guest.receiveBufferSize = max(1526, frameSize + 12)
        sender = try InMemoryGuestDriver(guest)
        receiver = try InMemoryGuestDriver(guest)
        senderPort = try bridge.attachGuest(name: "a", nic: try sender.makeDevice(), segment: "lan")
        let receiverPort = try bridge.attachGuest(name: "b", nic: try receiver.makeDevice(),
                                                  segment: path == .l2 ? "lan" : "lan2")
        receiver.refillReceiveBuffers()
        sender.refillReceiveBuffers()

        // Announce both guests: an ARP request to their router teaches the switch their ports
        // and the router their addresses.
        let lanRouter = config.router!.interfaces[0], lan2Router = config.router!.interfaces[1]
        Self.announce(sender, mac: Self.macA, ip: Self.ipA, router: lanRouter.ipv4.address)
        Self.announce(receiver, mac: Self.macB, ip: path == .l2 ? IPv4Address(10, 0, 0, 11) : Self.ipB,
                      router: path == .l2 ? lanRouter.ipv4.address : lan2Router.ipv4.address)
        bridge.serviceGuestTransmit(senderPort, now: now)
        bridge.serviceGuestTransmit(receiverPort, now: now)
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
        engine { bridge.serviceGuestTransmit(senderPort, now: now, limit: batch) }
        let received = receiver.receiveFrames { _, _ in }
        receiver.refillReceiveBuffers()
        sender.reapTransmitted()
        return received
    }
}
