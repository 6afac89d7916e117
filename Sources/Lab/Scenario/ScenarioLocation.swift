// Where something was written in a scenario file, kept on every element so that a failure found
// after loading (an expectation that did not hold) can still point at its line.
import YAMLSchema

/// A position in a scenario file: file:line:column.
public struct ScenarioLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file; self.line = line; self.column = column
    }

    /// The position of a YAML value.
    public init(_ value: YAMLValue) {
        self.init(file: value.file, line: value.line, column: value.column)
    }

    /// An error located here.
    public func error(_ message: String, fix: String? = nil) -> ConfigError {
        ConfigError(file: file, line: line, column: column, message: message, fix: fix)
    }

    public var description: String { "\(file):\(line):\(column)" }
}
