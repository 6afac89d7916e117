import Basics
import Glibc
import Testing
@testable import HostIO

@Suite struct FileDescriptorTests {
    @Test func closesExactlyOnce() throws {
        let first = try EventFD()
        let number = first.descriptor.rawValue
        try first.descriptor.close()
        #expect(!first.descriptor.isOpen)
        // The kernel hands the lowest free number out again: the new eventfd most likely reuses
        // `number`. Closing the old object again (explicitly, then by deinit) must not touch it.
        let second = try EventFD()
        try first.descriptor.close()
        _ = consume first
        #expect(fcntl(second.descriptor.rawValue, F_GETFD) != -1, "the second descriptor was closed by the first's owner")
        if second.descriptor.rawValue != number { print("note: fd \(number) was not reused; the check was weaker") }
    }

    @Test func releaseHandsOwnershipOver() throws {
        let event = try EventFD()
        let raw = event.descriptor.release()
        #expect(event.descriptor.rawValue == -1)
        #expect(fcntl(raw, F_GETFD) != -1)
        #expect(close(raw) == 0)
    }

    @Test func wouldBlockIsNilNotAnError() throws {
        var fds: [CInt] = [-1, -1]
        #expect(pipe(&fds) == 0)
        let reader = FileDescriptor(adopting: fds[0]), writer = FileDescriptor(adopting: fds[1])
        try reader.setNonBlocking()
        var buffer = [UInt8](repeating: 0, count: 16)
        let empty = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        #expect(empty == nil)
        let written = try [UInt8]([1, 2, 3]).withUnsafeBytes { try writer.write($0) }
        #expect(written == 3)
        let got = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        #expect(got == 3)
        #expect(buffer.prefix(3) == [1, 2, 3])
    }

    @Test func errorsAreErrnoValues() throws {
        let fd = FileDescriptor(adopting: open("/dev/null", O_RDONLY))
        let buffer = [UInt8](repeating: 0, count: 4)
        #expect(throws: Errno.badFileDescriptor) {
            _ = try buffer.withUnsafeBytes { try fd.write($0) }
        }
        #expect(Errno.wouldBlock.description.contains("errno \(EAGAIN)"))
    }

    @Test func eventFDCounts() throws {
        let event = try EventFD()
        #expect(try event.drain() == 0)
        try event.signal(2)
        try event.signal(3)
        #expect(try event.drain() == 5)
        #expect(try event.drain() == 0)
    }

    @Test func monotonicClockAdvances() {
        let clock = MonotonicClock()
        let a = clock.now()
        usleep(2_000)
        let b = clock.now()
        #expect(b - a >= .milliseconds(2))
        #expect(b - a < .seconds(5))
    }
}
