import Testing
import Wire
import YAMLSchema
@testable import Streams

@Suite struct GateRulesTests {
    static let yaml = """
    # gate.yml: rules only for now
    rules:
      - name: internal
        destination: [10.0.0.0/8, "fd00::/8"]
        action: direct
      - name: api-over-mesh
        sni: "*.api.example.com"
        alpn: h2
        action: via
        via: node-b
      - name: ops-ssh
        destination: .corp.example
        port: [22, 2200-2299]
        group: ops
        listener: socks
        action: direct
      - destination: blocked.example.com
        action: reject
    default: direct
    """

    func context(_ host: StreamHost, _ port: UInt16 = 443, sni: String? = nil, alpn: [String] = [], listener: String = "socks",
                 groups: [String] = []) -> StreamContext {
        StreamContext(listener: listener, destination: StreamDestination(host: host, port: port), serverName: sni, alpn: alpn, groups: groups)
    }

    @Test func firstMatchWins() throws {
        let rules = try GateRules.parse(Self.yaml, file: "gate.yml")
        #expect(rules.rules.count == 4 && rules.fallback == .direct)
        #expect(rules.route(context(.ipv4(IPv4Address(10, 9, 8, 7)))) == (0, .direct))
        #expect(rules.route(context(.ipv6(IPv6Address("fd12::1")!))).rule == 0)
        #expect(rules.route(context(.ipv4(IPv4Address(11, 0, 0, 1)))) == (nil, .direct))
        // SNI and ALPN both needed; the name is compared lowercased.
        #expect(rules.route(context(.name("x"), sni: "V1.API.example.com", alpn: ["http/1.1", "h2"])) == (1, .via("node-b")))
        #expect(rules.route(context(.name("x"), sni: "api.example.com", alpn: ["h2"])).rule == nil, "*. does not match the apex")
        #expect(rules.route(context(.name("x"), sni: "v1.api.example.com", alpn: ["http/1.1"])).rule == nil)
        // Port ranges, groups, listener; ".suffix" includes the apex.
        #expect(rules.route(context(.name("corp.example"), 2222, groups: ["dev", "ops"])).rule == 2)
        #expect(rules.route(context(.name("git.corp.example"), 22, groups: ["ops"])).rule == 2)
        #expect(rules.route(context(.name("git.corp.example"), 2300, groups: ["ops"])).rule == nil)
        #expect(rules.route(context(.name("git.corp.example"), 22, groups: ["dev"])).rule == nil)
        #expect(rules.route(context(.name("git.corp.example"), 22, listener: "http", groups: ["ops"])).rule == nil)
        #expect(rules.route(context(.name("notcorp.example"), 22, groups: ["ops"])).rule == nil)
        #expect(rules.route(context(.name("blocked.example.com"))) == (3, .reject))
        #expect(GateAction.reject.socks5Reply == .notAllowedByRuleset && GateAction.reject.httpRefusal?.status == 403)
        #expect(GateAction.direct.socks5Reply == nil)
        // With no default the fallback is reject.
        #expect(try GateRules.parse("rules: []", file: "g.yml").fallback == .reject)
    }

    @Test func errorsAreLocatedWithAFix() {
        let cases: [(String, Int, Int, String)] = [
            ("rules:\n  - action: drop\n", 2, 13, "'drop' is not an action"),
            ("rules:\n  - destination: 10.0.0.0/33\n    action: direct\n", 2, 18, "is not a CIDR"),
            ("rules:\n  - action: via\n", 2, 13, "action via needs the node"),
            ("rules:\n  - action: direct\n    via: b\n", 3, 10, "via is only for action: via"),
            ("rules:\n  - port: 0\n    action: direct\n", 2, 11, "is not a port"),
            ("rules:\n  - port: 90-80\n    action: direct\n", 2, 11, "is not a port"),
            ("rules:\n  - sni: 10.0.0.1\n    action: direct\n", 2, 10, "sni matches names"),
            ("rules:\n  - destinaton: a\n    action: direct\n", 2, 5, "destinaton"),
            ("rules:\n  - destination: a\n", 2, 5, "missing required key 'action'"),
            ("default: allow\n", 1, 10, "'allow' is not a default action"),
        ]
        for (text, line, column, message) in cases {
            do {
                _ = try GateRules.parse(text, file: "gate.yml")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.file == "gate.yml" && error.line == line && error.column == column && error.message.contains(message), "\(error)")
                #expect(error.fix != nil, "\(error)")
            }
        }
    }
}
