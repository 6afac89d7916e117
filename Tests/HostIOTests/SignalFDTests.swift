import Glibc
import Testing
@testable import HostIO

@Suite struct SignalFDTests {
    @Test func blockedSignalArrivesOnTheDescriptorAndTheMaskIsRestored() throws {
        // The test runner's thread may already block SIGUSR2: unblock it here, put it back at the end.
        var usr2 = sigset_t()
        sigemptyset(&usr2)
        sigaddset(&usr2, SIGUSR2)
        var original = sigset_t()
        #expect(pthread_sigmask(SIG_UNBLOCK, &usr2, &original) == 0)
        defer { pthread_sigmask(SIG_SETMASK, &original, nil) }
        let signals = try SignalFD([SIGUSR2])
        #expect(signals.next() == nil)             // nothing pending
        #expect(raise(SIGUSR2) == 0)               // blocked on this thread: queued to the descriptor
        #expect(signals.next() == SIGUSR2)
        #expect(signals.next() == nil)
        signals.close()
        #expect(signals.next() == nil)             // closed: nothing, no error
        var after = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &after)
        #expect(sigismember(&after, SIGUSR2) == 0)
    }
}
