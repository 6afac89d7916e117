// The mesh handshake messages (docs/mesh.md, "Handshake"): WireGuard's framing — a little-endian type word, sender
// (and receiver) indices, the Noise message, mac1, mac2 — around Noise IKpsk2 messages whose encrypted payloads
// carry the certificate chain, padded so both messages have a fixed size and the response is never larger.
//
//   initiation (type 0x11, 1024 bytes)            response (type 0x12, 1024 bytes)
//   0    4   type                                 0    4   type
//   4    4   sender index                         4    4   sender index
//   8    984 Noise message 1: e (32),             8    4   receiver index (the initiation's sender)
//            encrypted s (32 + 16),               12   980 Noise message 2: e (32),
//            encrypted payload (888 + 16)                  encrypted payload (932 + 16)
//   992  16  mac1                                 992  16  mac1
//   1008 16  mac2                                 1008 16  mac2
//
// Payloads: the initiation's starts with the TAI64N timestamp (12 bytes); then, in both, a certificate count (1…2)
// and per certificate a 2-byte big-endian length and its bytes (the node's first); zero bytes pad the rest.

import Crypto

/// Offsets and lengths of the two handshake messages.
public enum MeshMessageLayout {
    public static let macsLength = 32
    public static let initiationNoiseOffset = 8
    public static let initiationNoiseLength = MeshConstants.initiationSize - 8 - macsLength
    /// 984 − e − encrypted s − tag.
    public static let initiationPayloadLength = initiationNoiseLength - 32 - 48 - 16
    public static let responseNoiseOffset = 12
    public static let responseNoiseLength = MeshConstants.responseSize - 12 - macsLength
    public static let responsePayloadLength = responseNoiseLength - 32 - 16
}

/// The plaintext inside a handshake message.
struct HandshakePayload {
    var timestamp: TAI64N?
    var chain: [Certificate]

    /// The padded bytes; nil if the chain does not fit `length` or is empty or too long.
    func encode(length: Int) -> [UInt8]? {
        guard !chain.isEmpty, chain.count <= MeshConstants.maxChainLength else { return nil }
        var w = ByteWriter()
        if let timestamp { w.append(timestamp.bytes) }
        w.u8(UInt8(chain.count))
        for c in chain { w.u16(UInt16(c.encoded.count)); w.append(c.encoded) }
        guard w.bytes.count <= length else { return nil }
        return w.bytes + [UInt8](repeating: 0, count: length - w.bytes.count)
    }

    /// What went wrong reading a payload: its structure, or one of its certificates.
    enum Failure: Error { case structure, certificate(CertificateError) }

    /// Parses a payload; `withTimestamp` for an initiation's.
    static func decode(_ bytes: [UInt8], withTimestamp: Bool) throws(Failure) -> HandshakePayload {
        var r = ByteReader(bytes)
        var timestamp: TAI64N? = nil
        var pieces: [[UInt8]] = []
        do throws(CertificateError) {
            if withTimestamp {
                let t = try r.take(TAI64N.length)
                timestamp = t.withUnsafeBytes { TAI64N(bytes: $0) }
            }
            let count = Int(try r.u8())
            guard count >= 1, count <= MeshConstants.maxChainLength else { throw .malformed }
            for _ in 0..<count { pieces.append(try r.take(Int(try r.u16()))) }
            // Padding must be zero: one encoding per payload.
            guard try r.take(r.remaining).allSatisfy({ $0 == 0 }) else { throw .malformed }
        } catch {
            throw .structure
        }
        var chain: [Certificate] = []
        for piece in pieces {
            do throws(CertificateError) { chain.append(try Certificate(parsing: piece)) } catch { throw .certificate(error) }
        }
        return HandshakePayload(timestamp: timestamp, chain: chain)
    }
}
