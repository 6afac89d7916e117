import Foundation
import Testing
@testable import Streams

let streamsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures/streams").path

func fixture(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: streamsFixtures + "/" + name)))
}

func peek(_ bytes: [UInt8], maximumBytes: Int = TLSClientHello.defaultMaximumBytes) -> Result<StreamParse<TLSClientHelloInfo>, TLSPeekRefusal> {
    withDirty(bytes) { TLSClientHello.peek($0, maximumBytes: maximumBytes) }
}

/// Re-cuts a single-record ClientHello into records of `size` handshake octets each.
func splitIntoRecords(_ hello: [UInt8], size: Int) -> [UInt8] {
    let handshake = Array(hello[5...])
    var out: [UInt8] = []
    var at = 0
    while at < handshake.count {
        let n = min(size, handshake.count - at)
        out += [22, 3, 1, UInt8(n >> 8), UInt8(n & 0xFF)] + handshake[at..<(at + n)]
        at += n
    }
    return out
}

@Suite struct TLSClientHelloTests {
    // Recorded from a local listener (see docs/streams.md): `openssl s_client -servername www.example.com
    // -alpn h2,http/1.1` (OpenSSL 3.0) and `curl https://api.example.org` (curl 7.88, OpenSSL 3.0).
    static let openssl = "clienthello-openssl-www.example.com-h2.bin"
    static let curl = "clienthello-curl-api.example.org.bin"

    @Test func realClientHellos() throws {
        let o = try fixture(Self.openssl)
        #expect(peek(o) == .success(.complete(TLSClientHelloInfo(serverName: "www.example.com", alpn: ["h2", "http/1.1"],
                                                                  legacyVersion: 0x0303, supportedVersions: [0x0304, 0x0303, 0x0302, 0x0301]), consumed: o.count)))
        let c = try fixture(Self.curl)
        guard case .success(.complete(let info, let n)) = peek(c) else { Issue.record("curl's ClientHello: \(peek(c))"); return }
        #expect(n == c.count && info.serverName == "api.example.org" && info.alpn.contains("http/1.1") && info.supportedVersions.contains(0x0304))
    }

    @Test func everyTruncationNeedsMoreBytesAndSplitsReassemble() throws {
        let o = try fixture(Self.openssl)
        for k in 0..<o.count {
            #expect(peek(Array(o[0..<k])) == .success(.needMoreBytes), "prefix \(k)")
        }
        guard case .success(.complete(let expected, _)) = peek(o) else { Issue.record("no parse"); return }
        for size in [1, 7, 100] {
            let split = splitIntoRecords(o, size: size)
            var peeker = TLSClientHelloPeeker()
            var answer: Result<TLSClientHelloInfo, TLSPeekRefusal>?
            var at = 0
            // Segments cut independently of the records (13 octets each).
            while answer == nil, at < split.count {
                let n = min(13, split.count - at)
                answer = withDirty(Array(split[at..<(at + n)])) { peeker.receive($0) }
                at += n
            }
            #expect(answer == .success(expected), "records of \(size)")
            #expect(peeker.bytes == split, "the peeker keeps every byte to forward")
        }
        // One octet at a time (the peeker works incrementally), then bytes after the answer are not kept.
        var peeker = TLSClientHelloPeeker()
        var answer: Result<TLSClientHelloInfo, TLSPeekRefusal>?
        for b in o + [23, 3, 3] where answer == nil { answer = withDirty([b]) { peeker.receive($0) } }
        #expect(answer == .success(expected) && peeker.bytes == o && peeker.recordsEnd == o.count)
        #expect(withDirty([1, 2, 3]) { peeker.receive($0) } == .success(expected) && peeker.bytes == o)
    }

    @Test func garbageAndOversizedAreRefusedWithAReason() throws {
        let o = try fixture(Self.openssl)
        #expect(peek(Array("GET / HTTP/1.1\r\n".utf8)) == .failure(.notHandshakeRecord))
        #expect(peek([22, 2]) == .failure(.badRecordVersion))
        #expect(peek([22, 3, 1, 0, 0]) == .failure(.badRecordLength))
        #expect(peek([22, 3, 1, 0x40, 0x01]) == .failure(.badRecordLength))
        #expect(peek([22, 3, 1, 0, 4, 2, 0, 0, 0]) == .failure(.notClientHello))
        // A ClientHello announcing 16 MiB, and one larger than a small bound.
        #expect(peek([22, 3, 1, 0, 4, 1, 0xFF, 0xFF, 0xFF]) == .failure(.tooLarge))
        #expect(peek(o, maximumBytes: 200) == .failure(.tooLarge))
        // A 1-octet record stream that never ends: the peeker stops at its bound.
        var peeker = TLSClientHelloPeeker(maximumBytes: 1024)
        var answer = withDirty([22, 3, 1, 0, 4, 1, 0, 0x10, 0]) { peeker.receive($0) }
        var records = 0
        while answer == nil { answer = withDirty([22, 3, 1, 0, 1, 0]) { peeker.receive($0) }; records += 1 }
        #expect(answer == .failure(.tooLarge) && records < 200)
        // Corrupted inner lengths: the SNI length, a duplicated extension.
        var bad = o
        let sni = try #require(findSNI(o))
        bad[sni + 1] &+= 1  // the extension's length octet: no longer matches its list
        guard case .failure = peek(bad) else { Issue.record("corrupted SNI length accepted"); return }
    }

    /// Offset of the server_name extension's type in a one-record ClientHello (for corrupting it).
    func findSNI(_ hello: [UInt8]) -> Int? {
        var at = 5 + 4 + 2 + 32
        at += 1 + Int(hello[at])
        at += 2 + (Int(hello[at]) << 8 | Int(hello[at + 1]))
        at += 1 + Int(hello[at])
        at += 2
        while at + 4 <= hello.count {
            if hello[at] == 0 && hello[at + 1] == 0 { return at + 2 }
            at += 4 + (Int(hello[at + 2]) << 8 | Int(hello[at + 3]))
        }
        return nil
    }

    @Test func seededMutationsNeverTrap() throws {
        var rng = SplitMix(seed: 0x715)
        let hellos = [try fixture(Self.openssl), try fixture(Self.curl)]
        var outcomes: [String: Int] = [:]
        for round in 0..<3000 {
            var input = hellos[round % 2]
            for _ in 0..<(1 + rng.next() % 4) { input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            input = Array(input.prefix(Int(rng.next() % UInt64(input.count + 1))))
            switch peek(input) {
            case .success(.complete): outcomes["complete", default: 0] += 1
            case .success(.needMoreBytes): outcomes["more", default: 0] += 1
            case .success(.invalid): outcomes["invalid", default: 0] += 1
            case .failure(let why): outcomes[why.rawValue, default: 0] += 1
            }
        }
        #expect(outcomes["more", default: 0] > 100 && outcomes.count >= 4, "\(outcomes)")
    }
}
