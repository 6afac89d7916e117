// glibc functions that Swift's Glibc module does not import: sys/epoll.h is not in its umbrella
// header, and accept4 hides behind _GNU_SOURCE. They are bound by symbol name to C function
// pointers (`@convention(c)`, the C calling convention), and epoll's packed `struct epoll_event`
// is laid out by hand. Constants are the kernel's ABI (include/uapi/linux/eventpoll.h).
//
// (Moving these few declarations into CShims would make this file unnecessary.)

import Glibc

enum LinuxCalls {
    typealias EpollCreate1 = @convention(c) (CInt) -> CInt
    typealias EpollControl = @convention(c) (CInt, CInt, CInt, UnsafeMutableRawPointer?) -> CInt
    typealias EpollWait = @convention(c) (CInt, UnsafeMutableRawPointer?, CInt, CInt) -> CInt
    typealias Accept4 = @convention(c) (CInt, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, CInt) -> CInt

    nonisolated(unsafe) static let epollCreate1: EpollCreate1 = bind("epoll_create1")
    nonisolated(unsafe) static let epollControl: EpollControl = bind("epoll_ctl")
    nonisolated(unsafe) static let epollWait: EpollWait = bind("epoll_wait")
    nonisolated(unsafe) static let accept4: Accept4 = bind("accept4")

    private static func bind<F>(_ name: String) -> F {
        guard let symbol = dlsym(nil, name) else { fatalError("the C library has no \(name)") }
        return unsafeBitCast(symbol, to: F.self)
    }

    // epoll_ctl operations and event bits.
    static let epollControlAdd: CInt = 1
    static let epollControlDelete: CInt = 2
    static let epollControlModify: CInt = 3
    static let epollIn: UInt32 = 0x001
    static let epollOut: UInt32 = 0x004
    static let epollErr: UInt32 = 0x008
    static let epollHup: UInt32 = 0x010
    static let epollRdHup: UInt32 = 0x2000
    /// EPOLL_CLOEXEC is O_CLOEXEC.
    static let epollCloexec: CInt = O_CLOEXEC

    /// `struct epoll_event { uint32_t events; epoll_data_t data; }` — packed on x86-64 (12 bytes),
    /// naturally aligned elsewhere (16 bytes).
    #if arch(x86_64)
    static let epollEventSize = 12
    static let epollEventDataOffset = 4
    #else
    static let epollEventSize = 16
    static let epollEventDataOffset = 8
    #endif

    static func storeEpollEvent(_ p: UnsafeMutableRawPointer, events: UInt32, data: UInt64) {
        p.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: data, toByteOffset: epollEventDataOffset, as: UInt64.self)
    }

    static func loadEpollEvent(_ p: UnsafeRawPointer) -> (events: UInt32, data: UInt64) {
        (p.loadUnaligned(fromByteOffset: 0, as: UInt32.self),
         p.loadUnaligned(fromByteOffset: epollEventDataOffset, as: UInt64.self))
    }
}
