import Testing
import Wire
@testable import Streams

func feed(_ m: inout HTTPConnectServerMachine, _ text: String) -> [HTTPConnectAction] {
    withDirty(Array(text.utf8)) { m.receive($0) }
}

@Suite struct HTTPConnectTests {
    static let curlHead = "CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\nUser-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n"

    @Test func parsesWhatCurlSendsAndRejectsEveryTruncation() throws {
        let bytes = Array(Self.curlHead.utf8)
        guard case .success(.complete(let r, let n)) = withDirty(bytes, { HTTPConnect.parse($0) }) else {
            Issue.record("curl's CONNECT head did not parse"); return
        }
        #expect(n == bytes.count)
        #expect(r.destination == StreamDestination(host: .name("www.example.com"), port: 443))
        #expect(r.minorVersion == 1 && r.headers.map(\.name) == ["host", "user-agent", "proxy-connection"])
        for k in 0..<bytes.count {
            let p = withDirty(Array(bytes[0..<k])) { HTTPConnect.parse($0) }
            guard case .success(.needMoreBytes) = p else { Issue.record("prefix \(k): \(p)"); continue }
        }
    }

    @Test func targetsAndCredentials() {
        let cases: [(String, StreamDestination?)] = [
            ("10.1.2.3:8080", StreamDestination(host: .ipv4(IPv4Address(10, 1, 2, 3)), port: 8080)),
            ("[2001:db8::7]:443", StreamDestination(host: .ipv6(IPv6Address("2001:db8::7")!), port: 443)),
            ("Example.COM.:22", StreamDestination(host: .name("example.com"), port: 22)),
            ("example.com", nil), ("example.com:0", nil), ("example.com:65536", nil), ("ex ample:1", nil), ("[::1:1", nil), (":80", nil),
        ]
        for (target, expected) in cases {
            #expect(HTTPConnect.authority(ArraySlice(target.utf8)) == expected, "\(target)")
        }
        let auth = "Basic " + Base64.encode(Array("bob:pa:ss".utf8))
        let head = "CONNECT a.example:443 HTTP/1.0\r\nProxy-Authorization: \(auth)\r\n\r\n"
        guard case .success(.complete(let r, _)) = withDirty(Array(head.utf8), { HTTPConnect.parse($0) }) else {
            Issue.record("no parse"); return
        }
        #expect(r.basicCredentials?.username == "bob" && r.basicCredentials?.password == "pa:ss" && r.minorVersion == 0)
        for s in ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "AAECAwQF"] {
            #expect(Base64.decode(Array(s.utf8)).map { Base64.encode($0) } == s)
        }
        for bad in ["Zg=", "Z===", "Zg=a", "Zm9v!A==", "=AAA"] { #expect(Base64.decode(Array(bad.utf8)) == nil, "\(bad)") }
    }

    @Test func refusalsAnswerWithTheirStatus() {
        let cases: [(String, HTTPConnect.Refusal)] = [
            ("GET http://x/ HTTP/1.1\r\n\r\n", .notConnect),
            ("CONNECT x HTTP/1.1\r\n\r\n", .badTarget),
            ("CONNECT x:1 HTTP/2\r\n\r\n", .malformed),
            ("CONNECT x:1 HTTP/1.1\r\nBad Header: 1\r\n\r\n", .malformed),
            ("CONNECT x:1 HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", .malformed),
            ("CONNECT  x:1 HTTP/1.1\r\n\r\n", .malformed),
        ]
        for (head, why) in cases {
            var m = HTTPConnectServerMachine(policy: HTTPConnectPolicy())
            #expect(feed(&m, head) == [.send(HTTPConnect.reply(status: why.status)), .close(why)], "\(head)")
        }
        let policy = HTTPConnectPolicy(users: ["bob": "pw"])
        var m = HTTPConnectServerMachine(policy: policy)
        let reply407 = feed(&m, Self.curlHead)
        #expect(reply407 == [.send(HTTPConnect.reply(status: 407)), .close(.authenticationRequired)])
        #expect(String(decoding: HTTPConnect.reply(status: 407), as: UTF8.self).contains("Proxy-Authenticate: Basic realm=\"sluice\"\r\n"))
        m = HTTPConnectServerMachine(policy: policy)
        #expect(feed(&m, "CONNECT x:1 HTTP/1.1\r\nProxy-Authorization: Basic \(Base64.encode(Array("bob:no".utf8)))\r\n\r\n")
                == [.send(HTTPConnect.reply(status: 407)), .close(.wrongCredentials)])
        m = HTTPConnectServerMachine(policy: policy)
        #expect(feed(&m, "CONNECT x:1 HTTP/1.1\r\nproxy-authorization: basic \(Base64.encode(Array("bob:pw".utf8)))\r\n\r\nHELLO")
                == [.connect(StreamDestination(host: .name("x"), port: 1), username: "bob")])
        #expect(m.pendingPayload == Array("HELLO".utf8))
        #expect(m.failed(.dialFailed) == [.send(HTTPConnect.reply(status: 502)), .close(.dialFailed)])
        m = HTTPConnectServerMachine(policy: HTTPConnectPolicy())
        _ = feed(&m, Self.curlHead)
        #expect(m.connected() == [.send(Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8))])
    }

    @Test func slowlorisHeadIsBounded() {
        var m = HTTPConnectServerMachine(policy: HTTPConnectPolicy(maximumHeadBytes: 256))
        var last = feed(&m, "CONNECT x:1 HTTP/1.1\r\n")
        var n = 0
        while last == [.needMoreBytes] { last = feed(&m, "X-Pad: \(n)\r\n"); n += 1 }
        #expect(last == [.send(HTTPConnect.reply(status: 431)), .close(.headTooLarge)])
        #expect(n < 40)
    }

    @Test func seededMutationsNeverTrap() {
        var rng = SplitMix(seed: 0x4854)
        // ("\r\n" is one Character: dropLast(1) removes the blank line.)
        let valid = Array((Self.curlHead.dropLast(1) + "Proxy-Authorization: Basic \(Base64.encode(Array("bob:pw".utf8)))\r\n\r\n").utf8)
        var connects = 0, closes = 0
        for _ in 0..<2000 {
            var input = valid
            for _ in 0..<(1 + rng.next() % 2) { input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            var m = HTTPConnectServerMachine(policy: HTTPConnectPolicy(users: ["bob": "pw"], maximumHeadBytes: 200))
            var at = 0
            var last: [HTTPConnectAction] = []
            while at < input.count, m.state == .head {
                let n = min(input.count - at, 1 + Int(rng.next() % 31))
                last = withDirty(Array(input[at..<(at + n)])) { m.receive($0) }; at += n
            }
            if case .connect = last.last { connects += 1 }
            if case .close = last.last { closes += 1 }
        }
        print("0.000 info streams.http_connect.mutations connects=\(connects) closes=\(closes)")
        #expect(connects > 100 && closes > 500, "connects \(connects), closes \(closes)")
    }
}
