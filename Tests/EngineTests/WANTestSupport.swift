// Two bridges joined back to back by their WANs, in process and in virtual time: each bridge has
// one guest (a HostStack host behind the in-memory virtio driver); what one WAN sends is handed
// to the other after `delay`, and everything that crossed is kept for inspection.
import Basics
import Crypto
import Foundation
import HostStack
import Testing
import Wire
@testable import Engine

/// Deterministic WireGuard key pairs for configs: (private base64, public base64).
func wanKeys(_ seed: UInt64) -> (privateKey: String, publicKey: String) {
    var g = SeededRandom(seed: seed)
    let pair = KeyPair.deterministic(using: &g)
    return (pair.privateKey.base64, pair.publicKey.base64)
}

/// What crossed the WAN: a datagram (wireguard, udp) or a frame (tap), and its direction.
struct WANCrossing {
    var at: Instant
    var fromA: Bool
    var bytes: [UInt8]
    /// The sender's underlay endpoint (datagrams only).
    var source: SocketAddressV4?
}

final class WANPair {
    let a: Bridge, b: Bridge
    let guestA: TestGuest, guestB: TestGuest
    var now = Instant.zero
    /// One-way delay of the WAN wire.
    var delay: Duration = .milliseconds(10)
    /// Underlay endpoints (what each side's config names as the other's `endpoint`).
    static let endpointA = SocketAddressV4(address: IPv4Address(192, 0, 2, 1), port: 51820)
    static let endpointB = SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 51820)
    /// In flight, in send order.
    var inFlight: [WANCrossing] = []
    /// Everything that was put on the wire.
    var crossed: [WANCrossing] = []
    /// Decides whether a crossing is lost (true: lost); sees every crossing once.
    var lose: (WANCrossing) -> Bool = { _ in false }

    /// Bridges from `configA` / `configB` (bridge.yml text); guests with static addresses.
    init(_ configA: String, _ configB: String, guestA addressA: String, gatewayA: IPv4Address,
         guestB addressB: String, gatewayB: IPv4Address, seed: UInt64 = 1) throws {
        a = try Bridge(config: BridgeConfig.parse(configA, file: "a.yml"), wanSetup: WANSetup(random: SeededRandom(seed: seed, component: "a")))
        b = try Bridge(config: BridgeConfig.parse(configB, file: "b.yml"), wanSetup: WANSetup(random: SeededRandom(seed: seed, component: "b")))
        guestA = try TestGuest(name: "guestA", mac: MACAddress(0x52, 0x54, 0, 0, 0xA, 1), seed: seed)
        guestB = try TestGuest(name: "guestB", mac: MACAddress(0x52, 0x54, 0, 0, 0xB, 1), seed: seed)
        guestA.port = try a.attachGuest(name: "guestA", nic: try guestA.driver.makeDevice())
        guestB.port = try b.attachGuest(name: "guestB", nic: try guestB.driver.makeDevice())
        guestA.host.configureStatic(address: IPv4Network(addressA)!, gateway: gatewayA, now: now)
        guestB.host.configureStatic(address: IPv4Network(addressB)!, gateway: gatewayB, now: now)
        for (bridge, fromA) in [(a, true), (b, false)] {
            bridge.connect(BridgeOutputs(
                sendWANDatagram: { [unowned self] bytes, to in
                    let expected = fromA ? Self.endpointB : Self.endpointA
                    #expect(to == expected, "datagram to \(to), expected \(expected)")
                    self.put(WANCrossing(at: self.now, fromA: fromA, bytes: Array(bytes), source: fromA ? Self.endpointA : Self.endpointB))
                },
                transmitWANFrame: { [unowned self] frame in
                    self.put(WANCrossing(at: self.now, fromA: fromA, bytes: Array(frame), source: nil))
                }))
        }
    }

    func put(_ c: WANCrossing) {
        crossed.append(c)
        if !lose(c) { inFlight.append(c) }
    }

    var guests: [(TestGuest, Bridge)] { [(guestA, a), (guestB, b)] }

    /// Runs both sides for `duration`: guests, bridges' timers, and the wire.
    func run(for duration: Duration, step: Duration = .milliseconds(1)) {
        let end = now + duration
        while now < end {
            for (g, bridge) in guests {
                g.host.poll(now: now)
                g.host.drainOutgoing { frame in g.driver.transmit(frame) }
                bridge.serviceGuestTransmit(g.port, now: now)
            }
            for bridge in [a, b] { _ = bridge.service(now: now) }
            while let i = inFlight.firstIndex(where: { $0.at + delay <= now }) {
                let c = inFlight.remove(at: i)
                let to = c.fromA ? b : a
                var bytes = c.bytes
                bytes.withUnsafeMutableBytes { buffer in
                    if let source = c.source {
                        to.receiveWANDatagram(buffer, count: buffer.count, from: source, now: now)
                    } else {
                        to.receiveWANFrame(buffer, now: now)
                    }
                }
            }
            for (g, _) in guests {
                g.driver.receiveFrames { _, frame in g.host.receive(frame, now: now) }
                g.driver.refillReceiveBuffers()
                g.driver.reapTransmitted()
            }
            var next = now + step
            for (g, bridge) in guests {
                if let d = g.host.nextDeadline(), d > now, d < next { next = d }
                if let d = bridge.deadline, d > now, d < next { next = d }
            }
            for c in inFlight where c.at + delay > now && c.at + delay < next { next = c.at + delay }
            if guests.contains(where: { $0.0.host.hasOutgoing }) { next = now + .microseconds(10) }
            now = min(next, end)
        }
    }
}

/// Whether `needle` occurs in `haystack`.
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
    return false
}

extension IPv4Address {
    /// The four bytes as on the wire.
    var bytes: [UInt8] { octets }
}
