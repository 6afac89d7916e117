// Conversions of outside numbers (a tool's JSON, a ping line, a bound in a file) that saturate
// instead of trapping: `Int64(someDouble)` traps on NaN, infinities and anything past Int64's
// range, and these numbers come from places the lab does not control.

enum Saturating {
    /// `value` rounded toward zero, clamped to Int's range; NaN is 0.
    static func int(_ value: Double) -> Int {
        guard !value.isNaN else { return 0 }
        if value >= 9.2e18 { return .max }
        if value <= -9.2e18 { return .min }
        return Int(value)
    }

    /// `value` rounded to the nearest whole number, clamped to UInt64's range; NaN and negatives are 0.
    static func uint64(_ value: Double) -> UInt64 {
        guard value > 0 else { return 0 }  // NaN too
        if value >= 1.8e19 { return .max }
        return UInt64(value.rounded())
    }

    /// `seconds` as a duration, clamped to 0...Int64.max nanoseconds; NaN is zero.
    static func duration(seconds: Double) -> Duration { duration(nanoseconds: seconds * 1e9) }

    /// `nanoseconds` as a duration, clamped to 0...Int64.max nanoseconds; NaN is zero.
    static func duration(nanoseconds: Double) -> Duration { .nanoseconds(Int64(clamping: max(0, int(nanoseconds.rounded())))) }
}
