// A Babel packet (RFC 8966 §4.2): magic 42, version 2, a 16-bit body length, then TLVs; octets after the body (a
// packet trailer) are ignored. Parsed from a bounds-checked buffer; built into a fixed-size buffer of the router's
// maximum packet size.

/// A parsed packet: its TLVs in order, and how many were skipped.
public struct BabelPacket: Equatable, Sendable {
    public var tlvs: [BabelTLV]
    /// TLVs whose framing was sound but whose value was not (ignored, §4.3); the last reason is kept.
    public var malformedTLVs = 0
    public var lastMalformed: BabelWireError?
    /// TLVs of types outside the subset (silently ignored, §4.3).
    public var unknownTLVs = 0

    public init(tlvs: [BabelTLV]) { self.tlvs = tlvs }

    /// Throws for a bad header or a body (or TLV framing) that overruns the bytes; a bad TLV value only skips it.
    public init(parsing buffer: UnsafeRawBufferPointer) throws(BabelWireError) {
        tlvs = []
        guard buffer.count >= BabelWire.headerLength else { throw .truncated }
        guard buffer[0] == BabelWire.magic else { throw .badMagic }
        guard buffer[1] == BabelWire.version else { throw .badVersion }
        let bodyLength = Int(buffer[2]) << 8 | Int(buffer[3])
        guard buffer.count - BabelWire.headerLength >= bodyLength else { throw .truncated }
        let end = BabelWire.headerLength + bodyLength
        var offset = BabelWire.headerLength
        var context = BabelParseContext()
        while offset < end {
            do throws(BabelWireError) {
                if let tlv = try BabelTLV.read(buffer, at: &offset, end: end, context: &context) {
                    tlvs.append(tlv)
                } else {
                    unknownTLVs += 1
                }
            } catch {
                if error == .truncated { throw .truncated }
                malformedTLVs += 1
                lastMalformed = error
            }
        }
    }

    public init(parsing bytes: [UInt8]) throws(BabelWireError) {
        var result: Result<BabelPacket, BabelWireError> = .failure(.truncated)
        bytes.withUnsafeBytes { raw in
            do throws(BabelWireError) { result = .success(try BabelPacket(parsing: raw)) } catch { result = .failure(error) }
        }
        self = try result.get()
    }

    /// The packet as bytes (header included); TLVs that do not fit `maxSize` are left out.
    public func encoded(maxSize: Int = 65_535) -> [UInt8] {
        var b = BabelPacketBuilder(maxSize: maxSize)
        for t in tlvs { _ = b.append(t) }
        return b.finished()
    }
}

/// Appends TLVs into one preallocated buffer of `maxSize` octets; `finished()` writes the header.
public struct BabelPacketBuilder: Sendable {
    public let maxSize: Int
    private var buffer: [UInt8]
    public private(set) var count = BabelWire.headerLength

    public init(maxSize: Int) {
        self.maxSize = max(BabelWire.headerLength, min(maxSize, BabelWire.headerLength + 65_535))
        buffer = [UInt8](repeating: 0, count: self.maxSize)
    }

    /// True when no TLV has been appended.
    public var isEmpty: Bool { count == BabelWire.headerLength }
    /// Octets still free.
    public var room: Int { maxSize - count }

    /// Appends `tlv` when it fits; false (nothing written) when it does not.
    public mutating func append(_ tlv: BabelTLV) -> Bool {
        let start = count
        let written = buffer.withUnsafeMutableBytes { raw in
            tlv.emit(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
        }
        guard let written else { return false }
        count += written
        return true
    }

    /// The packet: header and the TLVs appended so far.
    public func finished() -> [UInt8] {
        var out = Array(buffer[0..<count])
        let body = count - BabelWire.headerLength
        out[0] = BabelWire.magic; out[1] = BabelWire.version
        out[2] = UInt8(truncatingIfNeeded: body >> 8); out[3] = UInt8(truncatingIfNeeded: body)
        return out
    }

    /// Starts over with an empty body.
    public mutating func reset() { count = BabelWire.headerLength }
}
