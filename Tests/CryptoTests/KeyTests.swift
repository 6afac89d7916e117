// X25519, secret-key storage, base64 keys and TAI64N.
import Testing
@testable import Crypto

@Test func x25519RFC7748Section61() {
    let alice = KeyPair(privateKey: SecretKey(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")!)
    let bob = KeyPair(privateKey: SecretKey(hex: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")!)
    #expect(alice.publicKey == PublicKey(hex: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
    #expect(bob.publicKey == PublicKey(hex: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
    let k1 = X25519.sharedSecret(privateKey: alice.privateKey, publicKey: bob.publicKey)
    let k2 = X25519.sharedSecret(privateKey: bob.privateKey, publicKey: alice.publicKey)
    let expected = SecretKey(hex: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")!
    #expect(k1 == expected)
    #expect(k2 == expected)
}

@Test func x25519RejectsAllZeroOutputs() {
    let me = KeyPair.random()
    // The zero point and the point of order 1 (u = 1) give an all-zero shared secret.
    var one = [UInt8](repeating: 0, count: 32); one[0] = 1
    for bad in [PublicKey.zero, PublicKey(one)!] {
        #expect(X25519.sharedSecret(privateKey: me.privateKey, publicKey: bad) == nil)
    }
    #expect(X25519.sharedSecret(privateKey: me.privateKey, publicKey: KeyPair.random().publicKey) != nil)
}

@Test func secretKeyComparesByValueAndWipes() {
    let a = SecretKey((0..<32).map { UInt8($0) })!
    let b = a.copy()
    #expect(a == b)
    #expect(a !== b)
    b.withUnsafeMutableBytes { $0[31] ^= 1 }
    #expect(!(a == b))
    #expect(!a.isZero)
    a.wipe()
    #expect(a.isZero)
    #expect(SecretKey([1, 2, 3]) == nil)
    #expect(SecretKey(hex: "zz") == nil)
    #expect(!(SecretKey.random() == SecretKey.random()))
    #expect("\(b)" == "SecretKey(…)")
}

@Test func deterministicKeysRepeatPerSeed() {
    struct Counter: RandomNumberGenerator { var x: UInt64; mutating func next() -> UInt64 { x &+= 0x9E37_79B9; return x } }
    var g1 = Counter(x: 42), g2 = Counter(x: 42), g3 = Counter(x: 43)
    let a = KeyPair.deterministic(using: &g1), b = KeyPair.deterministic(using: &g2), c = KeyPair.deterministic(using: &g3)
    #expect(a.publicKey == b.publicKey)
    #expect(a.publicKey != c.publicKey)
}

@Test func base64KeysRoundTripAndRejectJunk() {
    let pub = PublicKey(hex: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")!
    #expect(pub.base64 == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=")
    #expect(PublicKey(base64: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=") == pub)
    let secret = SecretKey.random()
    #expect(SecretKey(base64: secret.base64) == secret)
    for junk in ["", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==",
                 "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb*mo=", "AAAA"] {
        #expect(PublicKey(base64: junk) == nil, "\(junk)")
    }
}

@Test func tai64nEncodesAndOrders() {
    // 2019-01-01T00:00:00.5Z = 1546300800.5 s after the epoch: 2^62 + 10 + 1546300800 = 0x400000005c2aad8a.
    let t = TAI64N(unixNanoseconds: 1_546_300_800_500_000_000)
    #expect(t.bytes.hex == "400000005c2aad8a1dcd6500")
    let parsed = t.bytes.withUnsafeBytes { TAI64N(bytes: $0) }
    #expect(parsed == t)
    #expect(TAI64N(unixNanoseconds: 1_546_300_800_500_000_001) > t)
    #expect(TAI64N(unixNanoseconds: 1_546_300_799_900_000_000) < t)
    #expect(t.whitened.nanoseconds == 500_000_000 & ~0xFF_FFFF)
    #expect([UInt8](repeating: 0, count: 11).withUnsafeBytes { TAI64N(bytes: $0) } == nil)
}
