import Crypto
import Testing
@testable import Tunnel

@Suite struct KeyTextTests {
    @Test func genkeyIsAClampedBase64Key() throws {
        var seen = Set<String>()
        for _ in 0..<32 {
            let text = KeyText.generatePrivateKey()
            #expect(text.utf8.count == 44 && text.hasSuffix("="))
            let bytes = try #require(KeyBase64.decode(text))
            // RFC 7748 §5 clamping, as wg genkey does it.
            #expect(bytes[0] & 7 == 0)
            #expect(bytes[31] & 0x80 == 0 && bytes[31] & 0x40 != 0)
            seen.insert(text)
        }
        #expect(seen.count == 32)
    }

    @Test func genpskIs32RandomBytes() throws {
        let a = KeyText.generatePresharedKey(), b = KeyText.generatePresharedKey()
        #expect(try #require(KeyBase64.decode(a)).count == 32)
        #expect(a != b)
    }

    /// RFC 7748 §6.1: Alice's private key and public key.
    @Test func pubkeyMatchesRFC7748() throws {
        let privateKey = try #require(SecretKey(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let expected = try #require(PublicKey(hex: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        for suffix in ["", "\n", " \t\n", "\n\n"] {
            let out = try KeyText.publicKey(fromPrivateKeyInput: Array((privateKey.base64 + suffix).utf8))
            #expect(out == expected.base64, "suffix \(suffix.debugDescription)")
        }
    }

    @Test func pubkeyRejectsWhatWgRejects() {
        let good = SecretKey.random().base64
        let cases: [(String, KeyTextError)] = [
            ("", .badKey),
            ("abc\n", .badKey),
            (String(good.dropLast()) + "\n", .badKey),                // 43 characters then a newline
            (" " + good, .trailingCharacters),                        // wg reads exactly 44 first
            (good + "x", .trailingCharacters),
            (good + "\n" + good, .trailingCharacters),
            (String(good.dropLast()) + "!", .badKey),                  // not base64
            (String(repeating: "A", count: 44), .badKey),              // no '=' padding
        ]
        for (input, error) in cases {
            #expect(throws: error, "\(input.debugDescription)") { try KeyText.publicKey(fromPrivateKeyInput: Array(input.utf8)) }
        }
    }
}
