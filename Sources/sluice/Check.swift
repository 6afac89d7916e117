import ArgumentParser
import Engine
import Foundation

/// `sluice check bridge.yml`: validate a bridge configuration and summarise it.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a bridge.yml and print what it describes.")

    @Argument(help: "The bridge configuration file.") var file: String

    func run() throws {
        let config: BridgeConfig
        do { config = try BridgeConfig.read(path: file) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        print("\(file): ok — bridge '\(config.name)'")
        for line in config.summary { print("  \(line)") }
    }
}
