// Every parser in Wire throws one of these; none ever traps on hostile bytes.

/// Why a frame, packet or message was rejected. Small and `Equatable`, so tests and drop
/// counters can name the reason exactly.
public enum WireError: Error, Equatable, Sendable {
    /// Fewer bytes than the header or a length field requires.
    case truncated(needed: Int, have: Int)
    /// A length field disagrees with the bytes present or with itself.
    case badLength
    /// A checksum did not verify.
    case badChecksum
    /// A version, type or code this codec does not handle.
    case unsupported(String)
    /// A field holds a value the specification forbids.
    case malformed(String)
    /// The caller's output buffer is too small to emit into.
    case noSpace(needed: Int, have: Int)
}
