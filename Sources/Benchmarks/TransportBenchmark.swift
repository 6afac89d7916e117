// The in-process transport benchmark behind `sluice bench wireguard`: WireGuardDevice's send + receive in place
// (TransportLoopback: header, padding, counter, replay window, allowed-IPs checks, ChaCha20-Poly1305) against
// libsodium's bare crypto_aead_chacha20poly1305_ietf_encrypt + _decrypt of the same packet sizes, in one run.

import Basics
import CSodium
import HostIO
import WireGuard

/// One row: a packet size, both throughputs (payload bits through encrypt + decrypt per second of one core).
public struct TransportBenchmarkRow: Sendable {
    public var packetSize: Int
    public var deviceGbps: Double
    public var libsodiumGbps: Double
    public var deviceMpps: Double
    /// deviceGbps / libsodiumGbps.
    public var ratio: Double { deviceGbps / libsodiumGbps }
}

public enum TransportBenchmark {
    /// Measures each size for about `seconds` per contestant, best of `rounds` alternating runs.
    public static func run(sizes: [Int], seconds: Double, rounds: Int = 3) -> [TransportBenchmarkRow] {
        precondition(sodium_init() >= 0)
        return sizes.map { size in
            let loopback = TransportLoopback(packetSize: size)
            var device = 0.0, sodium = 0.0
            for _ in 0..<max(1, rounds) {
                device = max(device, measure(seconds: seconds) { n in
                    let delivered = loopback.run(packets: n)
                    precondition(delivered == n, "the loopback lost packets")
                })
                sodium = max(sodium, libsodium(size: size, seconds: seconds))
            }
            let bitsPerPacket = Double(size * 8)
            return TransportBenchmarkRow(packetSize: size, deviceGbps: device * bitsPerPacket / 1e9,
                                         libsodiumGbps: sodium * bitsPerPacket / 1e9, deviceMpps: device / 1e6)
        }
    }

    /// Packets per second of `body(n)` (which handles n packets), run in chunks for about `seconds`.
    static func measure(seconds: Double, _ body: (Int) -> Void) -> Double {
        let clock = MonotonicClock()
        body(256)  // warm-up
        var packets = 0
        let start = clock.now()
        let budget = Duration.nanoseconds(Int64(seconds * 1e9))
        while clock.now() - start < budget {
            body(1024)
            packets += 1024
        }
        let elapsed = Double((clock.now() - start).nanosecondsClamped) / 1e9
        return Double(packets) / elapsed
    }

    /// Encrypt then decrypt `size` bytes in place with libsodium's combined IETF ChaCha20-Poly1305, counting nonces.
    static func libsodium(size: Int, seconds: Double) -> Double {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: size + 16)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0xA5, count: size + 16)
        var key = [UInt8](repeating: 7, count: 32)
        var nonce = [UInt8](repeating: 0, count: 12)
        var counter: UInt64 = 0
        var failures = 0
        let rate = key.withUnsafeMutableBufferPointer { k in
            nonce.withUnsafeMutableBufferPointer { n in
                measure(seconds: seconds) { count in
                    for _ in 0..<count {
                        counter &+= 1
                        UnsafeMutableRawPointer(n.baseAddress! + 4).storeBytes(of: counter.littleEndian, as: UInt64.self)
                        var sealed: UInt64 = 0
                        _ = crypto_aead_chacha20poly1305_ietf_encrypt(buffer, &sealed, buffer, UInt64(size), nil, 0, nil,
                                                                      n.baseAddress!, k.baseAddress!)
                        var opened: UInt64 = 0
                        if crypto_aead_chacha20poly1305_ietf_decrypt(buffer, &opened, nil, buffer, sealed, nil, 0,
                                                                     n.baseAddress!, k.baseAddress!) != 0 { failures += 1 }
                    }
                }
            }
        }
        precondition(failures == 0, "libsodium failed to open its own ciphertext")
        return rate
    }
}
