// Ctrl-C (or SIGTERM, SIGHUP) during a real run must not leave namespaces, TAP devices or QEMU
// guests behind. While a guard is held, those signals only set a flag; the run loop sees it,
// tears everything down, and `finish()` then restores the previous handlers and raises the
// signal again, so the process still ends the way the user asked — after cleaning up.
import Foundation
import Synchronization

/// The signal caught while a guard was held (0: none). A global so the C handler can reach it.
let caughtTerminationSignal = Atomic<Int32>(0)

/// The handlers in place before the first guard, and how many guards are held (runs in parallel
/// threads — tests — share one installation; the last one out restores the handlers).
private let installation = Mutex<(depth: Int, previous: [(Int32, sigaction)])>((0, []))

/// Holds SIGINT, SIGTERM and SIGHUP for the length of a real run.
final class InterruptGuard {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    private var previousMask = sigset_t()
    private var finished = false

    init() {
        installation.withLock { state in
            state.depth += 1
            guard state.depth == 1 else { return }
            caughtTerminationSignal.store(0, ordering: .relaxed)
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                // Async-signal-safe: one atomic store.
                caughtTerminationSignal.store(signal, ordering: .relaxed)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            state.previous = []
            for s in Self.signals {
                var old = sigaction()
                sigaction(s, nil, &old)
                // A signal ignored when we started (SIGINT in a background job) stays ignored.
                if unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
                sigaction(s, &action, nil)
                state.previous.append((s, old))
            }
        }
        // This thread must be able to take them (a bridge daemon may have blocked them here).
        var set = Self.signalSet()
        pthread_sigmask(SIG_UNBLOCK, &set, &previousMask)
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        return set
    }

    /// Unblocks the signals on this thread again (after something blocked them, as BridgeDaemon
    /// does for its signalfd); the handlers stay ours.
    func takeSignals() {
        var set = Self.signalSet()
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal caught so far, if any.
    var caught: Int32? {
        let s = caughtTerminationSignal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Restores this thread's mask and, when it is the last guard, the previous handlers; if a
    /// signal was caught, raises it again now that the run has cleaned up (which normally ends
    /// the process).
    func finish() {
        guard !finished else { return }
        finished = true
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        let last = installation.withLock { state -> Bool in
            state.depth -= 1
            guard state.depth == 0 else { return false }
            for (s, old) in state.previous {
                var o = old
                sigaction(s, &o, nil)
            }
            return true
        }
        if last, let s = caught {
            caughtTerminationSignal.store(0, ordering: .relaxed)
            var set = sigset_t()
            sigemptyset(&set); sigaddset(&set, s)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            raise(s)
        }
    }

    deinit { finish() }
}
