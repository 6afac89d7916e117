// Chain validation (docs/mesh.md, "Validation"): root → [organization CA] → node. At each link the issuer must be a
// CA whose key verifies the child's signature over its exact bytes; the child must lie inside the issuer in every
// respect (validity, addresses, prefixes, groups, capabilities, organization, path length); nothing on the path may
// be revoked, by serial or by key; every certificate must be valid now, ±60 s.

import Crypto

/// The trusted roots: self-signed CA certificates, checked when added.
public struct TrustAnchors: Sendable, Equatable {
    public private(set) var roots: [KeyID: Certificate] = [:]

    public init() {}

    /// Adds a root: a CA certificate that names itself as issuer and verifies under its own key.
    public mutating func add(_ root: Certificate) throws(CertificateError) {
        guard root.fields.isCA else { throw .issuerNotCA }
        guard root.fields.issuer == root.keyID else { throw .unknownIssuer }
        guard root.isSigned(by: root.signingKey) else { throw .badSignature }
        roots[root.keyID] = root
    }

    public init(_ roots: [Certificate]) throws(CertificateError) {
        for r in roots { try add(r) }
    }
}

/// A chain that passed every check: the node's certificate and the CAs above it, root last.
public struct ValidatedChain: Sendable, Equatable {
    public let node: Certificate
    /// The issuing CAs, nearest first; the last is the trusted root.
    public let issuers: [Certificate]
}

/// Validates node chains against roots and revocations.
public struct CertificateVerifier: Sendable {
    public var anchors: TrustAnchors
    public var revocations: RevocationSet
    public var skewSeconds: Int64

    public init(anchors: TrustAnchors, revocations: RevocationSet = .init(),
                skewSeconds: Int64 = MeshConstants.allowedSkewSeconds) {
        self.anchors = anchors; self.revocations = revocations; self.skewSeconds = skewSeconds
    }

    /// Validates `chain` (the node's certificate first, then at most one organization CA) at Unix time `now`.
    public func validate(_ chain: [Certificate], now: Int64) throws(CertificateError) -> ValidatedChain {
        guard let node = chain.first else { throw .malformed }
        guard chain.count <= MeshConstants.maxChainLength else { throw .chainTooLong }
        guard !node.fields.isCA else { throw .notANode }
        var child = node
        var intermediates = chain.dropFirst()
        var issuers: [Certificate] = []
        // Levels of CA below the issuer being checked: 0 for the node's issuer.
        var casBelow = 0
        while true {
            try checkTime(child, now: now)
            if let r = revocations.revocation(of: child) { throw child.fields.isCA ? .revokedIssuer : r }
            let issuer: Certificate
            let isRoot: Bool
            if let root = anchors.roots[child.fields.issuer] {
                issuer = root; isRoot = true
            } else if let next = intermediates.first, next.keyID == child.fields.issuer {
                issuer = next; isRoot = false
                intermediates = intermediates.dropFirst()
            } else {
                throw .unknownIssuer
            }
            guard issuer.fields.isCA else { throw .issuerNotCA }
            guard child.isSigned(by: issuer.signingKey) else { throw .badSignature }
            guard Int(issuer.fields.pathLength) >= casBelow else { throw .pathLengthExceeded }
            try Self.checkWithin(child: child.fields, issuer: issuer.fields)
            issuers.append(issuer)
            if isRoot {
                try checkTime(issuer, now: now)
                if revocations.revocation(of: issuer) != nil { throw .revokedIssuer }
                guard intermediates.isEmpty else { throw .chainTooLong }
                return ValidatedChain(node: node, issuers: issuers)
            }
            child = issuer
            casBelow += 1
        }
    }

    func checkTime(_ c: Certificate, now: Int64) throws(CertificateError) {
        if now.addingClamped(skewSeconds) < c.fields.notBefore { throw .notYetValid }
        if now.subtractingClamped(skewSeconds) > c.fields.notAfter { throw .expired }
    }

    /// A child never exceeds its issuer: the checks `sluice mesh ca sign` also runs before it signs.
    public static func checkWithin(child: CertificateFields, issuer: CertificateFields) throws(CertificateError) {
        guard child.notBefore >= issuer.notBefore, child.notAfter <= issuer.notAfter else {
            throw .validityExceedsIssuer
        }
        for a in child.addresses where !issuer.addresses.contains(where: { $0.covers(a) }) {
            throw .addressOutsideIssuer
        }
        for p in child.prefixes where !issuer.prefixes.contains(where: { $0.covers(p) }) {
            throw .prefixOutsideIssuer
        }
        if !issuer.groups.contains(CertificateFields.anyGroup) {
            for g in child.groups where !issuer.groups.contains(g) { throw .groupOutsideIssuer }
        }
        guard issuer.capabilities.isSuperset(of: child.capabilities) else { throw .capabilityOutsideIssuer }
        if !issuer.organization.isEmpty, child.organization != issuer.organization { throw .organizationMismatch }
        if child.isCA, child.pathLength >= issuer.pathLength { throw .pathLengthExceeded }
    }
}
