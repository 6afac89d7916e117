// One client connection of the configuration protocol (ConfigurationProtocol.swift), sans-IO: bytes in, requests
// out. A connection may carry several operations one after another, as wireguard-go's IpcHandle serves them:
//
//   "get=1\n" then "\n"                       → .get
//   "set=1\n" then key=value lines then "\n"  → .set(parsed) or .rejected(error)
//   anything else as the operation line       → .close (wireguard-go closes without a reply)
//
// Bytes are buffered until an operation is complete; a set larger than `ConfigurationProtocol.maximumTransaction`
// is answered with −E2BIG and the connection closed (nothing of it applied).

/// What the driver must do for a client.
public enum ConfigurationRequest: Sendable {
    /// Answer with the device (`configurationText`) and `errno=0`.
    case get
    /// A set transaction, parsed whole: check it, apply it, answer `errno=0` (or the check's errno).
    case set(ConfigurationSet)
    /// Answer `errno=N` and keep the connection.
    case rejected(ConfigurationProtocolError)
    /// Answer `errno=N` (if given) and close the connection.
    case close(ConfigurationProtocolError?)
}

/// The state of one connection.
public struct ConfigurationSession: Sendable {
    var buffer: [UInt8] = []
    /// Where the search for the end of the pending operation resumes.
    var scanned = 0
    public private(set) var isClosed = false

    public init() {}

    /// The reply line for `error` (nil: success), with the blank line that ends it.
    public static func reply(_ error: ConfigurationProtocolError?) -> String { "errno=\(error?.errno ?? 0)\n\n" }

    /// Takes bytes from the client; returns the operations they complete, in order.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> [ConfigurationRequest] {
        guard !isClosed else { return [] }
        buffer.append(contentsOf: bytes)
        var requests: [ConfigurationRequest] = []
        while !isClosed, let request = next() { requests.append(request) }
        return requests
    }

    /// The client closed its side: a pending, unfinished set is dropped (nothing applied).
    public mutating func finish() -> [ConfigurationRequest] {
        isClosed = true
        buffer = []
        return []
    }

    mutating func next() -> ConfigurationRequest? {
        guard let opEnd = buffer.firstIndex(of: 0x0A) else {
            if buffer.count > 64 { return close(.protocolError("no operation line in the first 64 bytes")) }
            return nil
        }
        let op = buffer[..<opEnd]
        if op.elementsEqual("get=1".utf8) {
            guard buffer.count > opEnd + 1 else { return nil }
            guard buffer[opEnd + 1] == 0x0A else { return close(.invalid("trailing characters after get=1")) }
            consume(opEnd + 2)
            return .get
        }
        guard op.elementsEqual("set=1".utf8) else { return close(nil) }
        // The transaction ends at the first empty line: "\n\n" after the operation line ("set=1\n\n" is empty).
        var i = Swift.max(opEnd, scanned)
        while i + 1 < buffer.count {
            if buffer[i] == 0x0A, buffer[i + 1] == 0x0A { break }
            i += 1
        }
        guard i + 1 < buffer.count else {
            scanned = Swift.max(opEnd, buffer.count - 1)
            if buffer.count > ConfigurationProtocol.maximumTransaction {
                return close(.tooBig("a set transaction over \(ConfigurationProtocol.maximumTransaction) bytes"))
            }
            return nil
        }
        let body = opEnd + 1 < i + 1 ? Array(buffer[(opEnd + 1)..<(i + 1)]) : []
        consume(i + 2)
        guard let text = String(validating: body, as: UTF8.self) else { return .rejected(.invalid("not UTF-8 text")) }
        do { return .set(try ConfigurationSet.parse(Substring(text))) } catch { return .rejected(error) }
    }

    mutating func consume(_ count: Int) {
        buffer.removeFirst(count)
        scanned = 0
    }

    mutating func close(_ error: ConfigurationProtocolError?) -> ConfigurationRequest {
        isClosed = true
        buffer = []
        return .close(error)
    }
}
