// A serial console's output as lines, shared between the thread that reads QEMU's output and the
// threads that wait for something to appear (a test, the lab waiting for SLUICE-DHCP-OK).
import Foundation

/// The lines a console printed, in order; callers can wait for a line or a guest marker.
public final class ConsoleTranscript: @unchecked Sendable {
    private let condition = NSCondition()
    private var complete: [String] = []
    private var partial: [UInt8] = []
    private var finished = false
    private let onLine: (@Sendable (String) -> Void)?

    /// `onLine` sees every complete line as it arrives (e.g. to echo the console with a prefix).
    public init(onLine: (@Sendable (String) -> Void)? = nil) { self.onLine = onLine }

    /// Adds console bytes. Lines end at "\n"; "\r" and terminal escape sequences are dropped.
    public func append(_ bytes: some Sequence<UInt8>) {
        var newLines: [String] = []
        condition.lock()
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                newLines.append(Self.clean(partial)); partial.removeAll(keepingCapacity: true)
            } else {
                partial.append(b)
            }
        }
        complete += newLines
        if !newLines.isEmpty { condition.broadcast() }
        condition.unlock()
        if let onLine { newLines.forEach(onLine) }
    }

    /// The output ended (QEMU exited); a last unterminated line counts as a line.
    public func finish() {
        condition.lock()
        var last: String?
        if !partial.isEmpty { last = Self.clean(partial); complete.append(last!); partial.removeAll() }
        finished = true
        condition.broadcast()
        condition.unlock()
        if let last, let onLine { onLine(last) }
    }

    /// Every complete line so far.
    public var lines: [String] { condition.lock(); defer { condition.unlock() }; return complete }

    /// Whether the output has ended.
    public var isFinished: Bool { condition.lock(); defer { condition.unlock() }; return finished }

    /// The guest markers so far, in order.
    public var markers: [GuestMarker] { lines.compactMap(GuestMarker.init(line:)) }

    /// Waits until a line satisfies `predicate` and returns it; nil when the output ends or
    /// `timeout` passes first. Lines already received count.
    public func waitForLine(timeout: Duration, where predicate: (String) -> Bool) -> String? {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18)
        condition.lock(); defer { condition.unlock() }
        var checked = 0
        while true {
            while checked < complete.count {
                if predicate(complete[checked]) { return complete[checked] }
                checked += 1
            }
            if finished { return nil }
            if !condition.wait(until: deadline) && checked == complete.count { return nil }
        }
    }

    /// Waits for a guest marker that satisfies `predicate`; nil when the output ends or `timeout` passes first.
    public func waitForMarker(timeout: Duration, where predicate: (GuestMarker) -> Bool) -> GuestMarker? {
        waitForLine(timeout: timeout) { GuestMarker(line: $0).map(predicate) ?? false }.flatMap(GuestMarker.init(line:))
    }

    /// Bytes of one line as text, without "\r" and ANSI/VT100 escape sequences (the firmware
    /// clears the screen before the kernel starts).
    static func clean(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x1b {                                  // ESC
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "[") {   // CSI: parameters, then a final byte 0x40–0x7e
                    i += 1
                    while i < bytes.count, !(0x40...0x7e).contains(bytes[i]) { i += 1 }
                }
                i += 1                                       // the final byte, or ESC's single-character command
                continue
            }
            if b != UInt8(ascii: "\r") { out.append(b) }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
