// glibc calls Swift's Glibc module does not import (they hide behind _GNU_SOURCE or live in headers outside its
// umbrella): recvmmsg/sendmmsg for datagram batches and signalfd. Bound by symbol name, as HostIO's LinuxCalls
// binds epoll. `struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; }` is laid out by hand.

import Glibc

enum LinuxBatchCalls {
    typealias MultipleMessages = @convention(c) (CInt, UnsafeMutableRawPointer?, CUnsignedInt, CInt, UnsafeMutableRawPointer?) -> CInt
    typealias SignalFD = @convention(c) (CInt, UnsafePointer<sigset_t>?, CInt) -> CInt

    nonisolated(unsafe) static let recvmmsg: MultipleMessages = bind("recvmmsg")
    nonisolated(unsafe) static let sendmmsg: MultipleMessages = bind("sendmmsg")
    nonisolated(unsafe) static let signalfd: SignalFD = bind("signalfd")

    private static func bind<F>(_ name: String) -> F {
        guard let symbol = dlsym(nil, name) else { fatalError("the C library has no \(name)") }
        return unsafeBitCast(symbol, to: F.self)
    }

    /// sizeof(struct mmsghdr): the msghdr, the 32-bit length, padded to the msghdr's alignment.
    static let mmsghdrStride: Int = {
        let end = MemoryLayout<msghdr>.size + MemoryLayout<CUnsignedInt>.size
        let align = MemoryLayout<msghdr>.alignment
        return (end + align - 1) / align * align
    }()
    /// offsetof(struct mmsghdr, msg_len).
    static let mmsgLengthOffset = MemoryLayout<msghdr>.size

    /// SFD_NONBLOCK | SFD_CLOEXEC (they are O_NONBLOCK and O_CLOEXEC).
    static let signalFDFlags: CInt = O_NONBLOCK | O_CLOEXEC
    /// sizeof(struct signalfd_siginfo); ssi_signo is its first field.
    static let signalInfoSize = 128
}
