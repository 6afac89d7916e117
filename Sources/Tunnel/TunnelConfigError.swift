// Errors in a wg-quick style configuration, located at file:line with what to do about it — the same shape as
// YAMLSchema's ConfigError (which Tunnel does not depend on), without a column: wg.conf is line-oriented.

/// A configuration problem: where it is, what is wrong, and how to fix it.
public struct TunnelConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file the problem is in (the configuration, or a key file it names).
    public var file: String
    /// The 1-based line; nil when the problem is the whole file (unreadable, empty key file).
    public var line: Int?
    /// What is wrong, naming the key ("PublicKey: 'abc' is not a WireGuard key").
    public var message: String
    /// What to do about it.
    public var fix: String?

    public init(file: String, line: Int?, message: String, fix: String? = nil) {
        self.file = file; self.line = line; self.message = message; self.fix = fix
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): error: \(message)" + (fix.map { "\n  fix: \($0)" } ?? "")
    }
}

/// A configuration line that is accepted but has no effect here (wg-quick's DNS, hooks, …).
public struct TunnelConfigWarning: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public var description: String { "\(file):\(line): warning: \(message)" }
}
