// Why a certificate, a chain or a revocation list was refused. Each is a drop reason: the handshake counts
// rejections per reason (raw values index the counters — append, never renumber).

/// A certificate or revocation-list rejection. Small, Equatable, one counter each.
public enum CertificateError: Int, Error, CaseIterable, Sendable, CustomStringConvertible {
    /// Truncated, trailing bytes, a length or count out of range, a non-canonical encoding, bad text.
    case malformed
    /// A version byte this implementation does not know.
    case unsupportedVersion
    /// The signature does not verify under the issuer's key (a forged or altered certificate).
    case badSignature
    /// The issuer is neither a trusted root nor the next certificate of the chain (a foreign CA).
    case unknownIssuer
    /// The issuing certificate is not a CA.
    case issuerNotCA
    /// A CA issued a CA below its path length.
    case pathLengthExceeded
    /// notAfter + skew is in the past.
    case expired
    /// notBefore − skew is in the future.
    case notYetValid
    /// Revoked by (issuer, serial).
    case revokedSerial
    /// Revoked by its public key.
    case revokedKey
    /// A CA above the node (organization CA or root) is revoked, by serial or key.
    case revokedIssuer
    /// The validity period reaches outside the issuer's.
    case validityExceedsIssuer
    /// An overlay address outside every network of the issuer.
    case addressOutsideIssuer
    /// A routable prefix outside every prefix of the issuer.
    case prefixOutsideIssuer
    /// A group the issuer does not hold (and the issuer has no "*").
    case groupOutsideIssuer
    /// A capability the issuer does not hold.
    case capabilityOutsideIssuer
    /// An organization CA signed for another organization.
    case organizationMismatch
    /// The chain's first certificate is a CA, not a node.
    case notANode
    /// More certificates than a chain may hold, or one that the path does not use.
    case chainTooLong

    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .unsupportedVersion: "unsupported version"
        case .badSignature: "bad signature"
        case .unknownIssuer: "unknown issuer (foreign CA)"
        case .issuerNotCA: "issuer is not a CA"
        case .pathLengthExceeded: "CA path length exceeded"
        case .expired: "expired"
        case .notYetValid: "not yet valid"
        case .revokedSerial: "revoked (serial)"
        case .revokedKey: "revoked (key)"
        case .revokedIssuer: "issuer revoked"
        case .validityExceedsIssuer: "validity exceeds the issuer's"
        case .addressOutsideIssuer: "address outside the issuer's networks"
        case .prefixOutsideIssuer: "prefix outside the issuer's prefixes"
        case .groupOutsideIssuer: "group outside the issuer's groups"
        case .capabilityOutsideIssuer: "capability the issuer lacks"
        case .organizationMismatch: "organization differs from the issuer's"
        case .notANode: "not a node certificate"
        case .chainTooLong: "chain too long or has unused certificates"
        }
    }
}
