// Message codecs, constants, replay window, allowed IPs, padding.
import Basics
import Crypto
import Wire
@testable import WireGuard

import Testing

@Test func initialChainingKeyAndHashFromTheConstruction() {
    // C_i = HASH(CONSTRUCTION), H_i = HASH(C_i || IDENTIFIER) — values from Python's hashlib.blake2s.
    #expect(NoiseIK.initialChainKey.hex == "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
    #expect(NoiseIK.initialHash.bytes.hex == "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3")
}

@Test func messageCodecsRoundTripAndRejectEveryTruncation() throws {
    let initiation = HandshakeInitiation(sender: 0x0102_0304, ephemeral: KeyPair.random().publicKey,
                                         encryptedStatic: Array(repeating: 7, count: 48),
                                         encryptedTimestamp: Array(repeating: 8, count: 28),
                                         mac1: Array(repeating: 9, count: 16), mac2: Array(repeating: 10, count: 16))
    let response = HandshakeResponse(sender: 5, receiver: 6, ephemeral: KeyPair.random().publicKey,
                                     encryptedNothing: Array(repeating: 1, count: 16))
    let cookie = CookieReply(receiver: 77, nonce: Array(0..<24), encryptedCookie: Array(0..<32))
    // Emit into a dirty buffer, parse back.
    var dirty = [UInt8](repeating: 0xCC, count: 200)
    let written = try dirty.withUnsafeMutableBytes { (b) throws -> [Int] in
        [try initiation.write(to: b), try response.write(to: b.slice(from: 0)), try cookie.write(to: b.slice(from: 0))]
    }
    #expect(written == [148, 92, 64])
    dirty = [UInt8](repeating: 0xCC, count: 200)
    _ = try dirty.withUnsafeMutableBytes { (b) throws -> Int in try initiation.write(to: b) }
    #expect(try Array(dirty.prefix(148)).withUnsafeBytes { (b) throws -> HandshakeInitiation in try HandshakeInitiation(parsing: b) } == initiation)
    _ = try dirty.withUnsafeMutableBytes { (b) throws -> Int in try response.write(to: b) }
    #expect(try Array(dirty.prefix(92)).withUnsafeBytes { (b) throws -> HandshakeResponse in try HandshakeResponse(parsing: b) } == response)
    _ = try dirty.withUnsafeMutableBytes { (b) throws -> Int in try cookie.write(to: b) }
    #expect(try Array(dirty.prefix(64)).withUnsafeBytes { (b) throws -> CookieReply in try CookieReply(parsing: b) } == cookie)
    #expect(initiation.bytes.count == WireGuardConstants.messageInitiationSize)
    #expect(Array(initiation.bytes[0..<8]) == [1, 0, 0, 0, 4, 3, 2, 1], "type and little-endian sender")
    for n in 0..<148 {
        #expect(throws: WireError.self) { try Array(initiation.bytes.prefix(n)).withUnsafeBytes { _ = try HandshakeInitiation(parsing: $0) } }
    }
    for n in 0..<92 {
        #expect(throws: WireError.self) { try Array(response.bytes.prefix(n)).withUnsafeBytes { _ = try HandshakeResponse(parsing: $0) } }
    }
    for n in 0..<64 {
        #expect(throws: WireError.self) { try Array(cookie.bytes.prefix(n)).withUnsafeBytes { _ = try CookieReply(parsing: $0) } }
    }
    // Non-zero reserved bytes make an unknown type.
    var bad = initiation.bytes
    bad[2] = 1
    #expect(throws: WireError.self) { try bad.withUnsafeBytes { _ = try HandshakeInitiation(parsing: $0) } }
    // Transport header.
    var t = [UInt8](repeating: 0xEE, count: 32)
    t.withUnsafeMutableBytes { TransportHeader(receiver: 9, counter: 0x0102_0304_0506_0708).write(to: $0) }
    #expect(Array(t[0..<16]) == [4, 0, 0, 0, 9, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1])
    #expect(try t.withUnsafeBytes { try TransportHeader(parsing: $0) } == TransportHeader(receiver: 9, counter: 0x0102_0304_0506_0708))
    #expect(throws: WireError.self) { try Array(t.prefix(31)).withUnsafeBytes { _ = try TransportHeader(parsing: $0) } }
}

@Test func paddingToSixteenWithinTheMTU() {
    #expect(TransportHeader.paddedLength(0) == 0)
    #expect(TransportHeader.paddedLength(1) == 16)
    #expect(TransportHeader.paddedLength(16) == 16)
    #expect(TransportHeader.paddedLength(1419) == 1424)
    #expect(TransportHeader.paddedLength(1419, mtu: 1420) == 1420)
    #expect(TransportHeader.paddedLength(1420, mtu: 1420) == 1420)
}

@Test func replayWindowAcceptsOnceAndSlides() {
    var w = ReplayWindow()
    let limit = WireGuardConstants.rejectAfterMessages
    func accept(_ c: UInt64) -> Bool { w.validate(c, limit: limit) }
    #expect(accept(0))
    #expect(!accept(0))
    #expect(accept(2))
    #expect(accept(1), "out of order within the window is fine")
    #expect(!accept(1))
    #expect(accept(3000))
    #expect(!accept(3000 - ReplayWindow.windowSize - 1), "behind the window")
    #expect(accept(3000 - ReplayWindow.windowSize), "at the window's far edge")
    #expect(accept(2999))
    #expect(!w.wouldAccept(2999, limit: limit))
    #expect(w.wouldAccept(2998, limit: limit))
    #expect(!accept(limit))
    #expect(!accept(.max))
    #expect(ReplayWindow.ringBlocks * 64 == 2048)
    // A big jump clears the whole ring: old bits must not leak into the new window.
    var v = ReplayWindow()
    func acceptV(_ c: UInt64) -> Bool { v.validate(c, limit: limit) }
    for c in 0..<64 { #expect(acceptV(UInt64(c))) }
    #expect(acceptV(64 * 32 * 10))
    #expect(acceptV(64 * 32 * 10 - 64 * 32 + 64))
}

@Test func allowedIPsLongestPrefixMatch() {
    var t = AllowedIPs()
    t.insert(IPv4Network("0.0.0.0/0")!, peer: 0)
    t.insert(IPv4Network("10.0.0.0/8")!, peer: 1)
    t.insert(IPv4Network("10.1.0.0/16")!, peer: 2)
    t.insert(IPv4Network("10.1.2.3/32")!, peer: 3)
    #expect(t.lookup(IPv4Address("8.8.8.8")!) == 0)
    #expect(t.lookup(IPv4Address("10.200.0.1")!) == 1)
    #expect(t.lookup(IPv4Address("10.1.9.9")!) == 2)
    #expect(t.lookup(IPv4Address("10.1.2.3")!) == 3)
    #expect(t.lookup(IPv4Address("10.1.2.4")!) == 2)
    t.remove(peer: 0)
    #expect(t.lookup(IPv4Address("8.8.8.8")!) == nil)
    #expect(t.networks(of: 2) == [IPv4Network("10.1.0.0/16")!])
    t.insert(IPv4Network("10.1.0.0/16")!, peer: 3)
    #expect(t.lookup(IPv4Address("10.1.9.9")!) == 3, "re-inserting moves the network")
}

/// The compressed trie against a linear longest-prefix scan: random networks (clustered so that prefixes nest,
/// split and repeat), inserted in random order, then random and boundary addresses looked up.
@Test func allowedIPsMatchesLinearScan() {
    var random = SeededRandom(seed: 42)
    for round in 0..<50 {
        var t = AllowedIPs()
        var routes: [(network: IPv4Network, peer: Int)] = []
        for _ in 0..<(1 + round % 20) {
            let base = UInt32(truncatingIfNeeded: random.next()) & (round % 2 == 0 ? 0x0A0F_0FFF : 0xFFFF_FFFF)
            let length = Int(random.next() % 33)
            let network = IPv4Network(address: IPv4Address(rawValue: base), prefixLength: length)!
            let peer = Int(random.next() % 5)
            t.insert(network, peer: peer)
            routes.removeAll { $0.network.networkAddress == network.networkAddress && $0.network.prefixLength == length }
            routes.append((network, peer))
        }
        func expected(_ a: UInt32) -> Int? {
            routes.filter { $0.network.contains(IPv4Address(rawValue: a)) }.max { $0.network.prefixLength < $1.network.prefixLength }?.peer
        }
        var probes = routes.flatMap { [$0.network.networkAddress.rawValue, $0.network.broadcastAddress.rawValue,
                                       $0.network.networkAddress.rawValue &- 1, $0.network.broadcastAddress.rawValue &+ 1] }
        for _ in 0..<200 { probes.append(UInt32(truncatingIfNeeded: random.next()) & 0x0A0F_0FFF) }
        for a in probes { #expect(t.lookup(IPv4Address(rawValue: a)) == expected(a), "round \(round), \(IPv4Address(rawValue: a))") }
        for peer in 0..<5 {
            let mine = routes.filter { $0.peer == peer }.map { IPv4Network(address: $0.network.networkAddress, prefixLength: $0.network.prefixLength)! }
            #expect(Set(t.networks(of: peer)) == Set(mine), "round \(round), peer \(peer)")
        }
    }
}

/// The receiver-index table against a Dictionary: seeded random inserts, overwrites and removals (including
/// indices that collide in the table's low bits), every key looked up after each step, through several growths.
@Test func indexTableMatchesDictionary() {
    var random = SeededRandom(seed: 7)
    var table = IndexTable(capacity: 8)
    var reference: [UInt32: Int] = [:]
    // A small key space, so that inserts hit existing keys, removals hit present ones and home slots collide.
    let keys: [UInt32] = (0..<48).map { UInt32($0) << 27 | UInt32($0 % 3) }
    func peer(_ e: WireGuardDevice.IndexEntry?) -> Int? { e?.peer }
    for step in 0..<4000 {
        let key = keys[Int(random.next() % UInt64(keys.count))]
        if random.next() % 3 == 0 {
            table[key] = nil; reference[key] = nil
        } else {
            let p = Int(random.next() % 1000)
            table[key] = .handshake(peer: p); reference[key] = p
        }
        #expect(table.count == reference.count, "step \(step)")
        for k in keys where peer(table[k]) != reference[k] {
            Issue.record("step \(step): key \(k) is \(String(describing: peer(table[k]))), expected \(String(describing: reference[k]))")
        }
    }
    #expect(table[12345] == nil)
}
