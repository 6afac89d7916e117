import Basics
import Glibc
import Testing
@testable import HostIO
import Wire

/// recvmmsg/sendmmsg batches over loopback: plain, with UDP GSO on the sender and GRO on the receiver,
/// and the counting of datagrams the kernel refuses.
@Suite struct DatagramBatchTests {
    /// `count` datagrams from `a` to `b`'s port, datagram k being `size(k)` bytes of k.
    static func fill(_ batch: DatagramBatch, count: Int, port: UInt16, size: (Int) -> Int) {
        for k in 0..<count {
            let bytes = [UInt8](repeating: UInt8(k), count: size(k))
            bytes.withUnsafeBytes { batch.append($0, to: SocketAddressV4(address: IPv4Address(127, 0, 0, 1), port: port)) }
        }
    }

    /// Every datagram `receiver` gets until `expected` arrived or a second passed, as (source port, bytes).
    static func drain(_ receiver: UDPSocket, _ batch: DatagramBatch, expected: Int) throws -> [(UInt16, [UInt8])] {
        var got: [(UInt16, [UInt8])] = []
        let reactor = try Reactor()
        _ = try reactor.register(receiver.descriptor, interest: .read) { _ in
            guard let n = try? batch.receive(on: receiver) else { return }
            for i in 0..<n {
                let whole = batch.forEachDatagram(inMessage: i) { datagram, source in
                    #expect(source.address == IPv4Address(127, 0, 0, 1))
                    got.append((source.port, Array(datagram)))
                }
                #expect(whole)
            }
        }
        let deadline = reactor.clock.now() + .seconds(1)
        while got.count < expected, reactor.clock.now() < deadline { try reactor.runOnce(timeout: .milliseconds(50)) }
        return got
    }

    @Test(arguments: [false, true])
    func batchRoundTripsOverLoopback(offloads: Bool) throws {
        let a = try UDPSocket(bindingTo: .loopback(port: 0))
        let b = try UDPSocket(bindingTo: .loopback(port: 0))
        let aPort = try a.localAddress().port, bPort = try b.localAddress().port
        let send = DatagramBatch(capacity: 16, slotSize: 1500)
        let receive = DatagramBatch(capacity: 16, slotSize: 65536)
        if offloads {
            send.segmentationOffload = true   // falls back to plain sendmmsg where refused
            b.enableReceiveOffload()
        }
        // Ten of 1000 bytes (one GSO run), then three shorter ones.
        Self.fill(send, count: 13, port: bPort) { $0 < 10 ? 1000 : 100 + $0 }
        #expect(send.count == 13 && !send.isFull)
        #expect(send.datagram(12).count == 112 && send.datagram(12).first == 12)
        #expect(send.send(on: a) == 13)
        #expect(send.isEmpty)
        let got = try Self.drain(b, receive, expected: 13)
        #expect(got.count == 13)
        #expect(got.allSatisfy { $0.0 == aPort })
        #expect(got.map(\.1.count) == (0..<13).map { $0 < 10 ? 1000 : 100 + $0 })
        #expect(got.enumerated().allSatisfy { k, d in d.1.allSatisfy { $0 == UInt8(k) } })
        #expect(send.sendBlocked == 0 && send.sendFailed == 0)
    }

    @Test func refusedDatagramsAreCountedNotSent() throws {
        let a = try UDPSocket(bindingTo: .loopback(port: 0))
        let batch = DatagramBatch(capacity: 4, slotSize: 64)
        // Port 0 is not a destination: the kernel refuses each datagram (EINVAL).
        Self.fill(batch, count: 3, port: 0) { _ in 10 }
        #expect(batch.send(on: a) == 0)
        #expect(batch.sendFailed == 3 && batch.sendBlocked == 0)
        #expect(batch.isEmpty)
        // A datagram longer than a slot is cut to the slot.
        let long = [UInt8](repeating: 1, count: 100)
        long.withUnsafeBytes { batch.append($0, to: SocketAddressV4(address: IPv4Address(127, 0, 0, 1), port: 9)) }
        #expect(batch.datagram(0).count == 64)
    }
}
