// Signals as a readable descriptor (signalfd(2)): the listed signals are blocked for the process and queued to the
// fd instead, so the reactor handles SIGINT, SIGTERM and SIGUSR1 on its own thread, between packets, with no
// async-signal-safety concerns.

import Glibc
import HostIO

/// A signalfd for a set of signals, which are blocked while it exists.
final class SignalSource {
    let descriptor: FileDescriptor
    private var previous = sigset_t()

    /// Blocks `signals` in the calling thread (and threads it creates later) and opens a signalfd for them.
    init(_ signals: [CInt]) throws(Errno) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        let rc = pthread_sigmask(SIG_BLOCK, &set, &previous)
        guard rc == 0 else { throw Errno(rawValue: rc) }
        let fd = LinuxBatchCalls.signalfd(-1, &set, LinuxBatchCalls.signalFDFlags)
        guard fd >= 0 else { throw Errno.current }
        descriptor = FileDescriptor(adopting: fd)
    }

    /// The next pending signal number, or nil when none is pending.
    func next() -> CInt? {
        var info = [UInt8](repeating: 0, count: LinuxBatchCalls.signalInfoSize)
        let n = info.withUnsafeMutableBytes { Glibc.read(descriptor.rawValue, $0.baseAddress, $0.count) }
        guard n == LinuxBatchCalls.signalInfoSize else { return nil }
        return info.withUnsafeBytes { CInt(bitPattern: $0.load(as: UInt32.self)) }
    }

    /// Closes the fd and restores the signal mask.
    func close() {
        try? descriptor.close()
        _ = pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}
