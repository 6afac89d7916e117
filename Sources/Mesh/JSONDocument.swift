// A small strict JSON reader (RFC 8259) for aronet's registry.json (MeshRegistry.swift): values remember their line
// so errors can name it. It never traps: nesting is limited, numbers are kept as text and converted with checks,
// strings are decoded with every escape checked.

/// A JSON value and the line it starts on.
public struct JSONValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case null
        case bool(Bool)
        /// The number's text as written (converted on use, with range checks).
        case number(String)
        case string(String)
        case array([JSONValue])
        /// Members in document order (duplicates are refused while parsing).
        case object([(String, JSONValue)])

        public static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case (.null, .null): true
            case (.bool(let x), .bool(let y)): x == y
            case (.number(let x), .number(let y)): x == y
            case (.string(let x), .string(let y)): x == y
            case (.array(let x), .array(let y)): x == y
            case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            default: false
            }
        }
    }

    public var kind: Kind
    public var line: Int

    /// The member `name` of an object (nil when absent or not an object).
    public subscript(name: String) -> JSONValue? {
        guard case .object(let members) = kind else { return nil }
        return members.first { $0.0 == name }?.1
    }

    /// What the value is, for error messages.
    public var typeName: String {
        switch kind {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Why a document is not JSON, and where.
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// Parses one JSON document.
public enum JSONDocument {
    /// Containers nested deeper than this are refused (a hostile file cannot exhaust the stack).
    public static let maxDepth = 64

    public static func parse(_ text: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var p = Parser(bytes: text)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.error("text after the document's end") }
        return v
    }

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue { try parse(Array(text.utf8)) }

    struct Parser {
        let bytes: [UInt8]
        var i = 0
        var line = 1

        func error(_ m: String) -> JSONSyntaxError { JSONSyntaxError(line: line, message: m) }

        mutating func skipSpace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0D: i += 1
                case 0x0A: i += 1; line += 1
                default: return
                }
            }
        }

        mutating func literal(_ word: String, _ kind: JSONValue.Kind) throws(JSONSyntaxError) -> JSONValue {
            let w = Array(word.utf8)
            guard bytes.count - i >= w.count, Array(bytes[i..<(i + w.count)]) == w else {
                throw error("unexpected character")
            }
            i += w.count
            return JSONValue(kind: kind, line: line)
        }

        mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
            guard depth <= JSONDocument.maxDepth else { throw error("nested more than \(JSONDocument.maxDepth) deep") }
            guard i < bytes.count else { throw error("unexpected end of the document") }
            let start = line
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(String, JSONValue)] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return JSONValue(kind: .object([]), line: start) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                    let name = try string()
                    guard !members.contains(where: { $0.0 == name }) else { throw error("member \"\(name)\" appears twice") }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after \"\(name)\"") }
                    i += 1
                    skipSpace()
                    members.append((name, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end inside an object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return JSONValue(kind: .object(members), line: start) }
                    throw error("expected ',' or '}' in an object")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSONValue] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return JSONValue(kind: .array([]), line: start) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end inside an array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return JSONValue(kind: .array(items), line: start) }
                    throw error("expected ',' or ']' in an array")
                }
            case UInt8(ascii: "\""):
                return JSONValue(kind: .string(try string()), line: start)
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return JSONValue(kind: .number(try number()), line: start)
            default:
                throw error("unexpected character")
            }
        }

        mutating func digits() -> Int {
            let s = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1 }
            return i - s
        }

        /// RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
        mutating func number() throws(JSONSyntaxError) -> String {
            let s = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { throw error("a number without digits") }
            if bytes[i] == UInt8(ascii: "0") { i += 1 } else if digits() == 0 { throw error("a number without digits") }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { throw error("a number without digits after '.'") }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw error("a number without exponent digits") }
            }
            return String(decoding: bytes[s..<i], as: UTF8.self)
        }

        mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
            guard bytes.count - i >= 4 else { throw error("a short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("a bad \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws(JSONSyntaxError) -> String {
            i += 1  // the opening quote
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw error("an unterminated string") }
                let c = bytes[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    // Invalid UTF-8 is refused rather than repaired.
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("a string that is not UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard i < bytes.count else { throw error("an unterminated string") }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if scalar >= 0xD800, scalar < 0xDC00 {
                            guard bytes.count - i >= 6, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                            else { throw error("a lone surrogate in \\u escapes") }
                            i += 2
                            let low = try hex4()
                            guard low >= 0xDC00, low < 0xE000 else { throw error("a lone surrogate in \\u escapes") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw error("a lone surrogate in \\u escapes") }
                        out += Array(String(Character(u)).utf8)
                    default: throw error("an unknown escape \\\(Character(Unicode.Scalar(e)))")
                    }
                case 0x00..<0x20:
                    throw error("a control character inside a string")
                default:
                    out.append(c)
                }
            }
        }
    }
}
