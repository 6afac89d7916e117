// Batches of UDP datagrams for recvmmsg(2) and sendmmsg(2): one system call moves up to `capacity` datagrams.
// Every slot, iovec, address and mmsghdr is allocated once; filling, sending and receiving allocate nothing.

import Glibc
import HostIO
import WireGuard
import Wire

/// Fixed slots of `slotSize` bytes, each with its own iovec, IPv4 address and mmsghdr.
final class DatagramBatch {
    let capacity: Int
    let slotSize: Int
    let storage: UnsafeMutableRawPointer
    let iovecs: UnsafeMutablePointer<iovec>
    let addresses: UnsafeMutablePointer<sockaddr_in>
    let headers: UnsafeMutableRawPointer
    /// Datagrams filled (sending) or received (receiving).
    private(set) var count = 0

    init(capacity: Int, slotSize: Int) {
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * slotSize)
        iovecs = .allocate(capacity: capacity)
        iovecs.initialize(repeating: iovec(), count: capacity)
        addresses = .allocate(capacity: capacity)
        addresses.initialize(repeating: sockaddr_in(), count: capacity)
        headers = .allocate(byteCount: capacity * LinuxBatchCalls.mmsghdrStride, alignment: 16)
        headers.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * LinuxBatchCalls.mmsghdrStride)
        for i in 0..<capacity {
            iovecs[i] = iovec(iov_base: storage + i * slotSize, iov_len: slotSize)
            var h = msghdr()
            h.msg_name = UnsafeMutableRawPointer(addresses + i)
            h.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            h.msg_iov = iovecs + i
            h.msg_iovlen = 1
            header(i).storeBytes(of: h, as: msghdr.self)
        }
    }

    deinit {
        storage.deallocate(); iovecs.deallocate(); addresses.deallocate(); headers.deallocate()
    }

    @inline(__always) func header(_ i: Int) -> UnsafeMutableRawPointer { headers + i * LinuxBatchCalls.mmsghdrStride }

    /// The whole of slot `i`.
    @inline(__always) func slot(_ i: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage + i * slotSize, count: slotSize)
    }

    var isFull: Bool { count == capacity }
    var isEmpty: Bool { count == 0 }

    // MARK: Sending

    /// The slot the next datagram is built in.
    var nextSlot: UnsafeMutableRawBufferPointer { slot(count) }

    /// Marks the next slot as a datagram of `length` bytes for `endpoint`.
    @inline(__always) func commit(length: Int, to endpoint: Endpoint) {
        iovecs[count].iov_len = length
        addresses[count] = Self.socketAddress(endpoint)
        count += 1
    }

    /// sendmmsg(2) of the filled slots; datagrams the socket has no room for are dropped (UDP semantics).
    /// Returns how many were sent.
    @discardableResult
    func send(on socket: CInt) -> Int {
        var sent = 0
        while sent < count {
            let n = LinuxBatchCalls.sendmmsg(socket, header(sent), CUnsignedInt(count - sent), CInt(MSG_NOSIGNAL), nil)
            if n > 0 { sent += Int(n); continue }
            if n < 0, errno == EINTR { continue }
            // EAGAIN (send buffer full) or an error for the datagram at `sent` (e.g. EHOSTUNREACH): skip it.
            sent += 1
        }
        let delivered = sent
        count = 0
        return delivered
    }

    // MARK: Receiving

    /// recvmmsg(2) into every slot: how many datagrams arrived (0 when none was waiting).
    func receive(on socket: CInt) throws(Errno) -> Int {
        for i in 0..<capacity {
            iovecs[i].iov_len = slotSize
            header(i).storeBytes(of: socklen_t(MemoryLayout<sockaddr_in>.size),
                                 toByteOffset: MemoryLayout<msghdr>.offset(of: \.msg_namelen)!, as: socklen_t.self)
        }
        while true {
            let n = LinuxBatchCalls.recvmmsg(socket, headers, CUnsignedInt(capacity), CInt(MSG_DONTWAIT), nil)
            if n >= 0 { count = Int(n); return count }
            let e = errno
            if e == EINTR { continue }
            count = 0
            if e == EAGAIN || e == EWOULDBLOCK { return 0 }
            throw Errno(rawValue: e)
        }
    }

    /// The length of received datagram `i`, or nil if it was truncated (longer than a slot) or not IPv4.
    @inline(__always) func received(_ i: Int) -> (length: Int, source: Endpoint)? {
        let h = header(i)
        let length = Int(h.load(fromByteOffset: LinuxBatchCalls.mmsgLengthOffset, as: CUnsignedInt.self))
        let flags = h.load(fromByteOffset: MemoryLayout<msghdr>.offset(of: \.msg_flags)!, as: CInt.self)
        guard flags & CInt(MSG_TRUNC) == 0, addresses[i].sin_family == sa_family_t(AF_INET) else { return nil }
        let a = addresses[i]
        return (length, Endpoint(address: IPv4Address(rawValue: UInt32(bigEndian: a.sin_addr.s_addr)),
                                 port: UInt16(bigEndian: a.sin_port)))
    }

    @inline(__always) static func socketAddress(_ endpoint: Endpoint) -> sockaddr_in {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = endpoint.port.bigEndian
        sin.sin_addr.s_addr = endpoint.address.rawValue.bigEndian
        return sin
    }
}
