// The server side of a SOCKS5 connection (RFC 1928, RFC 1929) up to the moment the stream is
// connected: bytes from the client in, actions out. The driver owns the socket, dials, and calls
// `connected`/`failed`; the machine holds at most `limits.maximumBytesBeforeRequest` bytes.
import Wire

/// What a listener offers: no authentication, username/password (RFC 1929), or both.
public struct SOCKS5ServerPolicy: Sendable {
    public var allowNoAuthentication: Bool
    /// Username → password; empty means RFC 1929 is not offered.
    public var users: [String: String]
    public var allowUDPAssociate: Bool
    /// Bytes the client may send before its request is complete (greeting + auth + request are at
    /// most 2+255 + 3+255+255 + 4+1+255+2 octets; anything pipelined after the request counts too).
    public var maximumBytesBeforeRequest: Int

    public init(allowNoAuthentication: Bool = true, users: [String: String] = [:], allowUDPAssociate: Bool = true,
                maximumBytesBeforeRequest: Int = 4096) {
        self.allowNoAuthentication = allowNoAuthentication; self.users = users
        self.allowUDPAssociate = allowUDPAssociate; self.maximumBytesBeforeRequest = maximumBytesBeforeRequest
    }
}

public enum SOCKS5ServerAction: Equatable, Sendable {
    /// Write these bytes to the client.
    case send([UInt8])
    /// Dial this destination, then call `connected(bound:)` or `failed(_:)`.
    case connect(StreamDestination, username: String?)
    /// Open a UDP relay for this client (the destination is the client's hint, often 0.0.0.0:0),
    /// then call `associated(relay:)` or `failed(_:)`.
    case associateUDP(StreamDestination, username: String?)
    /// Write what came before (if anything), then close: the reason is a counted refusal.
    case close(SOCKS5Refusal)
    /// Nothing to do until more bytes arrive.
    case needMoreBytes
}

/// Why a SOCKS5 connection was refused (counted by reason).
public enum SOCKS5Refusal: String, Sendable, CaseIterable {
    case badGreeting = "socks5_bad_greeting"
    case noAcceptableMethod = "socks5_no_acceptable_method"
    case badAuthentication = "socks5_bad_auth_message"
    case wrongCredentials = "socks5_wrong_credentials"
    case badRequest = "socks5_bad_request"
    case commandNotSupported = "socks5_command_not_supported"
    case addressTypeNotSupported = "socks5_address_type_not_supported"
    case tooManyBytes = "socks5_too_many_bytes"
    case bytesAfterClose = "socks5_bytes_out_of_turn"
    case ruleRejected = "socks5_rule_rejected"
    case dialFailed = "socks5_dial_failed"
}

public struct SOCKS5ServerMachine: Sendable {
    public enum State: Equatable, Sendable {
        case greeting, authentication, request
        /// Waiting for the driver's dial or UDP relay.
        case dialing
        /// Reply sent: from here the driver relays bytes (`connect`) or keeps the TCP connection
        /// open for the association's lifetime (`udpAssociate`).
        case established
        case closed
    }

    public private(set) var state: State = .greeting
    public let policy: SOCKS5ServerPolicy
    private var buffer: [UInt8] = []
    private var received = 0
    private var username: String?
    private var command: SOCKS5.Command = .connect

    public init(policy: SOCKS5ServerPolicy) { self.policy = policy }

    /// Bytes the client sent after its request (pipelined data): the driver forwards them once connected.
    public var pendingPayload: [UInt8] { state == .dialing || state == .established ? buffer : [] }

    /// The client's next bytes. Returns actions in order; the last is `.needMoreBytes`, a dial, or `.close`.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> [SOCKS5ServerAction] {
        switch state {
        case .closed: return []
        case .dialing, .established:
            // After the request, bytes are stream data; the driver relays them. While dialing, keep
            // them within the same bound.
            if state == .established { return [] }
            received += bytes.count
            guard received <= policy.maximumBytesBeforeRequest else { return refuse(.tooManyBytes, nil) }
            buffer.append(contentsOf: bytes)
            return [.needMoreBytes]
        default: break
        }
        received += bytes.count
        guard received <= policy.maximumBytesBeforeRequest else { return refuse(.tooManyBytes, nil) }
        buffer.append(contentsOf: bytes)
        var actions: [SOCKS5ServerAction] = []
        while true {
            let snapshot = buffer  // advance may reset `buffer` (a refusal); it reads this copy
            let step = snapshot.withUnsafeBytes { advance($0) }
            switch step {
            case .wait:
                actions.append(.needMoreBytes); return actions
            case .consumed(let n, let out):
                buffer.removeFirst(min(n, buffer.count))
                actions.append(contentsOf: out)
                if case .close = out.last { buffer = []; return actions }
                if state == .dialing { return actions }
            }
        }
    }

    private enum Step { case wait, consumed(Int, [SOCKS5ServerAction]) }

    private mutating func advance(_ b: UnsafeRawBufferPointer) -> Step {
        switch state {
        case .greeting:
            switch SOCKS5.Greeting.parse(b) {
            case .needMoreBytes: return .wait
            case .invalid: return .consumed(b.count, refuse(.badGreeting, nil))
            case .complete(let g, let n):
                if !policy.users.isEmpty, g.methods.contains(SOCKS5.Method.usernamePassword) {
                    state = .authentication
                    return .consumed(n, [.send(SOCKS5.methodSelection(SOCKS5.Method.usernamePassword))])
                }
                if policy.allowNoAuthentication, g.methods.contains(SOCKS5.Method.noAuthentication) {
                    state = .request
                    return .consumed(n, [.send(SOCKS5.methodSelection(SOCKS5.Method.noAuthentication))])
                }
                return .consumed(n, refuse(.noAcceptableMethod, SOCKS5.methodSelection(SOCKS5.Method.noAcceptable)))
            }
        case .authentication:
            switch SOCKS5.UsernamePassword.parse(b) {
            case .needMoreBytes: return .wait
            case .invalid: return .consumed(b.count, refuse(.badAuthentication, SOCKS5.authenticationReply(success: false)))
            case .complete(let up, let n):
                let user = String(decoding: up.username, as: UTF8.self)
                guard let expected = policy.users[user], constantTimeEqual(Array(expected.utf8), up.password) else {
                    return .consumed(n, refuse(.wrongCredentials, SOCKS5.authenticationReply(success: false)))
                }
                username = user
                state = .request
                return .consumed(n, [.send(SOCKS5.authenticationReply(success: true))])
            }
        case .request:
            // An unknown ATYP gets X'08' (RFC 1928 §6) rather than a silent close.
            if b.count >= 4, b[0] == SOCKS5.version, b[2] == 0,
               ![SOCKS5.AddressType.ipv4, SOCKS5.AddressType.ipv6, SOCKS5.AddressType.domainName].contains(b[3]) {
                return .consumed(b.count, refuse(.addressTypeNotSupported, SOCKS5.reply(.addressTypeNotSupported)))
            }
            switch SOCKS5.Request.parse(b) {
            case .needMoreBytes: return .wait
            case .invalid: return .consumed(b.count, refuse(.badRequest, SOCKS5.reply(.generalFailure)))
            case .complete(let r, let n):
                switch SOCKS5.Command(rawValue: r.command) {
                case .connect:
                    command = .connect; state = .dialing
                    return .consumed(n, [.connect(r.destination, username: username)])
                case .udpAssociate where policy.allowUDPAssociate:
                    command = .udpAssociate; state = .dialing
                    return .consumed(n, [.associateUDP(r.destination, username: username)])
                default:
                    return .consumed(n, refuse(.commandNotSupported, SOCKS5.reply(.commandNotSupported)))
                }
            }
        case .dialing, .established, .closed:
            return .wait
        }
    }

    private mutating func refuse(_ why: SOCKS5Refusal, _ reply: [UInt8]?) -> [SOCKS5ServerAction] {
        state = .closed
        buffer = []
        return (reply.map { [.send($0)] } ?? []) + [.close(why)]
    }

    /// The dial succeeded from `bound` (the local address of the outgoing connection): the success
    /// reply. Then relay, starting with `pendingPayload`.
    public mutating func connected(bound: StreamDestination) -> [SOCKS5ServerAction] {
        guard state == .dialing else { return [] }
        state = .established
        return [.send(SOCKS5.reply(.succeeded, bound: bound))]
    }

    /// The UDP relay is open at `relay`: the client sends its datagrams there.
    public mutating func associated(relay: StreamDestination) -> [SOCKS5ServerAction] {
        guard state == .dialing, command == .udpAssociate else { return [] }
        state = .established
        return [.send(SOCKS5.reply(.succeeded, bound: relay))]
    }

    /// The dial failed, or a rule refused the stream (`notAllowedByRuleset`): the reply and a close.
    public mutating func failed(_ code: SOCKS5.ReplyCode) -> [SOCKS5ServerAction] {
        guard state == .dialing else { return [] }
        let why: SOCKS5Refusal = code == .notAllowedByRuleset ? .ruleRejected : .dialFailed
        return refuse(why, SOCKS5.reply(code == .succeeded ? .generalFailure : code))
    }
}

/// Equal bytes, compared without an early exit on the first difference.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var d: UInt8 = 0
    for i in 0..<a.count { d |= a[i] ^ b[i] }
    return d == 0
}
