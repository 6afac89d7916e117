// Fuzz target `wg-uapi` (layer 2, WireGuard): the text of a `set=1` transaction of WireGuard's cross-platform
// configuration protocol (what `wg set`, `wg syncconf` and wg-quick write to the socket) through
// `ConfigurationSet.parse`, the device's `check`, and `apply` on a device that has a peer and a session; then the
// `get=1` reply is written, a packet is sent and the timers run. A transaction that parses and checks must
// apply without trapping, whatever it asks for.
import Basics
import Crypto
import Wire
import WireGuard

enum WireGuardUAPITarget {
    static func run(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        let (a, b) = WireGuardReceiveTarget.prepare(1)  // A and B with a session
        _ = a
        guard let set = try? ConfigurationSet.parse(Substring(text)) else { return }
        guard (try? b.check(set)) != nil else { return }
        let now = WireGuardReceiveTarget.start + .seconds(1)
        b.apply(set, now: now)
        _ = b.configurationText(socket: InterfaceSocketSettings(listenPort: set.listenPort ?? 51820, fwmark: set.fwmark ?? 0), now: now)
        _ = b.send(packet: WireGuardReceiveTarget.packet(IPv4Address(10, 0, 0, 2), IPv4Address(10, 0, 0, 1)), now: now)
        var t = now
        var polls = 0
        while polls < 4, let deadline = b.nextDeadline(), deadline <= now + .seconds(30) {
            t = max(t, deadline)
            _ = b.poll(now: t)
            polls += 1
        }
    }

    static func seeds() -> [[UInt8]] {
        let a = WireGuardReceiveTarget.keysA.publicKey.bytes.hex, b = WireGuardReceiveTarget.keysB.publicKey.bytes.hex
        return [
            Array("listen_port=51820\nfwmark=51820\npublic_key=\(a)\nendpoint=192.0.2.9:4000\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n".utf8),
            Array("replace_peers=true\npublic_key=\(b)\nprotocol_version=1\nallowed_ip=0.0.0.0/0\npublic_key=\(a)\nremove=true\n".utf8),
            Array("private_key=\(String(repeating: "0", count: 64))\npublic_key=\(a)\nupdate_only=true\npreshared_key=\(String(repeating: "ab", count: 32))\n".utf8),
        ]
    }
}
