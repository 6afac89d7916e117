import Crypto
import Glibc
import Testing
import Wire
import WireGuard
@testable import Tunnel

@Suite struct TunnelConfigurationTests {
    let ours = KeyPair.random()
    let theirs = KeyPair.random()
    let other = KeyPair.random()
    let psk = SecretKey.random()

    var sample: String {
        """
        # a comment line
        [Interface]
        PrivateKey = \(ours.privateKey.base64)
        ListenPort = 51820
        Address = 10.7.0.1/24, 10.8.0.1/16   # two addresses
        Address = fd00::1/64
        MTU = 1380
        DNS = 1.1.1.1
        PostUp = iptables -A FORWARD -i %i -j ACCEPT

        [peer]
        publickey = \(theirs.publicKey.base64)
        PresharedKey = \(psk.base64)
        Endpoint = 192.0.2.2:51821
        AllowedIPs = 10.7.0.2/32, 172.16.0.0/12
        AllowedIPs = ::/0
        PersistentKeepalive = 25

        [Peer]
        PublicKey = \(other.publicKey.base64)
        AllowedIPs = 198.51.100.0/24
        PersistentKeepalive = off

        [Sluice]
        RekeyAfterMessages = 100
        RejectAfterMessages = 1000
        HandshakeInterval = 7
        StatusInterval = 3
        """
    }

    @Test func parsesEveryKey() throws {
        let c = try TunnelConfiguration.parse(sample, file: "wg0.conf")
        #expect(c.interface.privateKey == ours.privateKey)
        #expect(c.interface.listenPort == 51820)
        #expect(c.interface.addresses == [IPv4Network("10.7.0.1/24")!, IPv4Network("10.8.0.1/16")!])
        #expect(c.mtu == 1380)
        #expect(c.peers.count == 2)
        let p = c.peers[0]
        #expect(p.publicKey == theirs.publicKey)
        #expect(p.presharedKey == psk)
        #expect(p.endpoint == SocketAddressV4(address: IPv4Address(192, 0, 2, 2), port: 51821))
        #expect(p.allowedIPs == [IPv4Network("10.7.0.2/32")!, IPv4Network("172.16.0.0/12")!])
        #expect(p.persistentKeepalive == .seconds(25))
        #expect(c.peers[1].endpoint == nil && c.peers[1].persistentKeepalive == nil && c.peers[1].presharedKey == nil)
        #expect(c.sluice == SluiceSettings(rekeyAfterMessages: 100, rejectAfterMessages: 1000,
                                           handshakeInterval: .seconds(7), statusInterval: .seconds(3)))
        let device = c.deviceConfiguration
        #expect(device.limits.rekeyAfterMessages == 100 && device.limits.rejectAfterMessages == 1000 && device.mtu == 1380)
        // DNS, PostUp, the IPv6 Address and the IPv6 AllowedIPs: accepted, each with a warning on its line.
        #expect(c.warnings.map(\.line) == [6, 8, 9, 16])
        #expect(c.warnings.allSatisfy { $0.file == "wg0.conf" })
    }

    @Test func defaultsAreWgQuicks() throws {
        let c = try TunnelConfiguration.parse("[Interface]\nPrivateKey = \(ours.privateKey.base64)\n", file: "x.conf")
        #expect(c.mtu == 1420 && c.interface.listenPort == nil && c.peers.isEmpty && c.interface.addresses.isEmpty)
        #expect(c.deviceConfiguration.limits.rekeyAfterMessages == WireGuardConstants.rekeyAfterMessages)
    }

    /// Each broken line is reported at its own line with a fix.
    @Test func errorsNameFileLineAndFix() {
        let key = ours.privateKey.base64
        let peer = theirs.publicKey.base64
        let cases: [(String, Int?, String)] = [
            ("PrivateKey = \(key)", 1, "before any section"),
            ("[Interface]\nPrivateKey = \(key)\n[Interface]", 3, "second [Interface]"),
            ("[Interface]\nPrivateKey = \(key)\n[Wat]", 3, "unknown section"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer", 3, "no closing"),
            ("[Interface]\nPrivateKey = short", 2, "PrivateKey is not a WireGuard key: 5 characters"),
            ("[Interface]\nPrivateKey = \(ours.privateKey.withUnsafeBytes { Array($0) }.hex)", 2, "64 hex digits"),
            ("[Interface]\nPrivateKey = \(key)\nPrivateKey = \(key)", 3, "given twice"),
            ("[Interface]\nPrivateKey = \(key)\nListenPort = 70000", 3, "ListenPort '70000'"),
            ("[Interface]\nPrivateKey = \(key)\nAddress = 10.0.0.300/24", 3, "Address '10.0.0.300/24'"),
            ("[Interface]\nPrivateKey = \(key)\nAddress = 10.0.0.1/24,,10.0.1.1/24", 3, "empty item"),
            ("[Interface]\nPrivateKey = \(key)\nMTU = 100", 3, "MTU '100'"),
            ("[Interface]\nPrivateKey = \(key)\nListenPrt = 1", 3, "unknown key 'ListenPrt'"),
            ("[Interface]\nPrivateKey = \(key)\nnonsense", 3, "not a 'Key = Value' line"),
            ("[Interface]\nListenPort = 1", 1, "no PrivateKey"),
            ("", nil, "no [Interface]"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nAllowedIPs = 10.0.0.2/32", 3, "no PublicKey"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nPublicKey = \(peer)\nEndpoint = 192.0.2.1", 5, "has no port"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nPublicKey = \(peer)\nEndpoint = example.com:51820", 5, "host names"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nPublicKey = \(peer)\nEndpoint = [2001:db8::1]:51820", 5, "IPv6"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nPublicKey = \(peer)\nAllowedIPs = 10.0.0.0/33", 5, "AllowedIPs '10.0.0.0/33'"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nPublicKey = \(peer)\nPersistentKeepalive = soon", 5, "PersistentKeepalive 'soon'"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nPublicKey = \(peer)\n[Peer]\nPublicKey = \(peer)", 5, "same PublicKey as the [Peer] on line 3"),
            ("[Interface]\nPrivateKey = \(key)\n[Peer]\nPublicKey = \(ours.publicKey.base64)", 3, "this interface's own"),
            ("[Interface]\nPrivateKey = \(key)\n[Sluice]\nHandshakeInterval = 1", 4, "≥ 5"),
            ("[Interface]\nPrivateKey = \(key)\n[Sluice]\nRekeyAfterMessages = 0", 4, "positive whole number"),
            ("[Interface]\nPrivateKey = \(key)\n[Sluice]\nRekeyAfterTime = 10", 4, "unknown key 'RekeyAfterTime' in [Sluice]"),
        ]
        for (text, line, fragment) in cases {
            do {
                _ = try TunnelConfiguration.parse(text, file: "bad.conf")
                Issue.record("accepted: \(text.debugDescription)")
            } catch {
                #expect(error.file == "bad.conf", "\(text.debugDescription)")
                #expect(error.line == line, "\(text.debugDescription): \(error)")
                #expect(error.message.contains(fragment), "\(text.debugDescription): \(error)")
                #expect(error.fix != nil, "\(text.debugDescription): no fix")
                #expect(error.description.hasPrefix(line.map { "bad.conf:\($0): error: " } ?? "bad.conf: error: "))
            }
        }
    }

    @Test func keyFilesAreReadRelativeToTheConfiguration() throws {
        let dir = try TemporaryDirectory()
        try dir.write("private.key", ours.privateKey.base64 + "\n")
        try dir.write("psk", psk.base64)
        try dir.write("wg0.conf", """
            [Interface]
            PrivateKeyFile = private.key
            [Peer]
            PublicKey = \(theirs.publicKey.base64)
            PresharedKeyFile = \(dir.path)/psk
            """)
        let c = try TunnelConfiguration.load(path: dir.path + "/wg0.conf")
        #expect(c.interface.privateKey == ours.privateKey)
        #expect(c.peers[0].presharedKey == psk)
    }

    @Test func badKeyFilesAreNamed() throws {
        let dir = try TemporaryDirectory()
        try dir.write("short.key", "dGVzdA==\n")
        try dir.write("wg0.conf", "[Interface]\n\nPrivateKeyFile = short.key\n")
        #expect {
            try TunnelConfiguration.load(path: dir.path + "/wg0.conf")
        } throws: { error in
            let e = error as! TunnelConfigError
            return e.file == dir.path + "/short.key" && e.line == nil && e.message.contains("wg0.conf:3")
                && e.message.contains("8 characters") && e.fix!.contains("genkey")
        }
        try dir.write("wg1.conf", "[Interface]\nPrivateKeyFile = missing.key\n")
        #expect {
            try TunnelConfiguration.load(path: dir.path + "/wg1.conf")
        } throws: { error in
            let e = error as! TunnelConfigError
            return e.file == dir.path + "/wg1.conf" && e.line == 2 && e.message.contains(dir.path + "/missing.key")
        }
        #expect {
            try TunnelConfiguration.load(path: dir.path + "/nope.conf")
        } throws: { error in
            (error as! TunnelConfigError).description.hasPrefix(dir.path + "/nope.conf: error: cannot read")
        }
    }

    @Test func routesSkipConnectedSubnetsAndEndpoints() throws {
        let c = try TunnelConfiguration.parse("""
            [Interface]
            PrivateKey = \(ours.privateKey.base64)
            Address = 10.7.0.1/24
            [Peer]
            PublicKey = \(theirs.publicKey.base64)
            Endpoint = 192.0.2.2:51820
            AllowedIPs = 10.7.0.2/32, 10.9.3.4/16, 192.0.2.0/24, 10.9.0.0/16
            """, file: "r.conf")
        let (routes, skipped) = LinkSetup.routes(for: c)
        // 10.7.0.2/32 is on the Address's subnet; 10.9.3.4/16 is normalised and not repeated; 192.0.2.0/24 would
        // carry the tunnel's own datagrams.
        #expect(routes == [IPv4Network("10.9.0.0/16")!])
        #expect(skipped.count == 1 && skipped[0].contains("192.0.2.0/24"))
    }
}

/// A directory under /tmp removed when the value goes away.
final class TemporaryDirectory {
    let path: String
    init() throws {
        var template = Array("/tmp/sluice-tunnel-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw TestErrno(rawValue: errno) }
        path = String(cString: p)
    }
    deinit { _ = try? run(["rm", "-rf", path], timeout: 10) }

    func write(_ name: String, _ text: String) throws {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TestErrno(rawValue: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

struct TestErrno: Error { var rawValue: CInt }
