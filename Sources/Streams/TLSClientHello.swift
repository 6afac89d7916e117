// A TLS ClientHello read without terminating TLS, for routing by server name: records of the
// record layer (RFC 8446 §5.1; content type 22, any 3.x legacy version, fragments of at most
// 2^14 octets) are reassembled until the first handshake message is whole, which must be a
// ClientHello (§4.1.2); server_name (RFC 6066 §3) and ALPN (RFC 7301 §3.1) are extracted. The raw
// bytes stay with the caller, who forwards them unchanged to the chosen backend.

/// What a gate learns from a ClientHello.
public struct TLSClientHelloInfo: Equatable, Sendable {
    /// The host_name of server_name, lowercased; nil when the extension is absent.
    public var serverName: String?
    /// ALPN protocol names in the client's order (bytes as text; empty when the extension is absent).
    public var alpn: [String]
    /// legacy_version of the ClientHello (0x0303 for TLS 1.2 and 1.3).
    public var legacyVersion: UInt16
    /// supported_versions offered (TLS 1.3 clients list 0x0304), empty when absent.
    public var supportedVersions: [UInt16]
}

/// Why a ClientHello peek gave up (counted by reason).
public enum TLSPeekRefusal: String, Error, Sendable, CaseIterable {
    case notHandshakeRecord = "tls_not_handshake_record"
    case badRecordVersion = "tls_bad_record_version"
    case badRecordLength = "tls_bad_record_length"
    case notClientHello = "tls_not_client_hello"
    case tooLarge = "tls_client_hello_too_large"
    case malformed = "tls_client_hello_malformed"
    case duplicateExtension = "tls_duplicate_extension"
    case badServerName = "tls_bad_server_name"
    case badALPN = "tls_bad_alpn"
}

public enum TLSClientHello {
    public static let defaultMaximumBytes = 16 * 1024

    /// Reads the records at the start of `b` (everything received so far): `.needMoreBytes` until
    /// the ClientHello is whole, then the info and the length of the records that carried it.
    public static func peek(_ b: UnsafeRawBufferPointer, maximumBytes: Int = defaultMaximumBytes) -> Result<StreamParse<TLSClientHelloInfo>, TLSPeekRefusal> {
        var peeker = TLSClientHelloPeeker(maximumBytes: maximumBytes, keepingBytes: false)
        switch peeker.receive(b) {
        case nil: return .success(.needMoreBytes)
        case .failure(let why): return .failure(why)
        case .success(let info): return .success(.complete(info, consumed: peeker.recordsEnd))
        }
    }

    /// The ClientHello body (after the 4-octet handshake header).
    public static func parseBody(_ b: UnsafeRawBufferPointer) -> Result<TLSClientHelloInfo, TLSPeekRefusal> {
        var r = Reader(b)
        guard let version = r.u16(), r.skip(32),
              let sessionIDLength = r.u8(), sessionIDLength <= 32, r.skip(Int(sessionIDLength)),
              let suitesLength = r.u16(), suitesLength >= 2, suitesLength % 2 == 0, r.skip(Int(suitesLength)),
              let compressionLength = r.u8(), compressionLength >= 1, r.skip(Int(compressionLength)) else {
            return .failure(.malformed)
        }
        var info = TLSClientHelloInfo(serverName: nil, alpn: [], legacyVersion: version, supportedVersions: [])
        if r.remaining == 0 { return .success(info) }  // no extensions (TLS 1.0–1.2 allow it)
        guard let extensionsLength = r.u16(), Int(extensionsLength) == r.remaining else { return .failure(.malformed) }
        var seen = Set<UInt16>()
        while r.remaining > 0 {
            guard let type = r.u16(), let length = r.u16(), let body = r.slice(Int(length)) else { return .failure(.malformed) }
            guard seen.insert(type).inserted else { return .failure(.duplicateExtension) }
            switch type {
            case 0:  // server_name
                guard let name = serverName(body) else { return .failure(.badServerName) }
                info.serverName = name
            case 16:  // application_layer_protocol_negotiation
                guard let names = alpn(body) else { return .failure(.badALPN) }
                info.alpn = names
            case 43:  // supported_versions
                var v = Reader(body)
                guard let n = v.u8(), n >= 2, n % 2 == 0, Int(n) == v.remaining else { return .failure(.malformed) }
                while v.remaining > 0 { if let x = v.u16() { info.supportedVersions.append(x) } }
            default:
                break
            }
        }
        return .success(info)
    }

    /// ServerNameList: one host_name (type 0) is used; RFC 6066 forbids two of one type.
    static func serverName(_ b: UnsafeRawBufferPointer) -> String?? {
        var r = Reader(b)
        guard let listLength = r.u16(), listLength >= 1, Int(listLength) == r.remaining else { return nil }
        var found: String?
        while r.remaining > 0 {
            guard let type = r.u8(), let n = r.u16(), n >= 1, let name = r.slice(Int(n)) else { return nil }
            if type == 0 {
                guard found == nil, let valid = StreamHost.validName(name), name.last != UInt8(ascii: ".") else { return nil }
                found = valid
            }
        }
        return .some(found)
    }

    /// ProtocolNameList: 1–255-octet names, at least one.
    static func alpn(_ b: UnsafeRawBufferPointer) -> [String]? {
        var r = Reader(b)
        guard let listLength = r.u16(), listLength >= 2, Int(listLength) == r.remaining else { return nil }
        var names: [String] = []
        while r.remaining > 0 {
            guard let n = r.u8(), n >= 1, let name = r.slice(Int(n)) else { return nil }
            names.append(String(decoding: name, as: UTF8.self))
        }
        return names
    }

    struct Reader {
        let b: UnsafeRawBufferPointer
        var at = 0
        init(_ b: UnsafeRawBufferPointer) { self.b = b }
        var remaining: Int { b.count - at }
        mutating func u8() -> UInt8? { guard remaining >= 1 else { return nil }; defer { at += 1 }; return b[at] }
        mutating func u16() -> UInt16? { guard remaining >= 2 else { return nil }; defer { at += 2 }; return UInt16(b[at]) << 8 | UInt16(b[at + 1]) }
        mutating func skip(_ n: Int) -> Bool { guard n >= 0, remaining >= n else { return false }; at += n; return true }
        mutating func slice(_ n: Int) -> UnsafeRawBufferPointer? {
            guard n >= 0, remaining >= n else { return nil }
            defer { at += n }
            return UnsafeRawBufferPointer(rebasing: b[at..<(at + n)])
        }
    }
}

/// Accumulates a client's first bytes until its ClientHello can be read (bounded by `maximumBytes`);
/// `bytes` are then forwarded unchanged to the backend the gate picks. Incremental: each byte is
/// looked at once (records are taken apart as they complete), so a client sending one octet at a
/// time costs linear work.
public struct TLSClientHelloPeeker: Sendable {
    public let maximumBytes: Int
    /// Everything received until the answer (when keeping bytes): what the driver forwards.
    public private(set) var bytes: [UInt8] = []
    public private(set) var result: Result<TLSClientHelloInfo, TLSPeekRefusal>?
    /// Where the first incomplete record starts (the end of the ClientHello's records once answered).
    public private(set) var recordsEnd = 0
    private let keepingBytes: Bool
    private var pending: [UInt8] = []  // bytes from recordsEnd on (only what is not yet a whole record)
    private var handshake: [UInt8] = []

    public init(maximumBytes: Int = TLSClientHello.defaultMaximumBytes) { self.init(maximumBytes: maximumBytes, keepingBytes: true) }

    init(maximumBytes: Int, keepingBytes: Bool) { self.maximumBytes = maximumBytes; self.keepingBytes = keepingBytes }

    /// Feed the next segment. Nil means more bytes are needed; after an answer, further bytes are
    /// the caller's to forward (they are not kept).
    public mutating func receive(_ segment: UnsafeRawBufferPointer) -> Result<TLSClientHelloInfo, TLSPeekRefusal>? {
        if let result { return result }
        if keepingBytes { bytes.append(contentsOf: segment) }
        pending.append(contentsOf: segment)
        let answer = advance()
        if let answer {
            result = answer
            if case .failure = answer { bytes = [] }
            pending = []; handshake = []
        }
        return answer
    }

    private mutating func advance() -> Result<TLSClientHelloInfo, TLSPeekRefusal>? {
        while true {
            let p = pending
            if p.count >= 1, p[0] != 22 { return .failure(.notHandshakeRecord) }
            if p.count >= 2, p[1] != 3 { return .failure(.badRecordVersion) }
            if p.count >= 3, p[2] > 4 { return .failure(.badRecordVersion) }
            guard p.count >= 5 else { return recordsEnd + p.count >= maximumBytes ? .failure(.tooLarge) : nil }
            let length = Int(p[3]) << 8 | Int(p[4])
            guard (1...16384).contains(length) else { return .failure(.badRecordLength) }
            guard recordsEnd + 5 + length <= maximumBytes else { return .failure(.tooLarge) }
            guard p.count >= 5 + length else { return nil }
            handshake.append(contentsOf: p[5..<(5 + length)])
            pending.removeFirst(5 + length)
            recordsEnd += 5 + length
            if handshake.count >= 4 {
                guard handshake[0] == 1 else { return .failure(.notClientHello) }
                let bodyLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard 4 + bodyLength <= maximumBytes else { return .failure(.tooLarge) }
                if handshake.count >= 4 + bodyLength {
                    return handshake.withUnsafeBytes { TLSClientHello.parseBody(UnsafeRawBufferPointer(rebasing: $0[4..<(4 + bodyLength)])) }
                }
            }
        }
    }
}
