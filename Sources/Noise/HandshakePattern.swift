// Noise rev 34 §7 (handshake patterns), §9 (pre-shared key modifiers) and §18 (deferred patterns).
//
// Patterns are written below exactly as the specification prints them, and parsed once.

/// A handshake pattern: pre-messages and the sequence of message patterns.
public struct HandshakePattern: Sendable, Equatable, CustomStringConvertible {
    /// §7.1: the tokens of a message pattern.
    public enum Token: String, Sendable, Equatable {
        case e, s, ee, es, se, ss, psk
    }

    /// The name, e.g. "IKpsk2".
    public let name: String
    /// Tokens of the initiator's pre-message ("-> s" before "...").
    public let initiatorPreMessage: [Token]
    /// Tokens of the responder's pre-message ("<- s" before "...").
    public let responderPreMessage: [Token]
    /// The message patterns, alternately initiator→responder (even indices) and responder→initiator.
    public let messages: [[Token]]

    /// §7.4: "one-way" patterns (N, K, X) have a single message; after it only the initiator sends.
    public var isOneWay: Bool { messages.count == 1 }
    /// §9: a PSK handshake (any "psk" token) also mixes ephemeral keys into the chaining key.
    public var isPSK: Bool { messages.contains { $0.contains(.psk) } }
    /// How many pre-shared keys the pattern consumes.
    public var pskCount: Int { messages.reduce(0) { $0 + $1.filter { $0 == .psk }.count } }

    public var description: String { name }

    init(name: String, initiatorPreMessage: [Token], responderPreMessage: [Token], messages: [[Token]]) {
        self.name = name
        self.initiatorPreMessage = initiatorPreMessage
        self.responderPreMessage = responderPreMessage
        self.messages = messages
    }

    /// The pattern called `name`: a base pattern optionally followed by modifiers joined with "+",
    /// e.g. "XX", "IKpsk2", "NNpsk0+psk2". Nil for unknown patterns or modifiers.
    public static func named(_ name: String) -> HandshakePattern? {
        guard let r = name.firstRange(of: "psk") else { return base[name] }
        let baseName = String(name[..<r.lowerBound])
        guard var pattern = base[baseName] else { return nil }
        for modifier in name[r.lowerBound...].split(separator: "+", omittingEmptySubsequences: false) {
            guard modifier.hasPrefix("psk"), let n = Int(modifier.dropFirst(3)), n >= 0, n <= pattern.messages.count
            else { return nil }
            var messages = pattern.messages
            // §9.2: "A "psk0" token is placed at the beginning of the first handshake message. The "psk1"
            // modifier appends a "psk" token to the end of the first handshake message. ... "psk2" appends to
            // the second, and so on."
            if n == 0 { messages[0].insert(.psk, at: 0) } else { messages[n - 1].append(.psk) }
            pattern = HandshakePattern(name: "", initiatorPreMessage: pattern.initiatorPreMessage,
                                       responderPreMessage: pattern.responderPreMessage, messages: messages)
        }
        return HandshakePattern(name: name, initiatorPreMessage: pattern.initiatorPreMessage,
                                responderPreMessage: pattern.responderPreMessage, messages: pattern.messages)
    }

    /// The names of every base pattern this module knows, sorted.
    public static var baseNames: [String] { base.keys.sorted() }

    /// Parses the specification's notation: lines "-> e, es" / "<- s", with "..." ending the pre-messages.
    static func parse(name: String, _ text: String) -> HandshakePattern {
        var lines = text.split(separator: "\n").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        var pre: [String] = []
        if let dots = lines.firstIndex(of: "...") {
            pre = Array(lines[..<dots])
            lines = Array(lines[(dots + 1)...])
        }
        func tokens(_ line: String) -> [Token] {
            line.dropFirst(2).split(separator: ",").map { Token(rawValue: $0.trimmingCharacters())! }
        }
        var initiatorPre: [Token] = [], responderPre: [Token] = []
        for line in pre {
            if line.hasPrefix("->") { initiatorPre += tokens(line) } else { responderPre += tokens(line) }
        }
        var messages: [[Token]] = []
        for (i, line) in lines.enumerated() {
            // Message patterns alternate, starting with the initiator.
            precondition(line.hasPrefix(i % 2 == 0 ? "->" : "<-"), "pattern \(name) does not alternate")
            messages.append(tokens(line))
        }
        return HandshakePattern(name: name, initiatorPreMessage: initiatorPre, responderPreMessage: responderPre,
                                messages: messages)
    }

    /// §7.4 (one-way), §7.5 (interactive) and §18.3 (deferred) patterns.
    static let base: [String: HandshakePattern] = {
        let text: [(String, String)] = [
            // §7.4 One-way handshake patterns.
            ("N", "<- s\n...\n-> e, es"),
            ("K", "-> s\n<- s\n...\n-> e, es, ss"),
            ("X", "<- s\n...\n-> e, es, s, ss"),
            // §7.5 Interactive handshake patterns (fundamental).
            ("NN", "-> e\n<- e, ee"),
            ("NK", "<- s\n...\n-> e, es\n<- e, ee"),
            ("NX", "-> e\n<- e, ee, s, es"),
            ("KN", "-> s\n...\n-> e\n<- e, ee, se"),
            ("KK", "-> s\n<- s\n...\n-> e, es, ss\n<- e, ee, se"),
            ("KX", "-> s\n...\n-> e\n<- e, ee, se, s, es"),
            ("XN", "-> e\n<- e, ee\n-> s, se"),
            ("XK", "<- s\n...\n-> e, es\n<- e, ee\n-> s, se"),
            ("XX", "-> e\n<- e, ee, s, es\n-> s, se"),
            ("IN", "-> e, s\n<- e, ee, se"),
            ("IK", "<- s\n...\n-> e, es, s, ss\n<- e, ee, se"),
            ("IX", "-> e, s\n<- e, ee, se, s, es"),
            // §18.3 Deferred handshake patterns.
            ("NK1", "<- s\n...\n-> e\n<- e, ee, es"),
            ("NX1", "-> e\n<- e, ee, s\n-> es"),
            ("X1N", "-> e\n<- e, ee\n-> s\n<- se"),
            ("X1K", "<- s\n...\n-> e, es\n<- e, ee\n-> s\n<- se"),
            ("XK1", "<- s\n...\n-> e\n<- e, ee, es\n-> s, se"),
            ("X1K1", "<- s\n...\n-> e\n<- e, ee, es\n-> s\n<- se"),
            ("X1X", "-> e\n<- e, ee, s, es\n-> s\n<- se"),
            ("XX1", "-> e\n<- e, ee, s\n-> es, s, se"),
            ("X1X1", "-> e\n<- e, ee, s\n-> es, s\n<- se"),
            ("K1N", "-> s\n...\n-> e\n<- e, ee\n-> se"),
            ("K1K", "-> s\n<- s\n...\n-> e, es\n<- e, ee\n-> se"),
            ("KK1", "-> s\n<- s\n...\n-> e\n<- e, ee, se, es"),
            ("K1K1", "-> s\n<- s\n...\n-> e\n<- e, ee, es\n-> se"),
            ("K1X", "-> s\n...\n-> e\n<- e, ee, s, es\n-> se"),
            ("KX1", "-> s\n...\n-> e\n<- e, ee, se, s\n-> es"),
            ("K1X1", "-> s\n...\n-> e\n<- e, ee, s\n-> se, es"),
            ("I1N", "-> e, s\n<- e, ee\n-> se"),
            ("I1K", "<- s\n...\n-> e, es, s\n<- e, ee\n-> se"),
            ("IK1", "<- s\n...\n-> e, s\n<- e, ee, se, es"),
            ("I1K1", "<- s\n...\n-> e, s\n<- e, ee, es\n-> se"),
            ("I1X", "-> e, s\n<- e, ee, s, es\n-> se"),
            ("IX1", "-> e, s\n<- e, ee, se, s\n-> es"),
            ("I1X1", "-> e, s\n<- e, ee, s\n-> se, es"),
        ]
        var table: [String: HandshakePattern] = [:]
        for (name, body) in text { table[name] = parse(name: name, body) }
        return table
    }()
}

extension StringProtocol {
    /// The text without leading and trailing spaces.
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
