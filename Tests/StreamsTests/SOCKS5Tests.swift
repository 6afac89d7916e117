import Testing
import Wire
@testable import Streams

/// A buffer placed at the end of a larger, dirty allocation, so a read past its end lands in bytes
/// that are not zero (and AddressSanitizer, when on, sees it).
func withDirty<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    var storage = [UInt8](repeating: 0xA5, count: bytes.count + 64)
    storage.replaceSubrange(0..<bytes.count, with: bytes)
    return storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<bytes.count])) }
}

func feed(_ m: inout SOCKS5ServerMachine, _ bytes: [UInt8]) -> [SOCKS5ServerAction] {
    withDirty(bytes) { m.receive($0) }
}

@Suite struct SOCKS5Tests {
    static let destinations: [StreamDestination] = [
        StreamDestination(host: .ipv4(IPv4Address(93, 184, 216, 34)), port: 80),
        StreamDestination(host: .ipv6(IPv6Address("2001:db8::1")!), port: 443),
        StreamDestination(host: .name("www.example.com"), port: 8080),
    ]

    @Test func messagesRoundTripAndRejectEveryTruncation() {
        for d in Self.destinations {
            for command in [UInt8(1), 2, 3] {
                let r = SOCKS5.Request(command: command, destination: d)
                let bytes = r.emit()!
                #expect(withDirty(bytes) { SOCKS5.Request.parse($0) } == .complete(r, consumed: bytes.count))
                for n in 0..<bytes.count {
                    #expect(withDirty(Array(bytes[0..<n])) { SOCKS5.Request.parse($0) } == .needMoreBytes, "\(n) of \(bytes.count)")
                }
            }
            let reply = SOCKS5.reply(.succeeded, bound: d)
            #expect(withDirty(reply) { SOCKS5.Reply.parse($0) } == .complete(SOCKS5.Reply(code: 0, bound: d), consumed: reply.count))
            var datagram = SOCKS5.UDPHeader.emit(d)! + [1, 2, 3]
            let parsed = withDirty(datagram) { SOCKS5.UDPHeader.parse($0) }
            #expect(parsed == .success(SOCKS5.UDPHeader(fragment: 0, destination: d, payload: (datagram.count - 3)..<datagram.count)))
            for n in 0..<(datagram.count - 3) {
                #expect(withDirty(Array(datagram[0..<n])) { SOCKS5.UDPHeader.parse($0) } == .failure(.truncated))
            }
            datagram[2] = 1
            #expect(withDirty(datagram) { SOCKS5.UDPHeader.parse($0) } == .failure(.fragment))
            datagram[2] = 0; datagram[1] = 9
            #expect(withDirty(datagram) { SOCKS5.UDPHeader.parse($0) } == .failure(.reservedNotZero))
        }
        let up = SOCKS5.UsernamePassword(username: Array("alice".utf8), password: Array("s3cret".utf8))
        let upBytes = up.emit()!
        #expect(withDirty(upBytes) { SOCKS5.UsernamePassword.parse($0) } == .complete(up, consumed: upBytes.count))
        for n in 0..<upBytes.count { #expect(withDirty(Array(upBytes[0..<n])) { SOCKS5.UsernamePassword.parse($0) } == .needMoreBytes) }
        let g = SOCKS5.Greeting(methods: [0, 2])
        for n in 0..<3 { #expect(withDirty(Array(g.emit()[0..<n])) { SOCKS5.Greeting.parse($0) } == .needMoreBytes) }
    }

    @Test func corruptedFieldsAreRefused() {
        #expect(withDirty([4, 1, 0]) { SOCKS5.Greeting.parse($0) } == .invalid("greeting version 4, not 5"))
        #expect(withDirty([5, 0]) { SOCKS5.Greeting.parse($0) } == .invalid("greeting offers no methods"))
        #expect(withDirty([5, 1, 1, 3, 0, 0]) { SOCKS5.Request.parse($0) } == .invalid("request reserved octet 1, not 0"))
        #expect(withDirty([5, 1, 0, 9, 0, 0]) { SOCKS5.Request.parse($0) } == .invalid("address type 9"))
        #expect(withDirty([5, 1, 0, 3, 0, 0, 80]) { SOCKS5.Request.parse($0) } == .invalid("empty domain name"))
        #expect(withDirty([5, 1, 0, 3, 3, 0x61, 0x00, 0x62, 0, 80]) { SOCKS5.Request.parse($0) } == .invalid("domain name is not a host name"))
        #expect(withDirty([1, 0, 1, 0x61]) { SOCKS5.UsernamePassword.parse($0) } == .invalid("empty username"))
    }

    @Test func connectWithoutAuthentication() {
        var m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy())
        let d = Self.destinations[2]
        // Greeting and request in one segment, then stream data pipelined behind them.
        let actions = feed(&m, SOCKS5.Greeting(methods: [0]).emit() + SOCKS5.Request(command: 1, destination: d).emit()! + [0x47, 0x45])
        #expect(actions == [.send([5, 0]), .connect(d, username: nil)])
        #expect(m.pendingPayload == [0x47, 0x45])
        let bound = StreamDestination(host: .ipv4(IPv4Address(10, 0, 0, 1)), port: 40000)
        #expect(m.connected(bound: bound) == [.send(SOCKS5.reply(.succeeded, bound: bound))])
        #expect(m.state == .established)
    }

    @Test func usernamePasswordOneByteAtATime() {
        var m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy(allowNoAuthentication: false, users: ["alice": "s3cret"]))
        let d = Self.destinations[0]
        let all = SOCKS5.Greeting(methods: [0, 2]).emit()
            + SOCKS5.UsernamePassword(username: Array("alice".utf8), password: Array("s3cret".utf8)).emit()!
            + SOCKS5.Request(command: 1, destination: d).emit()!
        var actions: [SOCKS5ServerAction] = []
        for b in all { actions += feed(&m, [b]).filter { $0 != .needMoreBytes } }
        #expect(actions == [.send([5, 2]), .send([1, 0]), .connect(d, username: "alice")])
    }

    @Test func refusalsCarryTheRFCCodes() {
        let policy = SOCKS5ServerPolicy(allowNoAuthentication: false, users: ["alice": "s3cret"])
        var m = SOCKS5ServerMachine(policy: policy)
        #expect(feed(&m, [5, 1, 0]) == [.send([5, 0xFF]), .close(.noAcceptableMethod)])
        #expect(m.state == .closed && feed(&m, [5, 1, 0]).isEmpty)

        m = SOCKS5ServerMachine(policy: policy)
        let wrong = SOCKS5.UsernamePassword(username: Array("alice".utf8), password: Array("guess".utf8)).emit()!
        #expect(feed(&m, [5, 1, 2] + wrong) == [.send([5, 2]), .send([1, 1]), .close(.wrongCredentials)])

        m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy())
        let bind = SOCKS5.Request(command: 2, destination: Self.destinations[0]).emit()!
        #expect(feed(&m, [5, 1, 0] + bind) == [.send([5, 0]), .send(SOCKS5.reply(.commandNotSupported)), .close(.commandNotSupported)])

        m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy())
        #expect(feed(&m, [5, 1, 0, 5, 1, 0, 7]) == [.send([5, 0]), .send(SOCKS5.reply(.addressTypeNotSupported)), .close(.addressTypeNotSupported)])

        m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy())
        let connect = SOCKS5.Request(command: 1, destination: Self.destinations[0]).emit()!
        _ = feed(&m, [5, 1, 0] + connect)
        #expect(m.failed(.notAllowedByRuleset) == [.send(SOCKS5.reply(.notAllowedByRuleset)), .close(.ruleRejected)])

        m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy(allowUDPAssociate: true))
        let udp = SOCKS5.Request(command: 3, destination: StreamDestination(host: .ipv4(.any), port: 0)).emit()!
        #expect(feed(&m, [5, 1, 0] + udp) == [.send([5, 0]), .associateUDP(StreamDestination(host: .ipv4(.any), port: 0), username: nil)])
        let relay = StreamDestination(host: .ipv4(IPv4Address(127, 0, 0, 1)), port: 5000)
        #expect(m.associated(relay: relay) == [.send(SOCKS5.reply(.succeeded, bound: relay))])
    }

    @Test func slowGarbageCostsBoundedMemory() {
        var m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy(maximumBytesBeforeRequest: 64))
        // A greeting announcing 255 methods that arrive one per segment: bounded by the limit.
        var last: [SOCKS5ServerAction] = feed(&m, [5, 255])
        var segments = 1
        while last == [.needMoreBytes] { last = feed(&m, [0]); segments += 1 }
        #expect(last == [.close(.tooManyBytes)])
        #expect(segments == 64)
    }

    @Test func seededRandomAndMutatedInputsNeverTrap() {
        var rng = SplitMix(seed: 0x50C5)
        let valid = SOCKS5.Greeting(methods: [0, 2]).emit()
            + SOCKS5.UsernamePassword(username: Array("alice".utf8), password: Array("pw".utf8)).emit()!
            + SOCKS5.Request(command: 1, destination: Self.destinations[2]).emit()!
        var outcomes: [String: Int] = [:]
        for round in 0..<3000 {
            var input = round % 3 == 0 ? (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } : valid
            if round % 3 != 0 {
                for _ in 0..<(1 + rng.next() % 3) { input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            var m = SOCKS5ServerMachine(policy: SOCKS5ServerPolicy(allowNoAuthentication: true, users: ["alice": "pw"]))
            var at = 0
            var last: [SOCKS5ServerAction] = []
            while at < input.count {
                let n = min(input.count - at, 1 + Int(rng.next() % 7))
                last = feed(&m, Array(input[at..<(at + n)])); at += n
                if m.state == .closed || m.state == .dialing { break }
            }
            _ = withDirty(input) { SOCKS5.UDPHeader.parse($0) }
            let key = last.last.map { "\($0)".prefix(while: { $0 != "(" }) }.map(String.init) ?? "none"
            outcomes[key, default: 0] += 1
        }
        // Mutations reach every outcome: still waiting, refused, and some still connect.
        #expect(outcomes["close", default: 0] > 100 && outcomes["connect", default: 0] > 10 && outcomes["needMoreBytes", default: 0] > 10, "\(outcomes)")
    }
}

/// SplitMix64 (the tests' own seeded generator).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
