// Signals as a readable descriptor (signalfd(2)): the listed signals are blocked for the calling
// thread (and the threads it starts later) and queued to the descriptor instead, so a reactor
// handles SIGINT, SIGTERM or SIGUSR1 on its own thread, between packets, with no
// async-signal-safety concerns. `sluice bridge` and `sluice wg up` both use it.

import CShims
import Glibc

/// A signalfd for a set of signals, which stay blocked while it is open.
public final class SignalFD {
    /// The non-blocking, close-on-exec descriptor (register it with a reactor for read interest).
    public let descriptor: FileDescriptor
    private var previous = sigset_t()
    private var isClosed = false

    /// Blocks `signals` in the calling thread (and threads it creates later) and opens a signalfd
    /// for them. Create it before starting helper threads, or they may receive the signals.
    public init(_ signals: [CInt]) throws(Errno) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        let rc = pthread_sigmask(SIG_BLOCK, &set, &previous)
        guard rc == 0 else { throw Errno(rawValue: rc) }
        let fd = sluice_signalfd(&set)
        guard fd >= 0 else {
            let error = Errno.current
            _ = pthread_sigmask(SIG_SETMASK, &previous, nil)
            throw error
        }
        descriptor = FileDescriptor(adopting: fd)
    }

    /// The next pending signal number, or nil when none is pending.
    public func next() -> CInt? {
        guard descriptor.isOpen else { return nil }
        let signal = sluice_signalfd_read(descriptor.rawValue)
        return signal > 0 ? signal : nil
    }

    /// Closes the descriptor and restores the calling thread's previous signal mask (call it on
    /// the thread that created this). Dropped without `close()`, the descriptor is closed but the
    /// signals stay blocked.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        try? descriptor.close()
        _ = pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}
