// Shared helpers for the codec tests.
import Testing
@testable import Wire

/// A deterministic generator for tests. WireTests depends only on Wire (Package.swift), so
/// Basics' SeededRandom is not importable here; this is SplitMix64, seeded per test.
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: .min ... .max, using: &self) } }
}

/// Runs `emit` on a 512-byte buffer pre-filled with 0xAA garbage; returns the bytes it wrote.
func emitDirty(_ emit: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xAA, count: 512)
    let n = try buffer.withUnsafeMutableBytes { try emit($0) }
    return Array(buffer[0..<n])
}

/// Calls `parser` on `bytes` (in their own allocation, so a stray read past the end traps in
/// debug builds). Test closures cannot spell typed throws by inference, so `parser` throws
/// untyped; anything other than a `WireError` is itself a test failure.
func parse<T>(_ bytes: [UInt8], _ parser: (UnsafeRawBufferPointer) throws -> T) throws -> T {
    let copy = bytes
    do {
        return try copy.withUnsafeBytes { try parser($0) }
    } catch let error as WireError {
        throw error
    } catch {
        Issue.record("threw a non-WireError: \(error)")
        throw error
    }
}

/// Every strict prefix of `bytes` must be rejected with a `WireError` (never accepted, never a trap).
func expectRejectsEveryTruncation<T>(
    _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation,
    _ parser: (UnsafeRawBufferPointer) throws -> T
) {
    for n in 0..<bytes.count where rejection(Array(bytes[0..<n]), parser) == nil {
        Issue.record("accepted a truncation to \(n) of \(bytes.count) bytes", sourceLocation: sourceLocation)
    }
}

/// The error `parser` throws on `bytes`, or nil if it accepts them.
func rejection<T>(_ bytes: [UInt8], _ parser: (UnsafeRawBufferPointer) throws -> T) -> WireError? {
    do { _ = try parse(bytes, parser); return nil } catch { return error as? WireError }
}

/// Recomputes the IPv4 header checksum of `bytes[offset...]` after a test has edited a field.
func refreshIPv4Checksum(_ bytes: inout [UInt8], at offset: Int = 0) {
    let headerLength = Int(bytes[offset] & 0xF) * 4
    bytes[offset + 10] = 0; bytes[offset + 11] = 0
    let c = bytes.withUnsafeBytes { InternetChecksum.of($0.slice(offset..<offset + headerLength)) }
    bytes[offset + 10] = UInt8(c >> 8); bytes[offset + 11] = UInt8(c & 0xFF)
}
