// TCP options, interpreted (RFC 9293 §3.1 "Options", §3.2 "Specific Option Definitions"):
// End of Option List (kind 0), No-Operation (1), Maximum Segment Size (2, RFC 9293 §3.7.1),
// Window Scale (3, RFC 7323 §2), SACK-Permitted (4) and SACK (5, RFC 2018 §2–3), Timestamps
// (8, RFC 7323 §3). Parsed from and emitted into the raw `HeaderOptions` a `TCPHeader` carries,
// inline: no heap allocation either way.
//
// RFC 9293 §3.1: "A TCP implementation MUST be able to receive a TCP Option in any segment" and
// "MUST ignore without error any TCP Option it does not implement, assuming that the option has
// a length field". An option whose length runs past the end, or a known option with the wrong
// length, is rejected (RFC 9293 §3.1 and RFC 7323 §2.2/§3.2 give fixed lengths).

/// TCP option kinds (IANA "TCP Option Kind Numbers").
public enum TCPOptionKind {
    public static let endOfOptionList: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let maximumSegmentSize: UInt8 = 2
    public static let windowScale: UInt8 = 3
    public static let sackPermitted: UInt8 = 4
    public static let sack: UInt8 = 5
    public static let timestamps: UInt8 = 8
}

/// One SACK block (RFC 2018 §3): "Left Edge of Block" is the first sequence number of the block,
/// "Right Edge of Block" the sequence number immediately following its last byte.
public struct TCPSACKBlock: Hashable, Sendable {
    public var left: UInt32
    public var right: UInt32
    @inlinable public init(left: UInt32, right: UInt32) { self.left = left; self.right = right }
}

/// The options of one segment, as values. Unknown options are skipped on parse.
public struct TCPOptions: Hashable, Sendable {
    /// RFC 9293 §3.7.1; only in SYN segments.
    public var maximumSegmentSize: UInt16?
    /// RFC 7323 §2: the shift count, only in SYN segments (values above 14 are clamped by users).
    public var windowScale: UInt8?
    /// RFC 2018 §2; only in SYN segments.
    public var sackPermitted = false
    /// RFC 7323 §3: TSval and TSecr.
    public var timestamp: (value: UInt32, echoReply: UInt32)? {
        get { hasTimestamp ? (timestampValue, timestampEchoReply) : nil }
        set {
            hasTimestamp = newValue != nil
            timestampValue = newValue?.value ?? 0; timestampEchoReply = newValue?.echoReply ?? 0
        }
    }
    @usableFromInline var hasTimestamp = false
    @usableFromInline var timestampValue: UInt32 = 0
    @usableFromInline var timestampEchoReply: UInt32 = 0
    /// SACK blocks (RFC 2018 §3), at most `maximumSACKBlocks`, stored inline.
    public private(set) var sackBlockCount = 0
    @usableFromInline var sackStorage: (TCPSACKBlock, TCPSACKBlock, TCPSACKBlock, TCPSACKBlock) =
        (TCPSACKBlock(left: 0, right: 0), TCPSACKBlock(left: 0, right: 0),
         TCPSACKBlock(left: 0, right: 0), TCPSACKBlock(left: 0, right: 0))

    /// RFC 2018 §3: "at most 4 SACK blocks" fit in 40 option bytes.
    public static let maximumSACKBlocks = 4

    @inlinable public init() {}

    /// The SACK blocks, in order (allocates; for tests and diagnostics).
    public var sackBlocks: [TCPSACKBlock] { (0..<sackBlockCount).map { sackBlock($0) } }

    /// SACK block `i` (< `sackBlockCount`).
    @inlinable public func sackBlock(_ i: Int) -> TCPSACKBlock {
        switch i {
        case 0: sackStorage.0
        case 1: sackStorage.1
        case 2: sackStorage.2
        default: sackStorage.3
        }
    }

    /// Appends a SACK block; false (and nothing kept) when four are held.
    @discardableResult
    public mutating func appendSACKBlock(_ block: TCPSACKBlock) -> Bool {
        switch sackBlockCount {
        case 0: sackStorage.0 = block
        case 1: sackStorage.1 = block
        case 2: sackStorage.2 = block
        case 3: sackStorage.3 = block
        default: return false
        }
        sackBlockCount += 1
        return true
    }

    /// Removes every SACK block.
    public mutating func removeSACKBlocks() { sackBlockCount = 0 }

    public static func == (a: TCPOptions, b: TCPOptions) -> Bool {
        a.maximumSegmentSize == b.maximumSegmentSize && a.windowScale == b.windowScale
            && a.sackPermitted == b.sackPermitted && a.hasTimestamp == b.hasTimestamp
            && a.timestampValue == b.timestampValue && a.timestampEchoReply == b.timestampEchoReply
            && a.sackBlocks == b.sackBlocks
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(maximumSegmentSize); hasher.combine(windowScale); hasher.combine(sackPermitted)
        hasher.combine(hasTimestamp); hasher.combine(timestampValue); hasher.combine(timestampEchoReply)
        hasher.combine(sackBlocks)
    }

    /// The bytes `emit` writes: each option, NOP-padded so that 4-byte fields stay aligned, and the
    /// total rounded up to a multiple of 4.
    public var encodedLength: Int {
        var n = 0
        if maximumSegmentSize != nil { n += 4 }
        if windowScale != nil { n += 4 }          // NOP + 3
        if hasTimestamp { n += 12 }               // (SACK-permitted, or NOP NOP) + 10
        else if sackPermitted { n += 4 }          // NOP NOP + 2
        if sackBlockCount > 0 { n += 4 + 8 * sackBlockCount } // NOP NOP + 2 + 8n
        return n
    }

    /// Parses `options` (the option bytes of a TCP header).
    @inlinable public init(parsing options: HeaderOptions) throws(WireError) {
        self.init()
        let result: Result<TCPOptions, WireError> = options.withUnsafeBytes { bytes in
            do throws(WireError) { return .success(try TCPOptions(parsingBytes: bytes)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    /// Parses raw option bytes.
    @inlinable public init(parsingBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self.init()
        var i = 0
        while i < bytes.count {
            let kind = bytes.u8(i)
            if kind == TCPOptionKind.endOfOptionList { break }
            if kind == TCPOptionKind.noOperation { i += 1; continue }
            // Every other option: kind, length (counting both), data.
            guard i + 1 < bytes.count else { throw WireError.truncated(needed: i + 2, have: bytes.count) }
            let length = Int(bytes.u8(i + 1))
            guard length >= 2 else { throw WireError.malformed("TCP option \(kind) length \(length)") }
            guard i + length <= bytes.count else { throw WireError.truncated(needed: i + length, have: bytes.count) }
            switch kind {
            case TCPOptionKind.maximumSegmentSize:
                guard length == 4 else { throw WireError.malformed("TCP MSS option length \(length)") }
                maximumSegmentSize = bytes.u16(i + 2)
            case TCPOptionKind.windowScale:
                guard length == 3 else { throw WireError.malformed("TCP window scale option length \(length)") }
                windowScale = bytes.u8(i + 2)
            case TCPOptionKind.sackPermitted:
                guard length == 2 else { throw WireError.malformed("TCP SACK-permitted option length \(length)") }
                sackPermitted = true
            case TCPOptionKind.sack:
                // RFC 2018 §3: length 2 + 8n.
                guard length >= 10, (length - 2) % 8 == 0 else { throw WireError.malformed("TCP SACK option length \(length)") }
                removeSACKBlocks()
                var j = i + 2
                while j < i + length {
                    appendSACKBlock(TCPSACKBlock(left: bytes.u32(j), right: bytes.u32(j + 4)))
                    j += 8
                }
            case TCPOptionKind.timestamps:
                guard length == 10 else { throw WireError.malformed("TCP timestamps option length \(length)") }
                hasTimestamp = true
                timestampValue = bytes.u32(i + 2)
                timestampEchoReply = bytes.u32(i + 6)
            default:
                break  // RFC 9293 §3.1: ignored.
            }
            i += length
        }
    }

    /// The options as header option bytes; throws `noSpace` if they exceed 40 bytes.
    @inlinable public func emitted() throws(WireError) -> HeaderOptions {
        let n = encodedLength
        guard n <= HeaderOptions.capacity else { throw WireError.noSpace(needed: n, have: HeaderOptions.capacity) }
        var raw: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        let written = withUnsafeMutableBytes(of: &raw) { emit(into: $0) }
        return withUnsafeBytes(of: raw) { HeaderOptions(copying: $0.slice(0..<written)) }
    }

    /// Writes the options at the start of `out` (at least `encodedLength` bytes); returns the
    /// length written, a multiple of 4.
    @inlinable public func emit(into out: UnsafeMutableRawBufferPointer) -> Int {
        // Plain stores at a running offset (no nested function capturing it: unoptimized builds
        // would box the offset on every call).
        var i = 0
        if let mss = maximumSegmentSize {
            out.setU8(i, TCPOptionKind.maximumSegmentSize); out.setU8(i + 1, 4)
            out.setU16(i + 2, mss); i += 4
        }
        if let shift = windowScale {
            out.setU8(i, TCPOptionKind.noOperation); out.setU8(i + 1, TCPOptionKind.windowScale)
            out.setU8(i + 2, 3); out.setU8(i + 3, shift); i += 4
        }
        if hasTimestamp {
            // RFC 7323 Appendix A's layout: NOP NOP TS, or SACK-permitted then TS.
            if sackPermitted {
                out.setU8(i, TCPOptionKind.sackPermitted); out.setU8(i + 1, 2)
            } else {
                out.setU8(i, TCPOptionKind.noOperation); out.setU8(i + 1, TCPOptionKind.noOperation)
            }
            out.setU8(i + 2, TCPOptionKind.timestamps); out.setU8(i + 3, 10)
            out.setU32(i + 4, timestampValue); out.setU32(i + 8, timestampEchoReply); i += 12
        } else if sackPermitted {
            out.setU8(i, TCPOptionKind.noOperation); out.setU8(i + 1, TCPOptionKind.noOperation)
            out.setU8(i + 2, TCPOptionKind.sackPermitted); out.setU8(i + 3, 2); i += 4
        }
        if sackBlockCount > 0 {
            out.setU8(i, TCPOptionKind.noOperation); out.setU8(i + 1, TCPOptionKind.noOperation)
            out.setU8(i + 2, TCPOptionKind.sack); out.setU8(i + 3, UInt8(2 + 8 * sackBlockCount)); i += 4
            var k = 0
            while k < sackBlockCount {
                let b = sackBlock(k)
                out.setU32(i, b.left); out.setU32(i + 4, b.right); i += 8
                k += 1
            }
        }
        return i
    }
}
