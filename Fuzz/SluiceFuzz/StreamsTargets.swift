// Fuzz targets `socks5-server`, `http-connect`, `tls-client-hello` and `gate-yaml` (layer 2, Streams): the streams
// gateway's protocol layer. A client's bytes, cut into segments the input chooses, go through the
// server state machines and the ClientHello peeker; whatever is accepted must make sense (a
// destination that re-encodes, a consumed count inside the input, a bounded buffer).
//
// Input of the first three: a flags/bound prefix, then length-prefixed records (FuzzInput.record),
// each one segment from the client. `gate-yaml`: gate.yml text through GateRules.parse, then a route.
import Streams
import Wire

enum SOCKS5ServerTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.u8()
        let policy = SOCKS5ServerPolicy(allowNoAuthentication: flags & 1 == 0, users: flags & 2 == 0 ? [:] : ["alice": "s3cret"],
                                        allowUDPAssociate: flags & 4 == 0, maximumBytesBeforeRequest: 600)
        var m = SOCKS5ServerMachine(policy: policy)
        var received = 0
        while !input.isEmpty {
            let segment = exactCopy(input.record())
            received += segment.count
            for action in segment.withUnsafeBytes({ m.receive($0) }) {
                switch action {
                case .connect(let d, _), .associateUDP(let d, _):
                    precondition(SOCKS5.emitAddress(d) != nil, "an accepted destination \(d) does not re-encode")
                    precondition(m.pendingPayload.count <= received)
                case .send(let bytes):
                    precondition(bytes.count <= 262)
                default: break
                }
            }
            if m.state == .dialing { _ = flags & 8 == 0 ? m.connected(bound: StreamDestination(host: .ipv4(.any), port: 1)) : m.failed(.hostUnreachable) }
        }
        // The same input as one UDP datagram.
        let all = exactCopy(data)
        all.withUnsafeBytes { b in
            if case .success(let h) = SOCKS5.UDPHeader.parse(b) { precondition(h.payload.upperBound == b.count && h.payload.lowerBound >= 7) }
        }
    }

    static func seeds() -> [[UInt8]] {
        let d = StreamDestination(host: .name("www.example.com"), port: 443)
        let auth = SOCKS5.UsernamePassword(username: Array("alice".utf8), password: Array("s3cret".utf8)).emit()!
        return [
            [0] + records([SOCKS5.Greeting(methods: [0]).emit(), SOCKS5.Request(command: 1, destination: d).emit()!]),
            [2] + records([SOCKS5.Greeting(methods: [0, 2]).emit(), auth, SOCKS5.Request(command: 3, destination: StreamDestination(host: .ipv4(.any), port: 0)).emit()!]),
            [0] + records([SOCKS5.Greeting(methods: [0]).emit() + SOCKS5.Request(command: 1, destination: StreamDestination(host: .ipv6(IPv6Address("2001:db8::1")!), port: 80)).emit()!]),
            SOCKS5.UDPHeader.emit(d)! + Array("datagram".utf8),
        ]
    }
}

enum HTTPConnectTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.u8()
        var m = HTTPConnectServerMachine(policy: HTTPConnectPolicy(users: flags & 1 == 0 ? [:] : ["bob": "pw"], maximumHeadBytes: 1024))
        var received = 0
        while !input.isEmpty {
            let segment = exactCopy(input.record())
            received += segment.count
            for action in segment.withUnsafeBytes({ m.receive($0) }) {
                if case .connect(let d, _) = action {
                    precondition(d.port != 0 && m.pendingPayload.count <= received)
                }
            }
            if m.state == .dialing { _ = flags & 2 == 0 ? m.connected() : m.failed(.dialFailed) }
        }
    }

    static func seeds() -> [[UInt8]] {
        let head = "CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\nUser-Agent: curl/7.88.1\r\n\r\n"
        let auth = "CONNECT [2001:db8::1]:22 HTTP/1.0\r\nProxy-Authorization: Basic \(Base64.encode(Array("bob:pw".utf8)))\r\n\r\nSSH-2.0"
        return [[0] + records([Array(head.utf8)]), [1] + records([Array(auth.prefix(20).utf8), Array(auth.dropFirst(20).utf8)])]
    }
}

enum TLSClientHelloTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let bound = 64 + Int(input.u16() % 16384)
        var peeker = TLSClientHelloPeeker(maximumBytes: bound)
        var received = 0
        while !input.isEmpty {
            let segment = exactCopy(input.record())
            received += segment.count
            let answer = segment.withUnsafeBytes { peeker.receive($0) }
            precondition(peeker.bytes.count <= received)
            if case .success(let info) = answer {
                if let name = info.serverName { precondition(StreamHost.validName(Array(name.utf8)) == name) }
                break
            }
            if answer != nil { break }
        }
    }

    /// A ClientHello with server_name and ALPN, in one record or split into small records.
    static func clientHello(name: String, alpn: [String]) -> [UInt8] {
        func u16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
        let host = Array(name.utf8)
        let sni = u16(host.count + 3) + [0] + u16(host.count) + host
        let protocols = alpn.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        let extensions = [0, 0] + u16(sni.count) + sni + [0, 16] + u16(protocols.count + 2) + u16(protocols.count) + protocols
            + [0, 43, 0, 3, 2, 3, 4]
        let body: [UInt8] = [3, 3] + [UInt8](repeating: 7, count: 32) + [0] + u16(2) + [0x13, 0x01] + [1, 0] + u16(extensions.count) + extensions
        let handshake = [1, 0] + u16(body.count) + body
        return [22, 3, 1] + u16(handshake.count) + handshake
    }

    static func seeds() -> [[UInt8]] {
        let hello = clientHello(name: "www.example.com", alpn: ["h2", "http/1.1"])
        let handshake = Array(hello[5...])
        let split = stride(from: 0, to: handshake.count, by: 40).map { at in
            let part = Array(handshake[at..<min(at + 40, handshake.count)])
            return [22, 3, 1, 0, UInt8(part.count)] + part
        }
        return [[0, 0x40] + records([hello]), [0, 0x40] + records([Array(hello.prefix(10)), Array(hello.dropFirst(10))]),
                [0, 0x40] + records(split)]
    }
}

enum GateYAMLTarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        guard let rules = try? GateRules.parse(text, file: "gate.yml") else { return }
        let context = StreamContext(listener: "socks", destination: StreamDestination(host: .name("www.example.com"), port: 443),
                                    serverName: "www.example.com", alpn: ["h2"], identity: "node-a", groups: ["ops"])
        let (index, action) = rules.route(context)
        if let index { precondition(index < rules.rules.count && rules.rules[index].action == action) } else { precondition(action == rules.fallback) }
    }

    static func seeds() -> [[UInt8]] {
        [Array("""
        rules:
          - name: internal
            destination: [10.0.0.0/8, "fd00::/8", .corp.example]
            port: [22, 8000-8100]
            action: direct
          - sni: "*.example.com"
            alpn: h2
            listener: socks
            identity: node-a
            group: [ops]
            action: via
            via: node-b
        default: reject
        """.utf8)]
    }
}
