// Interop of the simulated TCP with Linux's: HostStack's `Host`, run in real time by RealTimeHost
// on a TAP device whose other end is eth0 of a network namespace, fetches bytes a Linux socket
// serves (python3) and serves bytes a Linux socket fetches — straight on the TAP, and through an
// Engine bridge (the TAP and the host two ports of its switch). Root only: otherwise each test
// prints why it skips. The bytes are TCPBulkPattern's, which both sides compute on their own.
import Basics
import Engine
import Foundation
import HostStack
import Testing
import Wire
@testable import Lab

/// Why the interop tests cannot run here; nil when they can.
private func interopSkipReason() -> String? {
    guard getuid() == 0 else { return "needs root (a network namespace and a TAP device)" }
    guard Subprocess.executable("ip") != nil, Subprocess.executable("python3") != nil else {
        return "needs ip (iproute2) and python3 (ci/interop/ensure-tools.sh installs them)"
    }
    guard FileManager.default.isReadableFile(atPath: "/dev/net/tun") else { return "no /dev/net/tun" }
    return nil
}

/// TCPBulkPattern in Python: the byte at stream offset i is
/// ((i ^ i>>8 ^ i>>16 ^ i>>24) * 131 + (i >> 11)) mod 256. Only the low byte matters, so within
/// a block of 256 offsets it is ((b0 ^ c) * 131 + d) mod 256 with c and d fixed: one table lookup
/// and one translation per block (a byte-by-byte loop takes minutes for megabytes).
private let pythonPattern = """
socket, sys = __import__('socket'), __import__('sys')
def pattern(n):
    mul = [bytes(((b ^ c) * 131) & 255 for b in range(256)) for c in range(256)]
    add = [bytes((x + d) & 255 for x in range(256)) for d in range(256)]
    out = bytearray()
    for block in range((n + 255) // 256):
        i = block * 256
        c = ((i >> 8) ^ (i >> 16) ^ (i >> 24)) & 255
        out += mul[c].translate(add[(i >> 11) & 255])
    return bytes(out[:n])
"""

/// Linux serves `n` pattern bytes on 10.77.0.1:5001 to the first client, then waits for its FIN.
private let pythonServer = pythonPattern + """

n = int(sys.argv[1])
data = pattern(n)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.77.0.1', 5001))
s.listen(1)
print('listening', flush=True)
c, peer = s.accept()
c.settimeout(60)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass
c.close()
print('sent', n, 'to', peer[0], flush=True)
"""

/// Linux fetches from 10.77.0.2:5002 until the server's FIN and says whether it got `n` pattern bytes.
private let pythonClient = pythonPattern + """

n = int(sys.argv[1])
expected = pattern(n)
print('connecting', flush=True)
c = socket.create_connection(('10.77.0.2', 5002), timeout=60)
got = bytearray()
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    got += b
c.close()
print('received', len(got), 'match' if bytes(got) == expected else 'MISMATCH', flush=True)
"""

/// A namespace whose eth0 (10.77.0.1/24) is a TAP served by a RealTimeHost (10.77.0.2/24).
private final class InteropRig {
    let namespace: NetworkNamespace
    let driver: RealTimeHost

    init(tag: String, throughBridge: Bool) throws {
        namespace = try NetworkNamespace(name: NetworkNamespace.name(for: "rt\(tag)"))
        do {
            let bridge = throughBridge ? try Bridge(config: BridgeConfig.parse("switch: { aging: 300s }")) : nil
            driver = try RealTimeHost(name: "sim", mac: MACAddress(0x02, 0, 0, 0, 0x77, 2), tapName: "sl\(getpid())i\(tag)",
                                      through: bridge)
            try Subprocess.run(["ip", "link", "set", driver.tapName, "netns", namespace.name])
            try namespace.ip(["link", "set", driver.tapName, "name", "eth0"])
            try namespace.ip(["addr", "add", "10.77.0.1/24", "dev", "eth0"])
            try namespace.ip(["link", "set", "eth0", "up"])
        } catch {
            namespace.delete()
            throw error
        }
        driver.withHost { host, now in host.configureStatic(address: IPv4Network("10.77.0.2/24")!, now: now) }
    }

    deinit {
        driver.close()
        namespace.delete()
    }

    /// Starts a python3 program in the namespace.
    func python(_ program: String, _ arguments: [String]) throws -> Subprocess {
        try Subprocess(namespace.command(["python3", "-c", program] + arguments))
    }
}

@Suite(.serialized) struct RealTimeHostInteropTests {
    static let bytes = 8 << 20

    @Test("the simulated host fetches 8 MiB from a Linux server", arguments: [false, true])
    func simulatedClientLinuxServer(throughBridge: Bool) throws {
        if let why = interopSkipReason() { print("SKIPPED simulatedClientLinuxServer: \(why)"); return }
        let began = ContinuousClock.now
        let rig = try InteropRig(tag: throughBridge ? "cb" : "cd", throughBridge: throughBridge)
        let server = try rig.python(pythonServer, ["\(Self.bytes)"])
        defer { server.stop(SIGKILL) }
        let listening = try rig.driver.run(timeout: .seconds(60)) { _, _ in
            server.poll()
            return server.lines.contains { $0.text == "listening" } || server.exitCode != nil
        }
        #expect(listening && server.exitCode == nil, "server: \(server.output)")
        let connected = ContinuousClock.now
        let id = try #require(rig.driver.withHost { host, now in
            host.tcpConnect(to: IPv4Address(10, 77, 0, 1), port: 5001, receiveMode: .sink, now: now)
        })
        let finished = try rig.driver.run(timeout: .seconds(120)) { host, _ in
            server.poll()
            return host.tcpInfo(id)?.state == .closed && server.exitCode != nil
        }
        let info = try #require(rig.driver.host.tcpInfo(id))
        print("interop \(throughBridge ? "through bridge" : "on TAP"): fetched \(info.stats.bytesReceived) B,",
              "mss \(info.sendMSS), sack \(info.sackEnabled), ts \(info.timestampsEnabled), wscale \(info.sendWindowScale),",
              "taps \(rig.driver.framesFromTAP)/\(rig.driver.framesToTAP), drops \(rig.driver.tapWriteDrops),",
              "set-up \(connected - began), transfer \(ContinuousClock.now - connected); server: \(server.output)")
        #expect(finished, "state \(info.state), server: \(server.output)")
        #expect(info.stats.bytesReceived == UInt64(Self.bytes))
        #expect(info.stats.patternMismatches == 0)
        #expect(info.closeReason == .normal)
        #expect(server.exitCode == 0)
        #expect(server.lines.contains { $0.text == "sent \(Self.bytes) to 10.77.0.2" }, "\(server.output)")
        // Linux offers every option; the host took them.
        #expect(info.sackEnabled && info.timestampsEnabled && info.sendWindowScale > 0)
    }

    @Test("a Linux client fetches 8 MiB from the simulated host", arguments: [false, true])
    func linuxClientSimulatedServer(throughBridge: Bool) throws {
        if let why = interopSkipReason() { print("SKIPPED linuxClientSimulatedServer: \(why)"); return }
        let began = ContinuousClock.now
        let rig = try InteropRig(tag: throughBridge ? "sb" : "sd", throughBridge: throughBridge)
        rig.driver.withHost { host, _ in host.tcpListen(port: 5002, receiveMode: .buffer) }
        let client = try rig.python(pythonClient, ["\(Self.bytes)"])
        defer { client.stop(SIGKILL) }
        var accepted: TCPConnectionID?
        let finished = try rig.driver.run(timeout: .seconds(120)) { host, now in
            client.poll()
            if accepted == nil, let id = host.tcpAccept(port: 5002) {
                accepted = id
                rig.driver.withHost { host, now in host.tcpSendBulk(id, bytes: UInt64(Self.bytes), close: true, now: now) }
            }
            _ = now
            guard let id = accepted else { return client.exitCode != nil }
            let state = host.tcpInfo(id)?.state
            return client.exitCode != nil && (state == .closed || state == .timeWait)
        }
        let id = try #require(accepted, "no connection: \(client.output)")
        let info = try #require(rig.driver.host.tcpInfo(id))
        print("interop \(throughBridge ? "through bridge" : "on TAP"): served \(info.stats.bytesAcknowledged) B,",
              "\(info.stats.segmentsSent) segments, \(info.stats.segmentsRetransmitted) retransmitted, mss \(info.sendMSS),",
              "in \(ContinuousClock.now - began);",
              "client: \(client.output)")
        #expect(finished, "state \(info.state), client: \(client.output)")
        #expect(client.exitCode == 0)
        #expect(client.lines.contains { $0.text == "received \(Self.bytes) match" }, "\(client.output)")
        #expect(info.stats.bytesAcknowledged == UInt64(Self.bytes))
    }
}
