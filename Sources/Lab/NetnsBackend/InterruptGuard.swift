// Ctrl-C (or SIGTERM, SIGHUP) during a real run must not leave namespaces, TAP devices or QEMU
// guests behind. While a guard is held, those signals only set a flag; the run loop sees it,
// tears everything down, and `finish()` then restores the previous handlers and raises the
// signal again, so the process still ends the way the user asked — after cleaning up.
import Foundation
import Synchronization

/// The signal caught while a guard was held (0: none). A global so the C handler can reach it.
let caughtTerminationSignal = Atomic<Int32>(0)

/// Holds SIGINT, SIGTERM and SIGHUP for the length of a real run.
final class InterruptGuard {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    private var previous: [(Int32, sigaction)] = []
    private var previousMask = sigset_t()
    private var finished = false

    init() {
        caughtTerminationSignal.store(0, ordering: .relaxed)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            // Async-signal-safe: one atomic store.
            caughtTerminationSignal.store(signal, ordering: .relaxed)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        for s in Self.signals {
            var old = sigaction()
            sigaction(s, &action, &old)
            previous.append((s, old))
        }
        // This thread must be able to take them (a bridge daemon may have blocked them here).
        var set = sigset_t()
        sigemptyset(&set)
        for s in Self.signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, &previousMask)
    }

    /// Unblocks the signals on this thread again (after something blocked them, as BridgeDaemon
    /// does for its signalfd); the handlers stay ours.
    func takeSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in Self.signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal caught so far, if any.
    var caught: Int32? {
        let s = caughtTerminationSignal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Restores the previous handlers and mask; if a signal was caught, raises it again now that
    /// the run has cleaned up (which normally ends the process).
    func finish() {
        guard !finished else { return }
        finished = true
        for (s, old) in previous {
            var o = old
            sigaction(s, &o, nil)
        }
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        if let s = caught {
            caughtTerminationSignal.store(0, ordering: .relaxed)
            var set = sigset_t()
            sigemptyset(&set); sigaddset(&set, s)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            raise(s)
        }
    }

    deinit { finish() }
}
