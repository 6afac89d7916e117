// `sluice mesh join TOKEN` (docs/mesh.md, "Joining"): drives a MeshJoiner over one UDP socket until the admission
// node sends a certificate, refuses, or the time runs out. Blocking and single-threaded: poll(2) on the socket until
// the joiner's next deadline.

import Basics
import Crypto
import Foundation
import Glibc
import HostIO
import Mesh
import Wire

public enum MeshJoinClient {
    public enum Outcome {
        case joined(chain: [Certificate], root: Certificate)
        case refused
        case timedOut(waitingForApproval: Bool)
    }

    /// Joins with `token` using `staticKey`; `log` gets one line per state change.
    public static func join(token: JoinToken, staticKey: KeyPair, name: String, listenPort: UInt16, timeout: Duration,
                            log: (String) -> Void) throws(TunnelError) -> Outcome {
        let socket: UDPSocket
        do { socket = try UDPSocket(bindingTo: .ipv4(SocketAddressV4(address: .any, port: listenPort))) } catch {
            throw TunnelError("cannot bind UDP port \(listenPort): \(error)")
        }
        defer { try? socket.descriptor.close() }
        let clock = MonotonicClock()
        let start = clock.now()
        let joiner = MeshJoiner(token: token, staticKey: staticKey, name: name, random: SystemRandom(),
                                wallClock: .system(at: start))
        var buffer = [UInt8](repeating: 0, count: 65536)
        var reported = MeshJoiner.State.initiating
        func send(_ d: [UInt8]) { _ = d.withUnsafeBytes { try? socket.send($0, to: .ipv4(token.endpoint)) } }
        while !joiner.isFinished {
            let now = clock.now()
            if now - start >= timeout { return .timedOut(waitingForApproval: joiner.state == .waiting) }
            for d in joiner.tick(now: now) { send(d) }
            let deadline = min(joiner.nextDeadline() ?? now + .seconds(1), start + timeout)
            let wait = max(0, Int32(clamping: (deadline - now).components.seconds * 1000
                                              + (deadline - now).components.attoseconds / 1_000_000_000_000_000))
            var pfd = pollfd(fd: socket.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, max(wait, 1)) > 0 else { continue }
            while let got = buffer.withUnsafeMutableBytes({ try? socket.receive(into: $0) }) {
                guard !got.truncated, case .ipv4(let source) = got.source, source == token.endpoint else { continue }
                if let reply = joiner.receive(Array(buffer[0..<got.count]), now: clock.now()) { send(reply) }
            }
            if joiner.state != reported {
                reported = joiner.state
                if reported == .waiting { log("join: session with \(token.endpoint) up; waiting for approval") }
            }
        }
        switch joiner.state {
        case .joined(let chain, let root): return .joined(chain: chain, root: root)
        default: return .refused
        }
    }
}
