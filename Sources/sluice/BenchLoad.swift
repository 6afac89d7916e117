// Room: sluice — layer 7. `sluice bench load`: how loading a scenario and a bridge.yml grows with
// their size (Lab's LoadBenchmark generates the files and times the loads).
import ArgumentParser
import Foundation
import Lab

/// `sluice bench load [--expectations 5000,50000] [--reservations 10000,100000]`.
struct BenchLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Measure how loading grows: scenario expectations and bridge.yml reservations.",
        discussion: """
        Generates a scenario with N expectations and a bridge.yml with N DHCP reservations, and \
        times parsing and validation (the fastest of --repeat loads) at each size. The growth \
        exponent is the log-log slope of time against N: 1 is linear, 2 quadratic.
        """)

    @Option(name: .long, help: "Expectation counts, comma-separated (1...1000000).")
    var expectations: String = "5000,50000"

    @Option(name: .long, help: "Reservation counts, comma-separated (1...1000000).")
    var reservations: String = "10000,100000"

    @Option(name: .long, help: "Loads per size; the fastest counts (1...20).")
    var `repeat`: Int = 3

    func run() throws {
        let e = try commaSeparatedIntegers(expectations, in: 1...1_000_000, naming: "expectation count").sorted()
        let r = try commaSeparatedIntegers(reservations, in: 1...1_000_000, naming: "reservation count").sorted()
        guard (1...20).contains(`repeat`) else { throw ValidationError("--repeat must be 1...20") }
        #if DEBUG
        print("note: this is a debug build; build with -c release for meaningful numbers")
        #endif
        print("file | items | MB | seconds | µs/item")
        func row(_ x: LoadBenchmarkResult) {
            print("\(x.file.rawValue) | \(x.items) | \(String(format: "%.2f", Double(x.bytes) / 1e6)) | "
                  + "\(String(format: "%.3f", x.seconds)) | \(String(format: "%.2f", x.seconds * 1e6 / Double(x.items)))")
        }
        var results: [[LoadBenchmarkResult]] = [[], []]
        for n in e { let x = try LoadBenchmark.expectations(n, repeats: `repeat`); row(x); results[0].append(x) }
        for n in r { let x = try LoadBenchmark.reservations(n, repeats: `repeat`); row(x); results[1].append(x) }
        for (name, set) in zip(["expectations", "reservations"], results) {
            let line = LoadBenchmark.growthExponent(set).map { String(format: "%.2f", $0) } ?? "needs two sizes"
            print("growth exponent, \(name) (log-log slope of time vs count; 1 is linear): \(line)")
        }
    }
}
