// Text armour for the mesh's files, in the shape of PEM (RFC 7468) without its ASN.1: one or more blocks
//
//   -----BEGIN SLUICE MESH CERTIFICATE-----
//   <standard base64 of the bytes, 64 characters a line>
//   -----END SLUICE MESH CERTIFICATE-----
//
// Kinds: CERTIFICATE, SIGNING KEY (an Ed25519 seed — secret), REVOCATION LIST, INVITE (secret). Text outside blocks is ignored
// (comments); anything malformed inside is a located error.

import Crypto

/// What an armoured block holds.
public enum ArmorKind: String, Sendable, CaseIterable {
    case certificate = "CERTIFICATE"
    case signingKey = "SIGNING KEY"
    case revocationList = "REVOCATION LIST"
    /// A join invite (secret): Sources/Mesh/MeshInvite.swift.
    case invite = "INVITE"
}

/// A problem in an armoured file: the 1-based line and what is wrong.
public struct ArmorError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// Encoding and decoding of armoured blocks.
public enum Armor {
    static let prefix = "SLUICE MESH "

    /// One block of `kind` around `bytes`.
    public static func encode(_ kind: ArmorKind, _ bytes: [UInt8]) -> String {
        let text = Base64.encode(bytes)
        var lines = ["-----BEGIN \(prefix)\(kind.rawValue)-----"]
        var rest = Substring(text)
        while !rest.isEmpty { lines.append(String(rest.prefix(64))); rest = rest.dropFirst(64) }
        lines.append("-----END \(prefix)\(kind.rawValue)-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every block of `text`, in order, with the line each began on.
    public static func decode(_ text: String) throws(ArmorError) -> [(kind: ArmorKind, bytes: [UInt8], line: Int)] {
        var out: [(kind: ArmorKind, bytes: [UInt8], line: Int)] = []
        var open: (kind: ArmorKind, line: Int, body: String)? = nil
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = String(raw).replacingCarriageReturn().trimmingCharacters()
            let number = i + 1
            if line.hasPrefix("-----BEGIN ") {
                guard open == nil else { throw ArmorError(line: number, message: "BEGIN inside a block (missing END?)") }
                guard let kind = blockKind(of: line, marker: "BEGIN") else {
                    throw ArmorError(line: number, message: "unknown block \"\(line)\"; expected one of: "
                        + ArmorKind.allCases.map { "BEGIN \(prefix)\($0.rawValue)" }.joined(separator: ", "))
                }
                open = (kind, number, "")
            } else if line.hasPrefix("-----END ") {
                guard let block = open else { throw ArmorError(line: number, message: "END without BEGIN") }
                guard blockKind(of: line, marker: "END") == block.kind else {
                    throw ArmorError(line: number, message: "END does not match the BEGIN on line \(block.line)")
                }
                guard let bytes = Base64.decode(block.body) else {
                    throw ArmorError(line: block.line, message: "the block's base64 does not decode")
                }
                out.append((kind: block.kind, bytes: bytes, line: block.line))
                open = nil
            } else if open != nil {
                open!.body += line
            }
        }
        if let block = open { throw ArmorError(line: block.line, message: "block not closed (no END line)") }
        return out
    }

    static func blockKind(of line: String, marker: String) -> ArmorKind? {
        let head = "-----\(marker) \(prefix)", tail = "-----"
        guard line.hasPrefix(head), line.hasSuffix(tail), line.count > head.count + tail.count else { return nil }
        return ArmorKind(rawValue: String(line.dropFirst(head.count).dropLast(tail.count)))
    }
}

extension String {
    func replacingCarriageReturn() -> String { hasSuffix("\r") ? String(dropLast()) : self }
}
