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
    /// One control-message buffer per slot (UDP_SEGMENT when sending, UDP_GRO when receiving).
    let controls: UnsafeMutableRawPointer
    /// mmsghdrs for runs of datagrams sent as one UDP GSO message (sending only).
    let runHeaders: UnsafeMutableRawPointer
    /// Datagrams filled (sending) or received (receiving).
    private(set) var count = 0
    /// Send runs of equal-sized datagrams to one endpoint as one UDP_SEGMENT message (turned off if refused).
    var segmentationOffload = false

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
        runHeaders = .allocate(byteCount: capacity * LinuxBatchCalls.mmsghdrStride, alignment: 16)
        runHeaders.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * LinuxBatchCalls.mmsghdrStride)
        controls = .allocate(byteCount: capacity * UDPControl.space, alignment: 16)
        controls.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * UDPControl.space)
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
        runHeaders.deallocate(); controls.deallocate()
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
    @inline(__always) func commit(length: Int, to endpoint: SocketAddressV4) {
        iovecs[count].iov_len = length
        addresses[count] = Self.socketAddress(endpoint)
        count += 1
    }

    /// sendmmsg(2) of the filled slots; datagrams the socket has no room for are dropped (UDP semantics).
    /// Returns how many were sent.
    @discardableResult
    func send(on socket: CInt) -> Int {
        if segmentationOffload, count > 1 { return sendSegmented(on: socket) }
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

    /// UDP GSO (udp(7) UDP_SEGMENT): each run of datagrams to one endpoint, all of one size but the last which may
    /// be shorter, goes as one message whose iovecs are the run's slots; the kernel cuts it into datagrams after
    /// the route lookup, so one pass through the IP stack carries up to 64 datagrams.
    func sendSegmented(on socket: CInt) -> Int {
        var runs = 0
        var i = 0
        while i < count {
            let size = iovecs[i].iov_len
            let target = addresses[i]
            var j = i + 1
            var total = size
            while j < count, j - i < UDPControl.maximumSegments, addresses[j].sin_addr.s_addr == target.sin_addr.s_addr,
                  addresses[j].sin_port == target.sin_port, iovecs[j].iov_len <= size, total + iovecs[j].iov_len <= UDPControl.maximumPayload {
                total += iovecs[j].iov_len
                j += 1
                if iovecs[j - 1].iov_len < size { break }
            }
            var h = msghdr()
            h.msg_name = UnsafeMutableRawPointer(addresses + i)
            h.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            h.msg_iov = iovecs + i
            h.msg_iovlen = j - i
            if j - i > 1 {
                let control = controls + runs * UDPControl.space
                UDPControl.writeSegmentSize(UInt16(size), to: control)
                h.msg_control = control
                h.msg_controllen = UDPControl.space
            }
            (runHeaders + runs * LinuxBatchCalls.mmsghdrStride).storeBytes(of: h, as: msghdr.self)
            runs += 1
            i = j
        }
        var sent = 0
        while sent < runs {
            let n = LinuxBatchCalls.sendmmsg(socket, runHeaders + sent * LinuxBatchCalls.mmsghdrStride,
                                             CUnsignedInt(runs - sent), CInt(MSG_NOSIGNAL), nil)
            if n > 0 { sent += Int(n); continue }
            let e = errno
            if n < 0, e == EINTR { continue }
            if n < 0, e == EIO || e == EINVAL || e == ENOPROTOOPT {
                // No UDP GSO on this path: send this batch datagram by datagram from now on.
                segmentationOffload = false
                return send(on: socket)
            }
            sent += 1
        }
        let delivered = count
        count = 0
        return delivered
    }

    // MARK: Receiving

    /// recvmmsg(2) into every slot: how many datagrams arrived (0 when none was waiting).
    func receive(on socket: CInt) throws(Errno) -> Int {
        for i in 0..<capacity {
            iovecs[i].iov_len = slotSize
            var h = msghdr()
            h.msg_name = UnsafeMutableRawPointer(addresses + i)
            h.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            h.msg_iov = iovecs + i
            h.msg_iovlen = 1
            h.msg_control = controls + i * UDPControl.space
            h.msg_controllen = UDPControl.space
            header(i).storeBytes(of: h, as: msghdr.self)
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

    /// Received message `i`: its length, source, and the size of the datagrams UDP GRO joined into it (its whole
    /// length when it is one datagram); nil if it was truncated (longer than a slot) or not IPv4.
    @inline(__always) func received(_ i: Int) -> (length: Int, source: SocketAddressV4, segmentSize: Int)? {
        let h = header(i).load(as: msghdr.self)
        let length = Int(header(i).load(fromByteOffset: LinuxBatchCalls.mmsgLengthOffset, as: CUnsignedInt.self))
        guard h.msg_flags & CInt(MSG_TRUNC) == 0, addresses[i].sin_family == sa_family_t(AF_INET) else { return nil }
        let a = addresses[i]
        var segment = length
        if h.msg_controllen > 0, let size = UDPControl.readSegmentSize(from: controls + i * UDPControl.space, length: h.msg_controllen),
           size > 0 { segment = size }
        return (length, SocketAddressV4(address: IPv4Address(rawValue: UInt32(bigEndian: a.sin_addr.s_addr)),
                                 port: UInt16(bigEndian: a.sin_port)), segment)
    }

    @inline(__always) static func socketAddress(_ endpoint: SocketAddressV4) -> sockaddr_in {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = endpoint.port.bigEndian
        sin.sin_addr.s_addr = endpoint.address.rawValue.bigEndian
        return sin
    }
}

/// The UDP_SEGMENT and UDP_GRO control messages (udp(7)): a struct cmsghdr (size_t len, int level, int type) and
/// the value — a 16-bit segment size when sending, an int when receiving — laid out as CMSG_LEN/CMSG_SPACE would.
enum UDPControl {
    static let solUDP: CInt = 17          // SOL_UDP (IPPROTO_UDP)
    static let segmentOption: CInt = 103  // UDP_SEGMENT (linux/udp.h)
    static let groOption: CInt = 104      // UDP_GRO (linux/udp.h)
    static let headerSize = MemoryLayout<Int>.size + 2 * MemoryLayout<CInt>.size
    /// CMSG_SPACE(sizeof(int)), enough for either value.
    static let space = (headerSize + MemoryLayout<CInt>.size + 7) & ~7
    /// UDP_MAX_SEGMENTS (linux/udp.h).
    static let maximumSegments = 64
    /// The largest UDP payload of one GSO message.
    static let maximumPayload = 65507

    static func writeSegmentSize(_ size: UInt16, to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: headerSize + 2, as: Int.self)
        p.storeBytes(of: solUDP, toByteOffset: MemoryLayout<Int>.size, as: CInt.self)
        p.storeBytes(of: segmentOption, toByteOffset: MemoryLayout<Int>.size + 4, as: CInt.self)
        p.storeBytes(of: size, toByteOffset: headerSize, as: UInt16.self)
    }

    static func readSegmentSize(from p: UnsafeMutableRawPointer, length: Int) -> Int? {
        guard length >= headerSize + 4 else { return nil }
        guard p.load(fromByteOffset: MemoryLayout<Int>.size, as: CInt.self) == solUDP,
              p.load(fromByteOffset: MemoryLayout<Int>.size + 4, as: CInt.self) == groOption else { return nil }
        return Int(p.load(fromByteOffset: headerSize, as: CInt.self))
    }

    /// Turns UDP GRO on for `socket`: received datagrams of one flow may arrive joined, with their size attached.
    static func enableReceiveOffload(_ socket: CInt) -> Bool {
        var on: CInt = 1
        return setsockopt(socket, solUDP, groOption, &on, socklen_t(MemoryLayout<CInt>.size)) == 0
    }
}
