// Batches of UDP datagrams for recvmmsg(2) and sendmmsg(2) (through CShims): one system call moves up to
// `capacity` datagrams, and with UDP GSO/GRO (udp(7) UDP_SEGMENT, UDP_GRO) one pass through the kernel's IP stack
// carries up to 64 of them. `sluice wg up` (Tunnel) and `sluice bridge`'s WireGuard/UDP WAN (BridgeDaemon) both
// use it. Every slot, iovec, address and mmsghdr is allocated once; filling, sending and receiving allocate
// nothing. IPv4 only: every address is a `SocketAddressV4`, the one address type (Wire).

import CShims
import Glibc
import Wire

/// Fixed slots of `slotSize` bytes, each with its own iovec, IPv4 address and mmsghdr.
public final class DatagramBatch {
    /// Slots (datagrams per system call).
    public let capacity: Int
    /// Bytes per slot.
    public let slotSize: Int
    let storage: UnsafeMutableRawPointer
    let iovecs: UnsafeMutablePointer<iovec>
    let addresses: UnsafeMutablePointer<sockaddr_in>
    let headers: UnsafeMutablePointer<sluice_mmsghdr>
    /// One control-message buffer per slot (UDP_SEGMENT when sending, UDP_GRO when receiving).
    let controls: UnsafeMutableRawPointer
    /// mmsghdrs for runs of datagrams sent as one UDP GSO message (sending only).
    let runHeaders: UnsafeMutablePointer<sluice_mmsghdr>
    /// Datagrams filled (sending) or received (receiving).
    public private(set) var count = 0
    /// Send runs of equal-sized datagrams to one endpoint as one UDP_SEGMENT message (turned off if refused).
    public var segmentationOffload = false
    /// Datagrams `send` dropped because the socket's buffer was full (EAGAIN, ENOBUFS), since creation.
    public private(set) var sendBlocked: UInt64 = 0
    /// Datagrams `send` dropped on another error (EHOSTUNREACH, EMSGSIZE, …), since creation.
    public private(set) var sendFailed: UInt64 = 0

    /// `capacity` slots of `slotSize` bytes each.
    public init(capacity: Int, slotSize: Int) {
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * slotSize)
        iovecs = .allocate(capacity: capacity)
        iovecs.initialize(repeating: iovec(), count: capacity)
        addresses = .allocate(capacity: capacity)
        addresses.initialize(repeating: sockaddr_in(), count: capacity)
        headers = .allocate(capacity: capacity)
        headers.initialize(repeating: sluice_mmsghdr(), count: capacity)
        runHeaders = .allocate(capacity: capacity)
        runHeaders.initialize(repeating: sluice_mmsghdr(), count: capacity)
        controls = .allocate(byteCount: capacity * UDPControl.space, alignment: 16)
        controls.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * UDPControl.space)
        for i in 0..<capacity {
            iovecs[i] = iovec(iov_base: storage + i * slotSize, iov_len: slotSize)
            var h = msghdr()
            h.msg_name = UnsafeMutableRawPointer(addresses + i)
            h.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            h.msg_iov = iovecs + i
            h.msg_iovlen = 1
            headers[i].msg_hdr = h
        }
    }

    deinit {
        storage.deallocate(); iovecs.deallocate(); addresses.deallocate(); headers.deallocate()
        runHeaders.deallocate(); controls.deallocate()
    }

    /// The whole of slot `i`.
    @inline(__always) public func slot(_ i: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage + i * slotSize, count: slotSize)
    }

    public var isFull: Bool { count == capacity }
    public var isEmpty: Bool { count == 0 }

    // MARK: Sending

    /// The slot the next datagram is built in.
    public var nextSlot: UnsafeMutableRawBufferPointer { slot(count) }

    /// Marks the next slot as a datagram of `length` bytes (at most `slotSize`) for `destination`.
    @inline(__always) public func commit(length: Int, to destination: SocketAddressV4) {
        iovecs[count].iov_len = min(length, slotSize)
        addresses[count] = Self.socketAddress(destination)
        count += 1
    }

    /// Copies `bytes` (cut to `slotSize`) into the next slot as a datagram for `destination`. The batch must
    /// not be full.
    @inline(__always) public func append(_ bytes: UnsafeRawBufferPointer, to destination: SocketAddressV4) {
        let n = min(bytes.count, slotSize)
        if n > 0 { (storage + count * slotSize).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        commit(length: n, to: destination)
    }

    /// Filled datagram `i` (sending side): the bytes committed to slot `i`.
    public func datagram(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: iovecs[i].iov_base, count: iovecs[i].iov_len)
    }

    /// sendmmsg(2) of the filled slots on `socket`, then empties the batch.
    @discardableResult
    public func send(on socket: UDPSocket) -> Int { send(on: socket.descriptor.rawValue) }

    /// sendmmsg(2) of the filled slots, then empties the batch; datagrams the socket has no room for are dropped
    /// (UDP semantics) and counted in `sendBlocked` / `sendFailed`. Returns how many were sent.
    @discardableResult
    public func send(on socket: CInt) -> Int {
        defer { count = 0 }
        if segmentationOffload, count > 1 {
            let runs = buildRuns()
            if let dropped = sendAll(runHeaders, count: runs, on: socket, segmented: true) { return count - dropped }
            // No UDP GSO on this path: nothing went; send datagram by datagram from now on.
            segmentationOffload = false
        }
        return count - sendAll(headers, count: count, on: socket, segmented: false)!
    }

    /// sendmmsg(2) of `messages[0..<count]` until each went or was refused; a refused message is skipped and its
    /// datagrams counted as dropped (EAGAIN when the send buffer is full, or an error such as EHOSTUNREACH).
    /// Returns how many datagrams were dropped — or, for `segmented` messages, nil (nothing sent) when the kernel
    /// refuses UDP GSO on the first one.
    private func sendAll(_ messages: UnsafeMutablePointer<sluice_mmsghdr>, count: Int, on socket: CInt, segmented: Bool) -> Int? {
        var done = 0
        var dropped = 0
        while done < count {
            let n = sluice_sendmmsg(socket, messages + done, CUnsignedInt(count - done), CInt(MSG_NOSIGNAL))
            if n > 0 { done += Int(n); continue }
            let e = errno
            if n < 0, e == EINTR { continue }
            if segmented, n < 0, done == 0, e == EIO || e == EINVAL || e == ENOPROTOOPT { return nil }
            let datagrams = segmented ? Int(messages[done].msg_hdr.msg_iovlen) : 1
            countDrop(e, datagrams: datagrams)
            dropped += datagrams
            done += 1
        }
        return dropped
    }

    @inline(never)
    private func countDrop(_ e: CInt, datagrams: Int) {
        if e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS { sendBlocked &+= UInt64(datagrams) } else { sendFailed &+= UInt64(datagrams) }
    }

    /// UDP GSO (udp(7) UDP_SEGMENT): each run of datagrams to one endpoint, all of one size but the last which may
    /// be shorter, becomes one message in `runHeaders` whose iovecs are the run's slots; the kernel cuts it into
    /// datagrams after the route lookup, so one pass through the IP stack carries up to 64 datagrams. Returns the
    /// number of runs.
    private func buildRuns() -> Int {
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
            runHeaders[runs].msg_hdr = h
            runs += 1
            i = j
        }
        return runs
    }

    // MARK: Receiving

    /// recvmmsg(2) on `socket` into every slot: how many datagrams arrived (0 when none was waiting).
    public func receive(on socket: UDPSocket) throws(Errno) -> Int { try receive(on: socket.descriptor.rawValue) }

    /// recvmmsg(2) into every slot: how many datagrams arrived (0 when none was waiting).
    public func receive(on socket: CInt) throws(Errno) -> Int {
        for i in 0..<capacity {
            iovecs[i].iov_len = slotSize
            var h = msghdr()
            h.msg_name = UnsafeMutableRawPointer(addresses + i)
            h.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            h.msg_iov = iovecs + i
            h.msg_iovlen = 1
            h.msg_control = controls + i * UDPControl.space
            h.msg_controllen = UDPControl.space
            headers[i].msg_hdr = h
        }
        while true {
            let n = sluice_recvmmsg(socket, headers, CUnsignedInt(capacity), CInt(MSG_DONTWAIT))
            if n >= 0 { count = Int(n); return count }
            let e = errno
            if e == EINTR { continue }
            count = 0
            if e == EAGAIN || e == EWOULDBLOCK { return 0 }
            throw Errno(rawValue: e)
        }
    }

    /// Received message `i`: its length, source, and the size of the datagrams UDP GRO joined
    /// into it (its whole length when it is one datagram); nil if it was truncated (longer than a slot) or not IPv4.
    @inline(__always)
    func received(_ i: Int) -> (length: Int, source: SocketAddressV4, segmentSize: Int)? {
        let h = headers[i].msg_hdr
        let length = Int(headers[i].msg_len)
        guard h.msg_flags & CInt(MSG_TRUNC) == 0, addresses[i].sin_family == sa_family_t(AF_INET) else { return nil }
        let a = addresses[i]
        var segment = length
        if h.msg_controllen > 0, let size = UDPControl.readSegmentSize(from: controls + i * UDPControl.space, length: h.msg_controllen),
           size > 0 { segment = size }
        let source = SocketAddressV4(address: IPv4Address(rawValue: UInt32(bigEndian: a.sin_addr.s_addr)),
                                     port: UInt16(bigEndian: a.sin_port))
        return (length, source, min(segment, length))
    }

    /// Calls `body` with each datagram of received message `i` and its source: UDP GRO may have
    /// joined several datagrams of one size (the last may be shorter). Returns false, calling nothing, when the
    /// message was truncated or not IPv4.
    @inline(__always)
    public func forEachDatagram(inMessage i: Int, _ body: (UnsafeMutableRawBufferPointer, SocketAddressV4) -> Void) -> Bool {
        guard let (length, source, segment) = received(i) else { return false }
        let slot = slot(i)
        var offset = 0
        while offset < length {
            let end = min(offset + max(segment, 1), length)
            body(UnsafeMutableRawBufferPointer(rebasing: slot[offset..<end]), source)
            offset = end
        }
        return true
    }

    @inline(__always) static func socketAddress(_ destination: SocketAddressV4) -> sockaddr_in {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = destination.port.bigEndian
        sin.sin_addr.s_addr = destination.address.rawValue.bigEndian
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

}

extension UDPSocket {
    /// Turns UDP GRO on (udp(7)): received datagrams of one flow may arrive joined, with their size attached
    /// (`DatagramBatch.received` reports it). False when the kernel refuses.
    @discardableResult
    public func enableReceiveOffload() -> Bool {
        var on: CInt = 1
        return setsockopt(descriptor.rawValue, UDPControl.solUDP, UDPControl.groOption, &on,
                          socklen_t(MemoryLayout<CInt>.size)) == 0
    }
}
