// Real clients against the server machines: `curl -x socks5h://…` and `curl -p -x http://…` talk to
// a loopback listener this test drives with blocking sockets. The machine answers; when it asks to
// dial, the test checks the destination curl sent and plays the origin server itself.
import Foundation
import Glibc
import Testing
import Wire
@testable import Streams

private struct Listener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, length) == 0 && listen(s, 4) == 0 && getsockname(s, $0, &length) == 0 }
        }
        guard s >= 0, bound else { if s >= 0 { close(s) }; throw POSIXError(.EADDRINUSE) }
        fd = s
        port = UInt16(bigEndian: address.sin_port)
    }

    /// The next connection, or nil after `seconds`.
    func accept(within seconds: Int32) -> Int32? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, seconds * 1000) == 1 else { return nil }
        let c = Glibc.accept(fd, nil, nil)
        return c >= 0 ? c : nil
    }
}

/// Up to 4096 bytes, or nil at end of stream / after 10 s of silence.
private func readSome(_ fd: Int32) -> [UInt8]? {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&p, 1, 10_000) == 1 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
    return n > 0 ? Array(buffer[0..<n]) : nil
}

private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var at = 0
    while at < bytes.count {
        let n = bytes[at...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        at += n
    }
}

private func curlPath() -> String? {
    ["/usr/bin/curl", "/usr/local/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Runs curl with `arguments`; returns its exit status and standard output.
private func runCurl(_ arguments: [String], serve: @escaping @Sendable () -> Void) throws -> (Int32, String) {
    try run(curlPath()!, ["-s", "--max-time", "15"] + arguments, serve: serve)
}

private func run(_ path: String, _ arguments: [String], serve: @escaping @Sendable () -> Void) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    serve()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Plays the origin: reads the HTTP request (after `pending`), answers "hello".
private func serveOrigin(_ fd: Int32, pending: [UInt8]) -> String {
    var request = pending
    while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n"), let more = readSome(fd) { request += more }
    writeAll(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".utf8))
    return String(decoding: request, as: UTF8.self)
}

private final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

@Suite(.serialized) struct RealClientTests {
    @Test func curlThroughSOCKS5WithAndWithoutTheRightPassword() throws {
        guard curlPath() != nil else { print("0.000 warning streams.test.skipped reason=curl_not_installed"); return }
        for (password, expectConnect) in [("s3cret", true), ("wrong", false)] {
            let listener = try Listener()
            defer { close(listener.fd) }
            let seen = Box<[SOCKS5ServerAction]>([])
            let request = Box("")
            let (status, body) = try runCurl(["-x", "socks5h://alice:\(password)@127.0.0.1:\(listener.port)", "http://origin.test:8080/x"]) {
                guard let c = listener.accept(within: 10) else { return }
                defer { close(c) }
                var m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy(allowNoAuthentication: false, users: ["alice": "s3cret"]))
                while m.state != .closed && m.state != .dialing, let bytes = readSome(c) {
                    for action in bytes.withUnsafeBytes({ m.receive($0) }) {
                        seen.value.append(action)
                        if case .send(let reply) = action { writeAll(c, reply) }
                    }
                }
                guard m.state == .dialing else { return }
                for case .send(let reply) in m.connected(bound: StreamDestination(host: .ipv4(.any), port: 0)) { writeAll(c, reply) }
                request.value = serveOrigin(c, pending: m.pendingPayload)
            }
            if expectConnect {
                #expect(seen.value.contains(.connect(StreamDestination(host: .name("origin.test"), port: 8080), username: "alice")), "\(seen.value)")
                #expect(status == 0 && body == "hello" && request.value.hasPrefix("GET /x HTTP/1.1\r\n"), "curl exit \(status), body \(body)")
            } else {
                #expect(seen.value.last == .close(.wrongCredentials), "\(seen.value)")
                #expect(status == 97, "curl exit \(status): CURLE_PROXY expected for refused credentials")
            }
        }
    }

    @Test func curlThroughHTTPConnect() throws {
        guard curlPath() != nil else { print("0.000 warning streams.test.skipped reason=curl_not_installed"); return }
        for (password, expectConnect) in [("pw", true), ("nope", false)] {
            let listener = try Listener()
            defer { close(listener.fd) }
            let seen = Box<[HTTPConnectAction]>([])
            let (status, body) = try runCurl(["-p", "-x", "http://bob:\(password)@127.0.0.1:\(listener.port)", "http://origin.test:8080/"]) {
                guard let c = listener.accept(within: 10) else { return }
                defer { close(c) }
                var m = HTTPConnectServerMachine(policy: HTTPConnectPolicy(users: ["bob": "pw"]))
                while m.state == .head, let bytes = readSome(c) {
                    for action in bytes.withUnsafeBytes({ m.receive($0) }) {
                        seen.value.append(action)
                        if case .send(let reply) = action { writeAll(c, reply) }
                    }
                }
                guard m.state == .dialing else { return }
                for case .send(let reply) in m.connected() { writeAll(c, reply) }
                _ = serveOrigin(c, pending: m.pendingPayload)
            }
            if expectConnect {
                #expect(seen.value.last == .connect(StreamDestination(host: .name("origin.test"), port: 8080), username: "bob"), "\(seen.value)")
                #expect(status == 0 && body == "hello", "curl exit \(status), body \(body)")
            } else {
                #expect(seen.value.last == .close(.wrongCredentials), "\(seen.value)")
                #expect(status != 0, "curl must fail on 407")
            }
        }
    }

    @Test func curlSOCKS5WithAnAddressAndNoAuthentication() throws {
        guard curlPath() != nil else { print("0.000 warning streams.test.skipped reason=curl_not_installed"); return }
        let listener = try Listener()
        defer { close(listener.fd) }
        let seen = Box<[SOCKS5ServerAction]>([])
        // socks5:// (not socks5h): curl resolves the name itself and sends ATYP 1.
        let (status, body) = try runCurl(["-x", "socks5://127.0.0.1:\(listener.port)", "http://127.0.0.1:9/"]) {
            guard let c = listener.accept(within: 10) else { return }
            defer { close(c) }
            var m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy())
            while m.state != .closed && m.state != .dialing, let bytes = readSome(c) {
                for action in bytes.withUnsafeBytes({ m.receive($0) }) {
                    seen.value.append(action)
                    if case .send(let reply) = action { writeAll(c, reply) }
                }
            }
            guard m.state == .dialing else { return }
            for case .send(let reply) in m.connected(bound: StreamDestination(host: .ipv4(.any), port: 0)) { writeAll(c, reply) }
            _ = serveOrigin(c, pending: m.pendingPayload)
        }
        #expect(seen.value.filter { $0 != .needMoreBytes } == [.send([5, 0]), .connect(StreamDestination(host: .ipv4(IPv4Address(127, 0, 0, 1)), port: 9), username: nil)])
        #expect(status == 0 && body == "hello", "curl exit \(status)")
    }

    /// A live `openssl s_client` ClientHello (not the fixture), read as it arrives, for two names.
    @Test func opensslClientHelloLive() throws {
        guard let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("0.000 warning streams.test.skipped reason=openssl_not_installed"); return
        }
        for name in ["alpha.test", "beta.test"] {
            let listener = try Listener()
            defer { close(listener.fd) }
            let answer = Box<Result<TLSClientHelloInfo, TLSPeekRefusal>?>(nil)
            _ = try run(openssl, ["s_client", "-connect", "127.0.0.1:\(listener.port)", "-servername", name, "-alpn", "h2,http/1.1"]) {
                guard let c = listener.accept(within: 10) else { return }
                defer { close(c) }
                var peeker = TLSClientHelloPeeker()
                while answer.value == nil, let bytes = readSome(c) { answer.value = bytes.withUnsafeBytes { peeker.receive($0) } }
            }
            guard case .success(let info) = answer.value else { Issue.record("\(name): \(String(describing: answer.value))"); continue }
            #expect(info.serverName == name && info.alpn == ["h2", "http/1.1"])
        }
    }
}
