// Fuzz target `noise-wireguard` (layer 2, differential): the generic Noise IKpsk2 (Sources/Noise) against
// WireGuard's own handshake (Sources/WireGuard), the two implementations of one construction. A generic
// Noise initiator with A's static key writes message 1 for an ephemeral key, timestamp and optional PSK the
// input picks; the input may flip bytes of it; the message is framed as a WireGuard initiation (valid mac1)
// and handed to a WireGuard device B, and the same bytes to a generic Noise responder with B's key.
//   Both must agree: accepted by one iff by the other (with A as the sender).
//   When accepted, the generic initiator must read B's response, and a transport message it seals with
//   Noise's Split keys must reach B's tunnel as the packet that was sealed.
// Input: flags (bit 0: with a PSK), an 8-byte seed (ephemeral key, PSK), 12 bytes of TAI64N, then up to
// 8 (offset, xor) pairs applied to the 108-byte Noise message.
import Basics
import Crypto
import Noise
import Wire
import WireGuard

enum NoiseWireGuardTarget {
    static let prologue = Array(WireGuardConstants.identifier.utf8)
    static let sender: [UInt8] = [0x11, 0x22, 0x33, 0x44]

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.u8()
        var g = SeededRandom(seed: input.u64(), component: "fuzz-noise-wireguard")
        let ephemeral = KeyPair.deterministic(using: &g)
        let psk = flags & 1 != 0 ? SecretKey.deterministic(using: &g) : SecretKey()
        let timestampBytes = exactCopy(input.take(TAI64N.length))
        guard timestampBytes.count == TAI64N.length,
              let timestamp = timestampBytes.withUnsafeBytes({ TAI64N(bytes: $0) }) else { return }

        let keysA = WireGuardReceiveTarget.keysA, keysB = WireGuardReceiveTarget.keysB
        let name = WireGuardConstants.construction
        guard let initiator = try? HandshakeState(protocolName: name, initiator: true, prologue: prologue, localStatic: keysA,
                                                  localEphemeral: ephemeral, remoteStatic: keysB.publicKey, presharedKeys: [psk]),
              var message = try? initiator.writeMessage(payload: timestamp.bytes) else {
            fatalError("the generic Noise initiator cannot write message 1")
        }
        var flipped = false
        for _ in 0..<8 where !input.isEmpty {
            let offset = Int(input.u8()) % message.count, xor = input.u8()
            message[offset] ^= xor
            flipped = flipped || xor != 0
        }

        // WireGuard's framing: type 1 and three zero bytes, our index, the Noise message, mac1, mac2 (zero).
        var initiation: [UInt8] = [1, 0, 0, 0] + sender + message
        initiation += BLAKE2s.hash(initiation, outputLength: 16, key: WireGuardReceiveTarget.mac1KeyB)
        initiation += [UInt8](repeating: 0, count: 16)

        let b = WireGuardReceiveTarget.device(keysB, "B")
        b.addPeer(PeerConfiguration(publicKey: keysA.publicKey, presharedKey: flags & 1 != 0 ? psk : nil,
                                    endpoint: WireGuardReceiveTarget.addressA, allowedIPs: [IPv4Network("10.0.0.1/32")!]))
        let now = WireGuardReceiveTarget.start
        let actions = b.receive(datagram: initiation, from: WireGuardReceiveTarget.addressA, now: now)
        let response = actions.datagrams.first { $0.bytes.count == WireGuardConstants.messageResponseSize && $0.bytes.first == 2 }

        guard let responder = try? HandshakeState(protocolName: name, initiator: false, prologue: prologue,
                                                  localStatic: keysB, presharedKeys: [psk]) else {
            fatalError("the generic Noise responder cannot start")
        }
        let payload = try? responder.readMessage(message)
        let noiseAccepts = payload == timestamp.bytes && responder.remoteStatic == keysA.publicKey
        precondition(noiseAccepts == (response != nil),
                     "Noise \(noiseAccepts ? "accepts" : "rejects") an initiation WireGuard \(response != nil ? "accepts" : "rejects") (flipped: \(flipped))")
        guard let response else { return }
        precondition(Array(response.bytes[8..<12]) == sender, "WireGuard's response names another receiver")

        guard (try? initiator.readMessage(Array(response.bytes[12..<60]))) != nil,
              var (toResponder, _) = try? initiator.split() else {
            preconditionFailure("the generic Noise initiator cannot read WireGuard's response")
        }
        let packet = WireGuardReceiveTarget.packet(IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2), Array(timestampBytes))
        var padded = packet
        while padded.count % 16 != 0 { padded.append(0) }
        guard let sealed = try? toResponder.encrypt(padded) else { preconditionFailure("Noise cannot seal a transport message") }
        let transport: [UInt8] = [4, 0, 0, 0] + Array(response.bytes[4..<8]) + [UInt8](repeating: 0, count: 8) + sealed
        let delivered = b.receive(datagram: transport, from: WireGuardReceiveTarget.addressA, now: now + .milliseconds(1)).delivered
        precondition(delivered.map(\.packet) == [packet], "WireGuard does not open a transport message sealed with Noise's Split keys")
    }

    static func seeds() -> [[UInt8]] {
        let t = TAI64N(seconds: TAI64N.base + 1_796_601_600, nanoseconds: 123_456_789).bytes
        let seed: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0]
        return [[0] + seed + t, [1] + seed + t, [0] + seed + t + [40, 1], [1] + seed + t + [100, 0x80, 3, 0]]
    }
}
