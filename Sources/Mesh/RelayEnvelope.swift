// What a hop session carries (docs/mesh.md, "Relays"): the first byte of a transport message's plaintext says what
// it is. An IPv4 packet starts with its version nibble 4; the mesh's own kinds start at 0x80, where no IP version
// lives. A relay envelope nests an end-to-end datagram — a mesh handshake message, cookie reply or transport
// message sealed with the end-to-end session — so a relay forwards bytes it cannot read.
//
//   relay envelope (kind 0x80), big-endian:
//     0  kind 0x80            1  hop limit (a relay forwards only while it is above 1, and lowers it by one)
//     2  length of the end-to-end datagram (2 bytes)
//     4  destination node key (32)      36  source node key (32)      68  the end-to-end datagram
//   routing message (kind 0x81):  0 kind, 1 zero, 2 length (2 bytes), 4 the routing protocol's bytes
//   path probe (0x82) and its reply (0x83):  0 kind, 1–3 zero, 4 nonce (8 bytes)
//   revocation list (0x84):  0 kind, 1 zero, 2 length (2 bytes), 4 a signed RevocationList (RevocationList.swift),
//     flooded: a node that applies a newer list passes it to every neighbour with a direct session but the sender
//
// The transport pads every plaintext to a multiple of 16 bytes, so each kind carries its own length.

import Crypto

/// The kinds of hop-session plaintext beside IPv4.
public enum MeshPlaintextKind {
    public static let relay: UInt8 = 0x80
    public static let routing: UInt8 = 0x81
    public static let probe: UInt8 = 0x82
    public static let probeReply: UInt8 = 0x83
    public static let revocation: UInt8 = 0x84
}

/// A relayed end-to-end datagram, addressed by node key.
public struct RelayEnvelope: Equatable, Sendable {
    public static let headerSize = 68
    /// The largest end-to-end datagram an envelope carries (its length field is 16 bits).
    public static let maxDatagram = Int(UInt16.max)

    public var hopLimit: UInt8
    public var destination: PublicKey
    public var source: PublicKey
    public var datagram: [UInt8]

    public init(hopLimit: UInt8, destination: PublicKey, source: PublicKey, datagram: [UInt8]) {
        self.hopLimit = hopLimit; self.destination = destination; self.source = source; self.datagram = datagram
    }

    /// The envelope's bytes; nil when the datagram is too long for the length field.
    public func encode() -> [UInt8]? {
        guard datagram.count <= Self.maxDatagram else { return nil }
        var out: [UInt8] = [MeshPlaintextKind.relay, hopLimit, UInt8(datagram.count >> 8), UInt8(datagram.count & 0xFF)]
        out.reserveCapacity(Self.headerSize + datagram.count)
        out += destination.bytes
        out += source.bytes
        out += datagram
        return out
    }

    /// Parses the envelope at `bytes[range]` (padding after the datagram is allowed); nil when it is short, of
    /// another kind, or its length runs past the plaintext.
    public init?(parsing bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, range.count >= Self.headerSize,
              bytes[range.lowerBound] == MeshPlaintextKind.relay else { return nil }
        let h = range.lowerBound
        let length = Int(bytes[h + 2]) << 8 | Int(bytes[h + 3])
        guard length <= range.count - Self.headerSize,
              let d = PublicKey(Array(bytes[(h + 4)..<(h + 36)])),
              let s = PublicKey(Array(bytes[(h + 36)..<(h + 68)])) else { return nil }
        hopLimit = bytes[h + 1]
        destination = d; source = s
        datagram = Array(bytes[(h + 68)..<(h + 68 + length)])
    }
}
