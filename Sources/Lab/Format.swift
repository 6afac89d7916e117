// Numbers, durations, rates and times as the scenario format writes them ("5ms", "2%",
// "100mbit", "1.250000s"), so that messages and reports quote values the way a user would type
// them. Locale-free and deterministic.
import Basics

/// Formatting shared by messages and reports.
public enum Format {
    /// A number with up to `digits` decimals, trailing zeros dropped ("1.5", "2", "0.125").
    public static func number(_ value: Double, digits: Int = 3) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return "\(value)" }  // Int64(value) would trap past 9.2e18
        let whole = UInt64(scaled) / UInt64(scale)
        var fraction = String(UInt64(scaled) % UInt64(scale))
        fraction = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let sign = value < 0 && scaled != 0 ? "-" : ""
        return fraction.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }

    /// "250ms", "1.5s", "20us", "0s".
    public static func duration(_ d: Duration) -> String { duration(nanoseconds: Double(d.nanosecondsClamped)) }

    /// `duration` for a value in nanoseconds.
    public static func duration(nanoseconds ns: Double) -> String {
        let a = abs(ns)
        if a == 0 { return "0s" }
        if a >= 3_600e9 && (ns / 3_600e9).rounded() == ns / 3_600e9 { return "\(number(ns / 3_600e9))h" }
        if a >= 1e9 { return "\(number(ns / 1e9))s" }
        if a >= 1e6 { return "\(number(ns / 1e6))ms" }
        if a >= 1e3 { return "\(number(ns / 1e3))us" }
        return "\(number(ns))ns"
    }

    /// "2%", "0.5%".
    public static func percent(_ fraction: Double) -> String { "\(number(fraction * 100))%" }

    /// "100mbit", "1.5gbit", "512kbit", "300bit".
    public static func bitRate(_ bitsPerSecond: Double) -> String {
        let b = bitsPerSecond
        if b >= 1e9 { return "\(number(b / 1e9))gbit" }
        if b >= 1e6 { return "\(number(b / 1e6))mbit" }
        if b >= 1e3 { return "\(number(b / 1e3))kbit" }
        return "\(number(b))bit"
    }

    /// A capture time as seconds since the run started, to the microsecond ("12.000345s").
    public static func time(_ instant: Instant) -> String {
        let us = (instant.nanoseconds + 500) / 1000
        let frac = String(us % 1_000_000)
        return "\(us / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac)s"
    }

    /// A value of `unit` (given in the unit's base) as the file would write it.
    public static func value(_ v: Double, unit: ValueUnit) -> String {
        switch unit {
        case .count: number(v)
        case .fraction: percent(v)
        case .duration: duration(nanoseconds: v)
        case .bitRate: bitRate(v)
        case .bool: v != 0 ? "true" : "false"
        case .address, .addressList: number(v)
        }
    }

    /// "≥ 15, ≤ 20" for a list of comparisons on values of `unit`.
    public static func comparisons(_ list: [Comparison], unit: ValueUnit) -> String {
        list.map { "\($0.op.symbol) \(value($0.value, unit: unit))" }.joined(separator: ", ")
    }
}
