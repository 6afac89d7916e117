// bridge.yml keys for running the real bridge (BridgeConfig+Operation.swift): socket access,
// the lease database, the DHCP address probe. Parsed with their defaults; bad values located.
import Datapath
import Testing
import YAMLSchema
@testable import Engine

@Test func operationKeysParseWithTheirDefaults() throws {
    let plain = try BridgeConfig.parse("name: b1\nrouter: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.10, end: 10.0.0.20 } }\nvhost-user: [ { socket: /run/s.sock } ]\ncontrol: /run/c.ctl\n")
    #expect(plain.controlAccess == SocketAccess(mode: 0o600) && plain.vhostUser[0].access == SocketAccess(mode: 0o660))
    #expect(plain.leases == .automatic && plain.router?.interfaces[0].dhcp?.probe == .automatic)
    #expect(plain.leaseDatabasePath(stateDirectory: "/var/lib/sluice") == "/var/lib/sluice/b1/leases")
    #expect(plain.leaseDatabasePath(stateDirectory: nil) == nil)
    // The real bridge probes by default; the simulator (automatic kept) does not.
    #expect(plain.resolvingAutomaticProbes().router?.interfaces[0].dhcp?.probe == .timeout(.milliseconds(500)))
    #expect(try Bridge(config: plain).dhcpServers[0]?.configuration.probeTimeout == nil)
    #expect(try Bridge(config: plain.resolvingAutomaticProbes()).dhcpServers[0]?.configuration.probeTimeout == .milliseconds(500))

    let full = try BridgeConfig.parse("""
    name: ../x
    router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.10, end: 10.0.0.20, probe: 250ms } }
    vhost-user:
      - { socket: /run/s.sock, mode: "0640", owner: root, group: kvm, allow-users: [libvirt-qemu, "107"], allow-groups: [kvm] }
    control: { path: /run/c.ctl, mode: "0660", group: adm }
    leases: /srv/leases.db
    """)
    var vhost = SocketAccess(mode: 0o640, owner: "root", group: "kvm")
    vhost.allowedUsers = ["libvirt-qemu", "107"]; vhost.allowedGroups = ["kvm"]
    #expect(full.vhostUser[0].access == vhost && full.vhostUser[0].access.checksPeers)
    #expect(full.control == "/run/c.ctl" && full.controlAccess == SocketAccess(mode: 0o660, group: "adm"))
    #expect(full.leases == .file("/srv/leases.db") && full.router?.interfaces[0].dhcp?.probe == .timeout(.milliseconds(250)))
    var named = full; named.leases = .automatic
    // The bridge's name as one safe path component.
    #expect(named.leaseDatabasePath(stateDirectory: "/s") == "/s/_.._x/leases")
    let off = try BridgeConfig.parse("router: { ipv4: 10.0.0.1/24, dhcp: { start: 10.0.0.10, end: 10.0.0.20, probe: false } }\nleases: false\n")
    #expect(off.leases == .off && off.leaseDatabasePath(stateDirectory: "/s") == nil)
    #expect(off.resolvingAutomaticProbes().router?.interfaces[0].dhcp?.probe == .off)
}

@Test(arguments: [
    ("vhost-user:\n  - { socket: /run/s.sock, mode: \"0666\" }\n", 2, "lets every local user connect"),
    ("vhost-user:\n  - { socket: /run/s.sock, mode: \"0998\" }\n", 2, "is not a permission mode"),
    ("vhost-user:\n  - { socket: /run/s.sock, group: \"k v m\" }\n", 2, "is not a user or group name"),
    ("vhost-user:\n  - socket: /run/s.sock\n    allow-users: [\"a;b\"]\n", 3, "is not a user or group name"),
    ("control:\n  mode: \"0600\"\n", 2, "missing"),
    ("control:\n  path: /run/c.ctl\n  mode: \"0606\"\n", 3, "lets every local user connect"),
    ("leases: relative/leases\n", 1, "is not an absolute file path"),
    ("router:\n  ipv4: 10.0.0.1/24\n  dhcp:\n    start: 10.0.0.10\n    end: 10.0.0.20\n    probe: 20s\n", 6, "probe timeout 20s is out of range"),
    ("router:\n  ipv4: 10.0.0.1/24\n  dhcp:\n    start: 10.0.0.10\n    end: 10.0.0.20\n    probe: soon\n", 6, "is not a duration"),
])
func badOperationKeysAreLocated(text: String, line: Int, message: String) {
    badConfigsAreLocated(text: text, line: line, message: message)
}
