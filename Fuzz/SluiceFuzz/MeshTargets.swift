// Fuzz targets over the mesh (layer 2, Mesh): `mesh-certificate` (certificates, revocation lists and
// armoured files as a node or `sluice mesh ca inspect` reads them, then the chain check) and
// `mesh-handshake` (datagrams into a node's handshaker: initiations, responses, cookie replies and
// transport messages, optionally after a real handshake). Keys, certificates and time are fixed, so
// every input replays the same way.
import Basics
import Crypto
import Mesh
import Wire
import WireGuard

/// A small fixed PKI: a root, an organization CA under it, two nodes (A under the organization,
/// B under the root), valid around `now`.
enum MeshFuzzPKI {
    /// 2026-12-07 00:00:00Z, the time every check is made at.
    static let now: Int64 = 1_796_601_600
    static let day: Int64 = 86_400
    static let clock = WallClock(unixNanoseconds: UInt64(now) * 1_000_000_000, at: .zero)

    static let rootKey: SigningKey = { var g = SeededRandom(seed: 19, component: "fuzz-mesh-root"); return .deterministic(using: &g) }()
    static let orgKey: SigningKey = { var g = SeededRandom(seed: 19, component: "fuzz-mesh-org"); return .deterministic(using: &g) }()
    static let keysA: KeyPair = { var g = SeededRandom(seed: 19, component: "fuzz-mesh-A"); return .deterministic(using: &g) }()
    static let keysB: KeyPair = { var g = SeededRandom(seed: 19, component: "fuzz-mesh-B"); return .deterministic(using: &g) }()

    static func network(_ text: String) -> OverlayNetwork {
        guard let n = OverlayNetwork(text) else { fatalError("fuzz fixture network \(text)") }
        return n
    }

    static func sign(_ fields: CertificateFields, _ key: SigningKey) -> Certificate {
        do { return try Certificate(signing: fields, with: key) } catch { fatalError("fuzz fixture certificate: \(error)") }
    }

    static let root = sign(CertificateFields(
        isCA: true, pathLength: 1, capabilities: [.relay, .rendezvous], issuer: KeyID(of: rootKey.publicKey),
        subjectKey: rootKey.publicKey.key, serial: 1, notBefore: now - 10 * day, notAfter: now + 3650 * day,
        name: "root", addresses: [network("10.99.0.0/16")], prefixes: [network("0.0.0.0/0")], groups: ["*"]), rootKey)
    static let org = sign(CertificateFields(
        isCA: true, pathLength: 0, capabilities: [.relay], issuer: root.keyID,
        subjectKey: orgKey.publicKey.key, serial: 2, notBefore: now - 5 * day, notAfter: now + 1000 * day,
        name: "acme-ca", organization: "acme", addresses: [network("10.99.1.0/24")], prefixes: [network("192.168.0.0/16")],
        groups: ["ops", "web"]), rootKey)
    static let nodeA = sign(CertificateFields(
        isCA: false, capabilities: [.relay], issuer: org.keyID, subjectKey: keysA.publicKey, serial: 100,
        notBefore: now - day, notAfter: now + 365 * day, name: "a", organization: "acme",
        addresses: [network("10.99.1.5/24")], prefixes: [network("192.168.7.0/24")], groups: ["web"]), orgKey)
    static let nodeB = sign(CertificateFields(
        isCA: false, issuer: root.keyID, subjectKey: keysB.publicKey, serial: 101,
        notBefore: now - day, notAfter: now + 365 * day, name: "b", addresses: [network("10.99.0.9/16")]), rootKey)
    static let anchors: TrustAnchors = {
        do { return try TrustAnchors([root]) } catch { fatalError("fuzz fixture anchors: \(error)") }
    }()

    static func handshaker(_ keys: KeyPair, _ chain: [Certificate], _ name: String) -> MeshHandshaker {
        guard let identity = MeshIdentity(staticKey: keys, chain: chain) else { fatalError("fuzz fixture identity \(name)") }
        return MeshHandshaker(identity: identity, verifier: CertificateVerifier(anchors: anchors),
                              random: SeededRandom(seed: 19, component: "fuzz-mesh-random-\(name)"), wallClock: clock)
    }
}

/// Input: a selector byte, then the bytes.
///   0  a certificate's encoding; when it parses, the chains [it], [it, org] and [it, org, root] are checked
///   1  a revocation list's encoding; when it parses, it is applied (the root's signature is checked)
///   2  armoured text (`-----BEGIN SLUICE MESH …`), every block then parsed as what it says it is
enum MeshCertificateTarget {
    static func check(_ certificate: Certificate) {
        let verifier = CertificateVerifier(anchors: MeshFuzzPKI.anchors)
        for chain in [[certificate], [certificate, MeshFuzzPKI.org], [certificate, MeshFuzzPKI.org, MeshFuzzPKI.root]] {
            _ = try? verifier.validate(chain, now: MeshFuzzPKI.now)
        }
        // The canonical encoding is canonical: what parsed re-encodes to the bytes it came from.
        if let again = try? Certificate(parsing: certificate.encoded) {
            precondition(again.encoded == certificate.encoded, "a parsed certificate re-encodes differently")
        }
    }

    static func apply(_ list: RevocationList) {
        var set = RevocationSet()
        _ = try? set.apply(list, roots: MeshFuzzPKI.anchors)
        _ = set.revocation(of: MeshFuzzPKI.nodeA)
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let selector = input.u8() % 3
        let bytes = exactCopy(input.rest())
        switch selector {
        case 0:
            if let c = try? Certificate(parsing: bytes) { check(c) }
        case 1:
            if let l = try? RevocationList(parsing: bytes) { apply(l) }
        default:
            guard let blocks = try? Armor.decode(String(decoding: bytes, as: UTF8.self)) else { return }
            for block in blocks.prefix(8) {
                if let c = try? Certificate(parsing: block.bytes) { check(c) }
                if let l = try? RevocationList(parsing: block.bytes) { apply(l) }
            }
        }
    }

    static func seeds() -> [[UInt8]] {
        let pki = MeshFuzzPKI.self
        guard let list = try? RevocationList(signer: pki.rootKey, sequence: 3, issuedAt: pki.now,
                                             serials: [RevokedSerial(issuer: pki.org.keyID, serial: 100)], keys: [pki.keysB.publicKey])
        else { fatalError("fuzz fixture revocation list") }
        return [
            [0] + pki.nodeA.encoded, [0] + pki.nodeB.encoded, [0] + pki.org.encoded, [0] + pki.root.encoded,
            [1] + list.encoded,
            [2] + Array((Armor.encode(.certificate, pki.nodeA.encoded) + Armor.encode(.certificate, pki.org.encoded)).utf8),
            [2] + Array(Armor.encode(.revocationList, list.encoded).utf8),
        ]
    }
}

/// Input: a flags byte, then records (16-bit little-endian length + bytes), each one datagram into B.
///   bit 0  complete a real handshake A→B first (B then holds a session: transport messages are reachable)
///   bit 1  B initiates to A first and the fuzzer brings the response
///   bit 2  recompute mac1 of each datagram for B's key (past the MAC check, into the Noise and certificate code)
///   bit 3  B is flooded first (A's initiation 70 times in an instant): B is under load and answers with cookie replies
/// A datagram whose first byte is 4 (transport) goes to `open`, every other one to `receive`. Replies are never
/// larger than what caused them.
enum MeshHandshakeTarget {
    static let start = Instant(nanoseconds: 1_000_000_000)
    static let addressA = SocketAddressV4(address: IPv4Address(192, 0, 2, 1), port: 4500)
    static let addressB = SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 4500)
    static let mac1KeyB: [UInt8] = BLAKE2s.hash(Array(WireGuardConstants.labelMAC1.utf8) + MeshFuzzPKI.keysB.publicKey.bytes)

    static func pair() -> (a: MeshHandshaker, b: MeshHandshaker) {
        (MeshFuzzPKI.handshaker(MeshFuzzPKI.keysA, [MeshFuzzPKI.nodeA, MeshFuzzPKI.org], "A"),
         MeshFuzzPKI.handshaker(MeshFuzzPKI.keysB, [MeshFuzzPKI.nodeB], "B"))
    }

    /// A's initiation and B's response delivered; returns A's session when it completed.
    static func handshake(_ a: MeshHandshaker, _ b: MeshHandshaker, now: Instant) -> MeshSession? {
        guard let initiation = a.initiate(to: MeshFuzzPKI.keysB.publicKey, now: now),
              let response = b.receive(initiation, from: addressA, now: now).reply else { return nil }
        return a.receive(response, from: addressB, now: now).session
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.u8()
        let (a, b) = pair()
        if flags & 1 != 0 { _ = handshake(a, b, now: start) }
        if flags & 2 != 0 { _ = b.initiate(to: MeshFuzzPKI.keysA.publicKey, now: start) }
        if flags & 8 != 0, let initiation = a.initiate(to: MeshFuzzPKI.keysB.publicKey, now: start) {
            for _ in 0..<70 { _ = b.receive(initiation, from: addressA, now: start) }
        }
        let step: Duration = flags & 8 != 0 ? .milliseconds(1) : .milliseconds(25)
        var now = start + .milliseconds(1)
        var count = 0
        while !input.isEmpty, count < 32 {
            var datagram = exactCopy(input.record())
            count += 1
            if flags & 4 != 0, datagram.count >= 32 {
                let macStart = datagram.count - 32
                let mac = BLAKE2s.hash(Array(datagram[0..<macStart]), outputLength: 16, key: mac1KeyB)
                for i in 0..<16 { datagram[macStart + i] = mac[i] }
            }
            if datagram.first == 4 {
                let n = datagram.count
                datagram.withUnsafeMutableBytes { buffer in
                    if case .packet(_, let range) = b.open(message: buffer, count: n, now: now) {
                        precondition(range.lowerBound >= 0 && range.upperBound <= n, "an opened packet lies outside its message")
                    }
                }
            } else {
                let result = b.receive(datagram, from: addressA, now: now)
                precondition((result.reply?.count ?? 0) <= datagram.count, "a reply larger than the datagram that caused it")
            }
            now = now + step
        }
        _ = b.removeExpired(now: now + .seconds(200))
    }

    static func seeds() -> [[UInt8]] {
        var out: [[UInt8]] = []
        do {  // A's initiation as B receives it
            let (a, _) = pair()
            if let initiation = a.initiate(to: MeshFuzzPKI.keysB.publicKey, now: start + .milliseconds(1)) {
                out.append([0] + records([initiation]))
                out.append([4] + records([initiation]))
                out.append([8] + records([initiation]))
            }
        }
        do {  // A's response to B's initiation (bit 1 makes B initiate the same way)
            let (a, b) = pair()
            if let initiation = b.initiate(to: MeshFuzzPKI.keysA.publicKey, now: start),
               let response = a.receive(initiation, from: addressB, now: start).reply {
                out.append([2] + records([response]))
            }
        }
        do {  // transport on the session bit 0 rebuilds, and a replay of it
            let (a, b) = pair()
            if let session = handshake(a, b, now: start) {
                var buffer = [UInt8](repeating: 0, count: 16 + 64 + 16)
                buffer[16] = 0x45; buffer[19] = 64; buffer[24] = 64; buffer[25] = 17
                buffer[28] = 10; buffer[29] = 99; buffer[30] = 1; buffer[31] = 5
                let n = buffer.withUnsafeMutableBytes { a.seal(session, packet: $0, count: 64, now: start + .milliseconds(1)) }
                if let n {
                    let message = Array(buffer[0..<n])
                    out.append([1] + records([message]))
                    out.append([1] + records([message, message]))
                }
            }
        }
        return out
    }
}
