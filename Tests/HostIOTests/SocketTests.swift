import Glibc
import Testing
import Wire
@testable import HostIO

/// A fresh socket path under /tmp for this process.
func temporarySocketPath(_ tag: String) -> String {
    "/tmp/sluice-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
}

@Suite struct UnixSocketTests {
    @Test func acceptsThroughTheReactorAndPassesDescriptors() throws {
        let path = temporarySocketPath("unix")
        let listener = try UnixListener(path: path)
        let reactor = try Reactor()
        var accepted: [UnixStream] = []
        _ = try reactor.register(listener.descriptor, interest: .read) { _ in
            while let stream = try? listener.accept() { accepted.append(stream) }
        }
        let client = try UnixStream(connectingTo: path)
        try reactor.runOnce(timeout: .seconds(1))
        #expect(accepted.count == 1)
        let server = try #require(accepted.first)
        // Accepted sockets are non-blocking and close-on-exec.
        #expect(fcntl(server.descriptor.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(server.descriptor.rawValue, F_GETFD) & FD_CLOEXEC != 0)

        // Nothing sent yet: receive is nil, not an error.
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try buffer.withUnsafeMutableBytes { try server.receive(into: $0, maxDescriptors: 4) } == nil)

        let event = try EventFD()
        try [UInt8]([9, 8, 7]).withUnsafeBytes { try client.sendAll($0, descriptors: [event.descriptor]) }
        let got = try #require(try buffer.withUnsafeMutableBytes { try server.receive(into: $0, maxDescriptors: 4) })
        #expect(got.count == 3)
        #expect(buffer.prefix(3) == [9, 8, 7])
        #expect(got.descriptors.count == 1)
        #expect(!got.descriptorsTruncated)
        // The received descriptor is the same eventfd under another number.
        let passed = try #require(got.descriptors.first)
        #expect(passed.rawValue != event.descriptor.rawValue)
        try EventFD.signal(passed, 5)
        #expect(try event.drain() == 5)

        // Peer closes: a read of 0 bytes.
        try client.descriptor.close()
        let end = try #require(try buffer.withUnsafeMutableBytes { try server.receive(into: $0) })
        #expect(end.count == 0)
    }

    @Test func extraDescriptorsAreClosedAndReported() throws {
        let (a, b) = try UnixStream.pair()
        let e1 = try EventFD(), e2 = try EventFD(), e3 = try EventFD()
        try [UInt8]([1]).withUnsafeBytes { try a.sendAll($0, descriptors: [e1.descriptor, e2.descriptor, e3.descriptor]) }
        var buffer = [UInt8](repeating: 0, count: 8)
        let got = try #require(try buffer.withUnsafeMutableBytes { try b.receive(into: $0, maxDescriptors: 1) })
        #expect(got.descriptors.count == 1)
        #expect(got.descriptorsTruncated)
    }

    @Test func staleSocketIsReplacedLiveOneIsNot() throws {
        let path = temporarySocketPath("stale")
        do {
            let first = try UnixListener(path: path)
            // A live listener: a second one at the same path is refused.
            #expect(throws: Errno.addressInUse) { _ = try UnixListener(path: path) }
            // Simulate a crash: the file stays but nobody listens any more.
            close(first.descriptor.release())
            var st = stat()
            #expect(lstat(path, &st) == 0)
            let second = try UnixListener(path: path)
            _ = try UnixStream(connectingTo: path)
            withExtendedLifetime(second) {}
            withExtendedLifetime(first) {}
        }
        // The last listener removed its socket file.
        var st = stat()
        #expect(lstat(path, &st) == -1)
    }

    @Test func overlongPathIsRefused() {
        #expect(throws: Errno.nameTooLong) { _ = try UnixListener(path: "/tmp/" + String(repeating: "x", count: 200)) }
    }
}

@Suite struct UDPSocketTests {
    @Test func loopbackRoundTrip() throws {
        let a = try UDPSocket(bindingTo: .loopback(port: 0))
        let b = try UDPSocket(bindingTo: .loopback(port: 0))
        let aAddress = try a.localAddress(), bAddress = try b.localAddress()
        #expect(aAddress.port != 0 && aAddress != bAddress)
        var buffer = [UInt8](repeating: 0, count: 2048)
        #expect(try buffer.withUnsafeMutableBytes { try b.receive(into: $0) } == nil)

        let payload = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let sent = try payload.withUnsafeBytes { try a.send($0, to: bAddress) }
        #expect(sent == payload.count)
        let reactor = try Reactor()
        var received: UDPDatagram?
        _ = try reactor.register(b.descriptor, interest: .read) { _ in
            received = try? buffer.withUnsafeMutableBytes { try b.receive(into: $0) }
        }
        try reactor.runOnce(timeout: .seconds(1))
        let datagram = try #require(received)
        #expect(datagram.count == payload.count)
        #expect(!datagram.truncated)
        #expect(datagram.source == aAddress)
        #expect(Array(buffer.prefix(datagram.count)) == payload)

        // A datagram longer than the buffer is reported truncated.
        _ = try payload.withUnsafeBytes { try a.send($0, to: bAddress) }
        var small = [UInt8](repeating: 0, count: 100)
        var short: UDPDatagram?
        for _ in 0..<100 where short == nil {
            short = try small.withUnsafeMutableBytes { try b.receive(into: $0) }
            if short == nil { usleep(1_000) }
        }
        #expect(short?.count == 100)
        #expect(short?.truncated == true)
        #expect(small == Array(payload.prefix(100)))
    }

    @Test func addressesParseAndPrint() {
        #expect(SocketAddress("10.0.0.1:51820") == .ipv4(SocketAddressV4(address: IPv4Address(rawValue: 0x0A00_0001), port: 51820)))
        #expect(SocketAddress("10.0.0.1:51820")?.description == "10.0.0.1:51820")
        #expect(SocketAddress("[::1]:53") == .ipv6(high: 0, low: 1, port: 53, scopeID: 0))
        #expect(SocketAddress("[2001:db8::5]:1")?.description == "[2001:db8::5]:1")
        #expect(SocketAddress("10.0.0.1") == nil)
        #expect(SocketAddress("10.0.0.300:1") == nil)
        #expect(SocketAddress("[::1]") == nil)
    }

    @Test func ipv6LoopbackRoundTrip() throws {
        guard let a = try? UDPSocket(bindingTo: SocketAddress("[::1]:0")!) else {
            print("UDPSocketTests.ipv6LoopbackRoundTrip skipped: IPv6 loopback is not available here")
            return
        }
        let b = try UDPSocket(bindingTo: SocketAddress("[::1]:0")!)
        let payload: [UInt8] = [1, 2, 3, 4]
        _ = try payload.withUnsafeBytes { try a.send($0, to: b.localAddress()) }
        var buffer = [UInt8](repeating: 0, count: 16)
        var got: UDPDatagram?
        for _ in 0..<100 where got == nil {
            got = try buffer.withUnsafeMutableBytes { try b.receive(into: $0) }
            if got == nil { usleep(1_000) }
        }
        #expect(got?.count == 4)
        #expect(got?.source == (try a.localAddress()))
    }
}
