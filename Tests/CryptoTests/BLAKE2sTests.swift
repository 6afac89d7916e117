// BLAKE2s against RFC 7693 (Appendix B and the Appendix E self-test) and the BLAKE2 reference KAT.
import Testing
@testable import Crypto

/// The KAT's input for entry n is the bytes 0, 1, …, n−1; keyed entries use the key 0x00…0x1f.
private func sequence(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0) } }

@Test func rfc7693AppendixBabc() {
    // RFC 7693 Appendix B: BLAKE2s-256("abc").
    #expect(BLAKE2s.hash(Array("abc".utf8)).hex
        == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
}

@Test func rfc7693AppendixESelfTest() {
    // RFC 7693 Appendix E: hash unkeyed and keyed digests of lengths 16/20/28/32 over inputs of 0…1024
    // bytes from a Fibonacci-like generator; the BLAKE2s-256 of all of them is fixed.
    func selftestSequence(_ count: Int, seed: UInt32) -> [UInt8] {
        var a: UInt32 = 0xDEAD_4BAD &* seed, b: UInt32 = 1
        return (0..<count).map { _ in
            let t = a &+ b; a = b; b = t
            return UInt8(truncatingIfNeeded: t >> 24)
        }
    }
    var all = BLAKE2s(outputLength: 32)
    for outlen in [16, 20, 28, 32] {
        for inlen in [0, 3, 64, 65, 255, 1024] {
            let input = selftestSequence(inlen, seed: UInt32(inlen))
            all.update(BLAKE2s.hash(input, outputLength: outlen))
            let key = selftestSequence(outlen, seed: UInt32(outlen))
            all.update(BLAKE2s.hash(input, outputLength: outlen, key: key))
        }
    }
    #expect(all.finalize().hex == "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe")
}

@Test(arguments: [
    // (input length, keyed, digest) — from BLAKE2/BLAKE2 testvectors/blake2-kat.json, "blake2s" entries.
    (0, false, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"),
    (1, false, "e34d74dbaf4ff4c6abd871cc220451d2ea2648846c7757fbaac82fe51ad64bea"),
    (3, false, "e8f91c6ef232a041452ab0e149070cdd7dd1769e75b3a5921be37876c45c9900"),
    (63, false, "e57cb79487dd57902432b250733813bd96a84efce59f650fac26e6696aefafc3"),
    (64, false, "56f34e8b96557e90c1f24b52d0c89d51086acf1b00f634cf1dde9233b8eaaa3e"),
    (65, false, "1b53ee94aaf34e4b159d48de352c7f0661d0a40edff95a0b1639b4090e974472"),
    (255, false, "f03f5789d3336b80d002d59fdf918bdb775b00956ed5528e86aa994acb38fe2d"),
    (0, true, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"),
    (1, true, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"),
    (2, true, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803"),
    (3, true, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b"),
    (64, true, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"),
    (255, true, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd"),
])
func referenceKAT(length: Int, keyed: Bool, digest: String) {
    let key = keyed ? sequence(32) : []
    #expect(BLAKE2s.hash(sequence(length), key: key).hex == digest)
}

@Test func incrementalEqualsOneShotAtEverySplit() {
    let data = sequence(200)
    let key: [UInt8] = [1, 2, 3]
    let whole = BLAKE2s.hash(data, outputLength: 16, key: key)
    for split in [0, 1, 63, 64, 65, 128, 199, 200] {
        var state = key.withUnsafeBytes { BLAKE2s(outputLength: 16, key: $0) }
        state.update(Array(data[..<split]))
        state.update(Array(data[split...]))
        #expect(state.finalize() == whole, "split at \(split)")
    }
    #expect(whole.count == 16)
    #expect(whole != Array(BLAKE2s.hash(data, key: key).prefix(16)), "nn is in the parameter block")
}
