// `sluice wg NAME` as wg-quick's userspace implementation, against wireguard-go (ci/interop/wg-pair.sh, side a
// "wgquick"): wg-quick up of a file with Address, MTU, DNS (stub resolvconf), Table, PostUp/PreDown and a
// 0.0.0.0/0 peer (fwmark policy routing) → ping and iperf3 through the tunnel's default route; wg show; live
// wg set … remove and wg syncconf; the UAPI socket's modes as wireguard-go's; hostile UAPI input; wg-quick save
// and strip; wg-quick down leaves nothing behind.

import Foundation
import Testing

@Suite(.serialized, .enabled(if: getuid() == 0,
                             "wg-quick interop tests need root: network namespaces, TUN devices, policy routing"))
struct WGQuickTests {
    init() throws { try ensureInteropTools() }

    /// `wg show IFACE FIELD` lines (one per peer), as tab-separated fields.
    func peers(_ r: ProcessResult) -> [[Substring]] {
        r.output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
    }

    @Test(.timeLimit(.minutes(4)))
    func wgQuickUpTrafficLiveChangesAndDown() throws {
        let pair = try WireGuardPair("wq", a: "wgquick")
        let wgA = pair.interfaceA, socket = "/var/run/wireguard/\(wgA).sock"

        // What wg-quick did: hooks, DNS, address, MTU, fwmark policy routing (through our UAPI's fwmark).
        #expect(pair.file("hooks") == "postup \(wgA)", "PostUp: \(pair.file("hooks"))")
        #expect(pair.file("resolvconf.log").contains("resolvconf -a \(wgA) -m 0 -x : nameserver 203.0.113.53"),
                "DNS: \(pair.file("resolvconf.log"))")
        let link = try pair.inA(["ip", "-o", "address", "show", "dev", wgA])
        #expect(link.output.contains("inet 203.0.113.1/24"), "\(link)")
        #expect(try pair.inA(["ip", "-o", "link", "show", "dev", wgA]).output.contains("mtu 1420"))
        let fwmark = try pair.inA(["wg", "show", wgA, "fwmark"])
        #expect(fwmark.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0xca6c", "wg-quick's table 51820: \(fwmark)")
        let rules = try pair.inA(["ip", "-4", "rule", "show"])
        #expect(rules.output.contains("not from all fwmark 0xca6c lookup 51820"), "\(rules)")
        #expect(try pair.inA(["ip", "-4", "route", "show", "table", "51820"]).output.contains("default dev \(wgA)"))

        // The UAPI socket as wireguard-go makes it: directory 0755, socket srwx------ (bound under umask 077).
        var ours = stat(), theirs = stat(), directory = stat()
        #expect(lstat(socket, &ours) == 0 && lstat("/var/run/wireguard/\(pair.interfaceB).sock", &theirs) == 0)
        #expect(lstat("/var/run/wireguard", &directory) == 0 && directory.st_mode & 0o777 == 0o755)
        #expect(ours.st_mode & S_IFMT == S_IFSOCK && ours.st_mode & 0o777 == theirs.st_mode & 0o777 && ours.st_mode & 0o077 == 0,
                "socket mode \(String(ours.st_mode, radix: 8)) vs wireguard-go's \(String(theirs.st_mode, radix: 8))")

        // Traffic: to side b's tunnel address, and to 10.99.0.1, reachable only by the tunnel's default route. Our
        // datagrams go to 198.51.100.2, which side a reaches only by its main default route: they carry the mark.
        let ping = try pair.ping(from: "a")
        #expect(ping.received == 3, "\(ping.result)")
        let far = try pair.inA(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "10.99.0.1"])
        #expect(far.output.contains("3 received"), "default route through the tunnel: \(far)")
        let back = try pair.ping(from: "b")
        #expect(back.received == 3, "\(back.result)")
        let forward = try pair.iperf(seconds: 3)
        let reverse = try pair.iperf(seconds: 3, reverse: true)
        print("wg-quick interop iperf3 (debug build): \(Int(forward / 1e6)) / \(Int(reverse / 1e6)) Mbit/s")
        #expect(forward > 0 && reverse > 0)

        // wg show through our UAPI: handshake time, transfer; they match wireguard-go's view of the other end.
        let show = try pair.inA(["wg", "show", wgA])
        #expect(show.succeeded && show.output.contains("latest handshake:") && show.output.contains("allowed ips: 0.0.0.0/0"), "\(show)")
        let handshake = peers(try pair.inA(["wg", "show", wgA, "latest-handshakes"])).first?.last.flatMap { Int($0) } ?? 0
        #expect(abs(handshake - Int(Date().timeIntervalSince1970)) < 200, "latest handshake \(handshake)")
        let ourTransfer = peers(try pair.inA(["wg", "show", wgA, "transfer"])).first ?? []
        let theirTransfer = peers(try pair.inB(["wg", "show", pair.interfaceB, "transfer"])).first ?? []
        if ourTransfer.count == 3, theirTransfer.count == 3, let rx = Int(ourTransfer[1]), let tx = Int(ourTransfer[2]),
           let theirRx = Int(theirTransfer[1]), let theirTx = Int(theirTransfer[2]) {
            // Each side counts whole datagrams (a keepalive may be in flight between the two reads). What we
            // received is what wireguard-go sent; what we sent is at least what it received (iperf3 overruns the
            // receiving socket under load: those datagrams count as sent here and never arrive there).
            #expect(rx > 1_000_000 && tx > 1_000_000, "\(ourTransfer)")
            #expect(abs(rx - theirTx) <= 64 && tx + 64 >= theirRx, "ours rx \(rx) tx \(tx), theirs rx \(theirRx) tx \(theirTx)")
        } else {
            Issue.record("wg show transfer: \(ourTransfer) / \(theirTransfer)")
        }

        // Live: remove the peer (traffic stops), then syncconf from the stripped file (it comes back).
        let peerB = pair.file("b.pub")
        #expect(try pair.inA(["wg", "set", wgA, "peer", peerB, "remove"]).succeeded)
        #expect(try pair.inA(["wg", "show", wgA, "peers"]).output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(try pair.ping(from: "a", count: 2).received == 0, "ping with the peer removed")
        let conf = pair.directory + "/\(wgA).conf"
        let sync = try pair.inA(["bash", "-c", "wg syncconf \(wgA) <(wg-quick strip \(conf))"])
        #expect(sync.succeeded, "\(sync)")
        // syncconf sets every interface field the file has not (as with kernel WireGuard): the mark is gone, and
        // without it our datagrams would loop into the tunnel's default route. Put it back as a user would.
        #expect(try pair.inA(["wg", "show", wgA, "fwmark"]).output == "off\n")
        #expect(try pair.inA(["wg", "set", wgA, "fwmark", "51820"]).succeeded)
        #expect(try pair.ping(from: "a", count: 3, deadline: 10).received >= 2, "ping after syncconf")

        // wg-quick save writes the live configuration back (with the wg-quick keys it keeps).
        let stubPath = "PATH=\(pair.directory)/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let save = try pair.inA(["env", stubPath, "wg-quick", "save", conf])
        #expect(save.succeeded, "\(save)")
        let saved = (try? String(contentsOfFile: conf, encoding: .utf8)) ?? ""
        #expect(saved.contains("PublicKey = \(peerB)") && saved.contains("AllowedIPs = 0.0.0.0/0")
                && saved.contains("Endpoint = 198.51.100.2:51821") && saved.contains("DNS = 203.0.113.53"), "\(saved)")

        // Hostile input on the socket: an errno, the connection and the device unharmed.
        let probe = """
            socket, sys = __import__('socket'), __import__('sys')
            s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            def op(b):
                s.sendall(b); out=b''
                while not out.endswith(b'\\n\\n'): out+=s.recv(65536)
                return out.decode()
            print(op(b'set=1\\nlisten_port=99999\\n\\n').strip())
            print(op(b'set=1\\npublic_key=' + b'z'*64 + b'\\n\\n').strip())
            print(op(b'set=1\\nfwmark=51820\\nwhat=1\\n\\n').strip())
            print('peers', op(b'get=1\\n\\n').count('public_key='))
            """
        let hostile = try pair.inA(["python3", "-c", probe, socket])
        #expect(hostile.output == "errno=-22\nerrno=-22\nerrno=-22\npeers 1\n", "\(hostile)")
        #expect(try pair.ping(from: "a").received == 3)

        // Down: hook, DNS, rules, routes, interface, socket and daemon all gone.
        let down = try pair.inA(["env", stubPath, "wg-quick", "down", conf])
        #expect(down.succeeded, "\(down)")
        var gone = false
        for _ in 0..<50 where !gone {
            gone = access(socket, F_OK) != 0
            if !gone { usleep(100_000) }
        }
        #expect(gone, "socket \(socket) still there after wg-quick down; daemon log: \(pair.file("a.daemon.log"))")
        #expect(pair.file("hooks") == "postup \(wgA)\npredown \(wgA)")
        #expect(pair.file("resolvconf.log").contains("resolvconf -d \(wgA) -f"))
        #expect(!(try pair.inA(["ip", "link", "show", "dev", wgA])).succeeded, "the interface is gone")
        let after = try pair.inA(["ip", "-4", "rule", "show"]).output
        #expect(!after.contains("51820") && !after.contains("suppress_prefixlength"), "\(after)")
        #expect(try pair.inA(["ip", "-4", "route", "show", "table", "51820"]).output.isEmpty)
        let pids = try run(["ip", "netns", "pids", pair.namespaceA], timeout: 10)
        #expect(pids.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "processes left in the namespace: \(pids)")
    }
}
