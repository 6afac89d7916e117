// eventfd(2): a 64-bit counter the kernel can wait on — vhost-user kick and call notifiers, and
// the reactor's wake-up. Writing adds to the counter and makes it readable; reading returns the
// counter and resets it.

import CShims

/// An eventfd this object owns.
public final class EventFD {
    /// The descriptor (register it with a reactor for read interest).
    public let descriptor: FileDescriptor

    /// A new eventfd, close-on-exec, non-blocking unless told otherwise.
    public init(initialValue: UInt32 = 0, nonBlocking: Bool = true, semaphore: Bool = false) throws(Errno) {
        var flags = SLUICE_EFD_CLOEXEC
        if nonBlocking { flags |= SLUICE_EFD_NONBLOCK }
        if semaphore { flags |= SLUICE_EFD_SEMAPHORE }
        let fd = try SystemCall.run { sluice_eventfd(initialValue, flags) }
        descriptor = FileDescriptor(adopting: fd)
    }

    /// Wraps an eventfd received from elsewhere (a vhost-user front end's kick or call fd).
    public init(adopting descriptor: FileDescriptor) {
        self.descriptor = descriptor
    }

    /// Adds `value` to the counter (wakes whoever waits on it). False when the counter would
    /// overflow on a non-blocking fd — the reader has not caught up, and is already woken.
    @discardableResult
    public func signal(_ value: UInt64 = 1) throws(Errno) -> Bool {
        try EventFD.signal(descriptor, value)
    }

    /// Reads and resets the counter; 0 when it was already 0 (non-blocking).
    @discardableResult
    public func drain() throws(Errno) -> UInt64 {
        try EventFD.drain(descriptor)
    }

    /// `signal` on any descriptor that is an eventfd.
    @discardableResult
    public static func signal(_ descriptor: FileDescriptor, _ value: UInt64 = 1) throws(Errno) -> Bool {
        let fd = descriptor.rawValue
        return try SystemCall.nonBlocking { sluice_eventfd_write(fd, value) } != nil
    }

    /// `drain` on any descriptor that is a non-blocking eventfd.
    @discardableResult
    public static func drain(_ descriptor: FileDescriptor) throws(Errno) -> UInt64 {
        let fd = descriptor.rawValue
        var value: UInt64 = 0
        guard try SystemCall.nonBlocking({ sluice_eventfd_read(fd, &value) }) != nil else { return 0 }
        return value
    }
}
