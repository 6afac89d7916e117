// ChaCha20-Poly1305 (IETF) and XChaCha20-Poly1305 through the in-place wrappers.
import Testing
@testable import Crypto

@Test func chachaPolySealMatchesAnIndependentImplementation() {
    // Expected from Python cryptography's ChaCha20Poly1305 with nonce 00000000 || LE64(0x0102030405060708).
    let key = SecretKey((0..<32).map { UInt8($0) })!
    let plaintext = Array("WireGuard transport payload".utf8)
    var buffer = plaintext + [UInt8](repeating: 0xEE, count: 16)
    let ad = Array("header".utf8)
    let n = buffer.withUnsafeMutableBytes { b in ad.withUnsafeBytes { a in
        ChaCha20Poly1305.seal(key: key, counter: 0x0102_0304_0506_0708, buffer: b,
                              plaintextCount: plaintext.count, additionalData: a) } }
    #expect(n == plaintext.count + 16)
    #expect(buffer.hex == "a720df81ec4c8b6a008b5ebe121612c88f7486e4f8253cf23854c3d81539ed4e272a1473d3aa98c71b1df2")
    let m = buffer.withUnsafeMutableBytes { b in ad.withUnsafeBytes { a in
        ChaCha20Poly1305.open(key: key, counter: 0x0102_0304_0506_0708, buffer: b, ciphertextCount: n,
                              additionalData: a) } }
    #expect(m == plaintext.count)
    #expect(Array(buffer.prefix(plaintext.count)) == plaintext)
}

@Test func chachaPolyRejectsEveryTamperedByteAndWrongCounterOrKey() {
    let key = SecretKey.random()
    let plaintext: [UInt8] = Array(0..<40)
    var sealed = plaintext + [UInt8](repeating: 0, count: 16)
    sealed.withUnsafeMutableBytes { _ = ChaCha20Poly1305.seal(key: key, counter: 5, buffer: $0, plaintextCount: 40) }
    for i in sealed.indices {
        var copy = sealed
        copy[i] ^= 0x01
        let r = copy.withUnsafeMutableBytes { ChaCha20Poly1305.open(key: key, counter: 5, buffer: $0, ciphertextCount: 56) }
        #expect(r == nil, "flipped byte \(i) accepted")
        // libsodium wipes the output region of a failed open, so no unauthenticated plaintext escapes.
        #expect(copy.prefix(40).allSatisfy { $0 == 0 })
    }
    var copy = sealed
    #expect(copy.withUnsafeMutableBytes { ChaCha20Poly1305.open(key: key, counter: 6, buffer: $0, ciphertextCount: 56) } == nil)
    copy = sealed
    #expect(copy.withUnsafeMutableBytes { ChaCha20Poly1305.open(key: .random(), counter: 5, buffer: $0, ciphertextCount: 56) } == nil)
    copy = sealed
    #expect(copy.withUnsafeMutableBytes { ChaCha20Poly1305.open(key: key, counter: 5, buffer: $0, ciphertextCount: 15) } == nil)
    #expect(copy.withUnsafeMutableBytes { ChaCha20Poly1305.open(key: key, counter: 5, buffer: $0, ciphertextCount: 56) } == 40)
    #expect(Array(copy.prefix(40)) == plaintext)
}

@Test func xchachaPolyDraftVectorA31() {
    // draft-irtf-cfrg-xchacha-03 Appendix A.3.1.
    let key = SecretKey(hex: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")!
    let nonce = [UInt8](hex: "404142434445464748494a4b4c4d4e4f5051525354555657")!
    let ad = [UInt8](hex: "50515253c0c1c2c3c4c5c6c7")!
    let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
    let expected = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
        + "c0875924c1c7987947deafd8780acf49"
    var out = [UInt8](repeating: 0, count: plaintext.count + 16)
    nonce.withUnsafeBytes { n in ad.withUnsafeBytes { a in plaintext.withUnsafeBytes { p in out.withUnsafeMutableBytes { o in
        _ = XChaCha20Poly1305.seal(key: key, nonce: n, plaintext: p, additionalData: a, into: o) } } } }
    #expect(out.hex == expected)
    var back = [UInt8](repeating: 0, count: plaintext.count)
    let n = nonce.withUnsafeBytes { n in ad.withUnsafeBytes { a in out.withUnsafeBytes { c in back.withUnsafeMutableBytes { o in
        XChaCha20Poly1305.open(key: key, nonce: n, ciphertext: c, additionalData: a, into: o) } } } }
    #expect(n == plaintext.count)
    #expect(back == plaintext)
    out[3] ^= 0x80
    let bad = nonce.withUnsafeBytes { n in ad.withUnsafeBytes { a in out.withUnsafeBytes { c in back.withUnsafeMutableBytes { o in
        XChaCha20Poly1305.open(key: key, nonce: n, ciphertext: c, additionalData: a, into: o) } } } }
    #expect(bad == nil)
}
