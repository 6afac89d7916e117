// HMAC-BLAKE2s and WireGuard's KDF1/2/3, against wireguard-go's device/kdf_test.go.
import Testing
@testable import Crypto

@Test func hmacBLAKE2sMatchesAnIndependentImplementation() {
    // Expected values from Python's hmac.new(key, msg, hashlib.blake2s) (RFC 2104 over BLAKE2s-256, B = 64).
    func mac(_ key: [UInt8], _ message: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { k in message.withUnsafeBytes { m in
            out.withUnsafeMutableBytes { HMACBLAKE2s.authenticate(key: k, data: m, into: $0) } } }
        return out.hex
    }
    #expect(mac(Array("sluice-key".utf8), Array("The quick brown fox jumps over the lazy dog".utf8))
        == "ef8c94a03ee495ef3e5e4b787c7b0be1e7ec44a8e3e6cfd2b5e9532a7b8d5261")
    // A key longer than the block is hashed first.
    #expect(mac((0..<100).map { UInt8($0) }, Array("abc".utf8))
        == "c1b751501db12b753069a918627b623179be55c8cc7ca5c4e14bdf32274ac656")
}

/// wireguard-go device/kdf_test.go TestKDF: (key, input, t0, t1, t2).
private let kdfVectors: [(String, String, String, String, String)] = [
    ("746573742d6b6579", "746573742d696e707574",
     "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
     "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
     "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"),
    ("776972656775617264", "776972656775617264",
     "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
     "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
     "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"),
    ("", "",
     "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
     "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
     "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"),
]

@Test func wireguardGoKDFVectors() {
    for (key, input, t0, t1, t2) in kdfVectors {
        let k = [UInt8](hex: key)!, i = [UInt8](hex: input)!
        for n in 1...3 {
            var outs = [[UInt8]](repeating: [UInt8](repeating: 0, count: 32), count: n)
            k.withUnsafeBytes { kb in i.withUnsafeBytes { ib in
                let pointers = (0..<n).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 1) }
                HKDF.derive(key: kb, input: ib, outputs: pointers)
                for j in 0..<n { outs[j] = Array(pointers[j]); pointers[j].deallocate() }
            } }
            #expect(outs[0].hex == t0, "KDF\(n) t0 for key \(key)")
            if n >= 2 { #expect(outs[1].hex == t1, "KDF\(n) t1") }
            if n >= 3 { #expect(outs[2].hex == t2, "KDF\(n) t2") }
        }
    }
}

@Test func kdfOnSecretKeysMayOverwriteTheChainingKey() {
    // The handshake writes KDF2's first output over the chaining key it reads; check that aliasing is safe.
    let ck = SecretKey([UInt8](repeating: 7, count: 32))!
    let expected0 = SecretKey(), expected1 = SecretKey()
    let input: [UInt8] = Array("input".utf8)
    input.withUnsafeBytes { HKDF.kdf2(key: ck.copy(), input: $0, expected0, expected1) }
    let k = SecretKey()
    input.withUnsafeBytes { HKDF.kdf2(key: ck, input: $0, ck, k) }
    #expect(ck == expected0)
    #expect(k == expected1)
    #expect(!(ck == k))
}
