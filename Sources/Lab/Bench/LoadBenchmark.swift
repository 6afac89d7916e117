// Room: Lab — layer 6, the `sluice bench load` harness. How loading grows with the size of a file:
// a scenario with N expectations (Scenario.parseAll) and a bridge.yml with N DHCP reservations
// (BridgeConfig.parse), each generated here. The CLI prints seconds per size and the growth
// exponent (the log-log slope of time against N: 1 is linear, 2 quadratic). Tests only check that
// the largest sizes load; times are never asserted.
import Engine
import Foundation

/// One measured size of `sluice bench load`.
public struct LoadBenchmarkResult: Sendable {
    public enum File: String, Sendable { case expectations, reservations }
    public var file: File
    /// Expectations or reservations in the file.
    public var items: Int
    /// Bytes of the generated file.
    public var bytes: Int
    /// The fastest of the repeats, parse and validation only (the text is generated beforehand).
    public var seconds: Double
}

public enum LoadBenchmark {
    /// A valid scenario with `count` expectations (all on one ping, each with its own name).
    public static func scenarioText(expectations count: Int) -> String {
        var text = """
        name: load-\(count)-expectations
        duration: 10s
        nodes:
          br0: { kind: bridge, config: { router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.100, end: 10.0.0.200 } } } }
          vm1: { kind: host, attach: br0 }
          vm2: { kind: host, attach: br0 }
        captures:
          lan: { at: br0 }
        timeline:
          - { at: 0s, do: dhcp, node: vm1 }
          - { at: 0s, do: dhcp, node: vm2 }
          - { at: 2s, do: ping, node: vm1, to: vm2, count: 5, as: p1 }
        expect:

        """
        text.reserveCapacity(text.utf8.count + count * 64)
        for i in 0..<count {
            text += "  - { name: e\(i), action: p1, received: { ge: \(i % 5 + 1) } }\n"
        }
        return text
    }

    /// A valid bridge.yml whose router offers `count` DHCP reservations (a /12 has room for a million).
    public static func bridgeText(reservations count: Int) -> String {
        var text = """
        name: br0
        router:
          ipv4: 10.0.0.1/12
          dhcp:
            start: 10.0.0.100
            end: 10.0.0.200
            reservations:

        """
        text.reserveCapacity(text.utf8.count + count * 56)
        for i in 0..<count {
            let address = 0x0A01_0000 + UInt32(i)  // from 10.1.0.0 up, clear of the pool and the router
            let mac = 0x5254_0000_0000 + UInt64(i)
            let macText = stride(from: 40, through: 0, by: -8).map { String(format: "%02x", (mac >> UInt64($0)) & 0xff) }.joined(separator: ":")
            text += "      - { mac: \"\(macText)\", ipv4: \(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff) }\n"
        }
        return text
    }

    /// Loads the generated scenario with `count` expectations, `repeats` times; the fastest load.
    public static func expectations(_ count: Int, repeats: Int = 3) throws -> LoadBenchmarkResult {
        let text = scenarioText(expectations: count)
        let seconds = try fastest(of: repeats) {
            let scenario = try Scenario.parseAll(text, file: "load.yml", directory: NSTemporaryDirectory()).get()
            guard scenario.expectations.count == count else { throw LoadBenchmarkError("loaded \(scenario.expectations.count) expectations of \(count)") }
        }
        return LoadBenchmarkResult(file: .expectations, items: count, bytes: text.utf8.count, seconds: seconds)
    }

    /// Loads the generated bridge.yml with `count` reservations, `repeats` times; the fastest load.
    public static func reservations(_ count: Int, repeats: Int = 3) throws -> LoadBenchmarkResult {
        let text = bridgeText(reservations: count)
        let seconds = try fastest(of: repeats) {
            let config = try BridgeConfig.parse(text, file: "bridge.yml")
            let loaded = config.router?.interfaces.first?.dhcp?.reservations.count ?? 0
            guard loaded == count else { throw LoadBenchmarkError("loaded \(loaded) reservations of \(count)") }
        }
        return LoadBenchmarkResult(file: .reservations, items: count, bytes: text.utf8.count, seconds: seconds)
    }

    /// The least-squares slope of log(seconds) against log(items).
    public static func growthExponent(_ results: [LoadBenchmarkResult]) -> Double? {
        let points = results.filter { $0.seconds > 0 && $0.items > 0 }.map { (log(Double($0.items)), log($0.seconds)) }
        guard points.count >= 2 else { return nil }
        let mx = points.map(\.0).reduce(0, +) / Double(points.count), my = points.map(\.1).reduce(0, +) / Double(points.count)
        let sxx = points.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
        guard sxx > 0 else { return nil }
        return points.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +) / sxx
    }

    static func fastest(of repeats: Int, _ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let began = clock.now
            try body()
            let d = clock.now - began
            best = min(best, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        return best
    }
}

/// A generated file did not load as it should.
public struct LoadBenchmarkError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
