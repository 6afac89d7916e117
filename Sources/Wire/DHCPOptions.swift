// The options of a DHCP message (RFC 2131 §4.1, RFC 2132 §2), kept in wire order.
//
// Every option is kept as it came — tag, length, data — in one contiguous byte array laid out
// exactly as on the wire, minus Pad and End. So a parsed message costs one allocation for all of
// its options, unknown options survive a round trip untouched, and emitting is one copy.

/// One option: its code and its data (a view into the message's option storage).
public struct DHCPOption: Equatable, Sendable {
    public var code: DHCPOptionCode
    public var data: ArraySlice<UInt8>

    public init(code: DHCPOptionCode, data: ArraySlice<UInt8>) { self.code = code; self.data = data }
}

/// The options of one message, in order, as tag-length-value triples (Pad and End excluded).
///
/// RFC 2131 §4.1: "Options may appear only once, unless otherwise specified in the options
/// document. The client concatenates the values of multiple instances of the same option into a
/// single parameter list for configuration." `value(of:)` does that concatenation; `append`
/// splits a value longer than 255 octets into several instances (RFC 3396 §5).
public struct DHCPOptions: Equatable, Sendable, Sequence {
    /// TLVs back to back, exactly as they sit on the wire; every triple is complete.
    var storage: [UInt8]

    /// No options.
    public init() { storage = [] }

    /// Walks the options area `buffer[range]`: Pad is skipped, End stops. Throws if an option
    /// runs past the end of the area or the area holds no End option.
    init(parsing buffer: UnsafeRawBufferPointer, from start: Int) throws(WireError) {
        var tlvs: [UInt8] = []
        tlvs.reserveCapacity(buffer.count - start)
        var i = start
        while true {
            // RFC 2131 §4.1: "The last option must always be the 'end' option."
            guard i < buffer.count else { throw WireError.truncated(needed: i + 1, have: buffer.count) }
            let code = buffer[i]
            if code == DHCPOptionCode.end.rawValue { break }
            if code == DHCPOptionCode.pad.rawValue { i += 1; continue }
            guard i + 1 < buffer.count else { throw WireError.truncated(needed: i + 2, have: buffer.count) }
            let length = Int(buffer[i + 1])
            // RFC 2131 §4.1: "Any individual option in the 'options', 'sname' and 'file' fields
            // MUST be entirely contained in that field."
            guard i + 2 + length <= buffer.count else { throw WireError.badLength }
            tlvs.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[i..<(i + 2 + length)]))
            i += 2 + length
        }
        storage = tlvs
    }

    /// Bytes the options take on the wire, End excluded.
    public var encodedLength: Int { storage.count }

    /// Copies the TLVs to `buffer` at `offset`. The caller has checked the space.
    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        storage.withUnsafeBytes { tlvs in
            UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + tlvs.count)]).copyMemory(from: tlvs)
        }
    }

    // MARK: Sequence

    public struct Iterator: IteratorProtocol {
        let storage: [UInt8]
        var index: Int

        public mutating func next() -> DHCPOption? {
            guard index < storage.count else { return nil }
            let code = DHCPOptionCode(storage[index])
            let length = Int(storage[index + 1])
            let data = storage[(index + 2)..<(index + 2 + length)]
            index += 2 + length
            return DHCPOption(code: code, data: data)
        }
    }

    public func makeIterator() -> Iterator { Iterator(storage: storage, index: 0) }

    /// Number of options (instances, counting each piece of a split option).
    public var count: Int { reduce(0) { n, _ in n + 1 } }

    /// The codes in order, one entry per instance.
    public var codes: [DHCPOptionCode] { map(\.code) }

    /// Whether an option with `code` is present.
    public func contains(_ code: DHCPOptionCode) -> Bool { contains { $0.code == code } }

    /// The value of `code`: the data of its one instance (no copy), or the concatenation of all
    /// its instances in order (RFC 2131 §4.1, RFC 3396), or nil if absent.
    public func value(of code: DHCPOptionCode) -> ArraySlice<UInt8>? {
        var found: ArraySlice<UInt8>?
        var joined: [UInt8]?
        for option in self where option.code == code {
            if let first = found {
                if joined == nil { joined = Array(first) }
                joined!.append(contentsOf: option.data)
            } else {
                found = option.data
            }
        }
        if let joined { return joined[...] }
        return found
    }

    // MARK: Building

    /// Appends `code` with `data` at the end. Data longer than 255 octets becomes several
    /// consecutive instances (RFC 3396 §5); empty data is one zero-length instance.
    /// Pad and End are framing, not options, and are ignored here.
    public mutating func append(_ code: DHCPOptionCode, _ data: some Collection<UInt8>) {
        guard code != .pad, code != .end else { return }
        var rest = data[...]
        repeat {
            let piece = rest.prefix(255)
            storage.append(code.rawValue)
            storage.append(UInt8(piece.count))
            storage.append(contentsOf: piece)
            rest = rest.dropFirst(piece.count)
        } while !rest.isEmpty
    }

    /// Removes every instance of `code`.
    public mutating func remove(_ code: DHCPOptionCode) {
        guard contains(code) else { return }
        var kept: [UInt8] = []
        kept.reserveCapacity(storage.count)
        var i = 0
        while i < storage.count {
            let next = i + 2 + Int(storage[i + 1])
            if storage[i] != code.rawValue { kept.append(contentsOf: storage[i..<next]) }
            i = next
        }
        storage = kept
    }

    /// Replaces every instance of `code` with one value at the end, or removes it for nil.
    public mutating func set(_ code: DHCPOptionCode, _ data: (some Collection<UInt8>)?) {
        remove(code)
        if let data { append(code, data) }
    }
}
