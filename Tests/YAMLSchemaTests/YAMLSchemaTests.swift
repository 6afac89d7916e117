import Testing
@testable import YAMLSchema

@Test func unknownKeyIsLocatedAndSuggestsTheFix() throws {
    let text = """
    router:
      ipv4: 10.0.0.1/24
      dhpc:
        start: 10.0.0.100
    """
    let root = try YAMLValue.parse(text, file: "bridge.yml")
    let router = try #require(try root.mapping(allowed: ["router"])["router"])
    #expect(throws: ConfigError.self) { try router.mapping(allowed: ["ipv4", "dhcp", "dns"]) }
    do {
        _ = try router.mapping(allowed: ["ipv4", "dhcp", "dns"])
    } catch {
        #expect(error.line == 3 && error.column == 3)
        #expect(error.description.contains("bridge.yml:3:3: error: router: unknown key 'dhpc'"))
        #expect(error.fix?.contains("did you mean 'dhcp'?") == true)
    }
}

@Test func syntaxErrorsCarryTheirLine() {
    do {
        _ = try YAMLValue.parse("a: 1\nb: [1, 2\nc: 3\n", file: "s.yml")
        Issue.record("a broken document parsed")
    } catch {
        #expect(error.file == "s.yml" && error.line >= 2)
        #expect(error.message.hasPrefix("YAML syntax"))
    }
}

@Test func typedScalars() throws {
    let root = try YAMLValue.parse("d: 250ms\nh: 1h\nn: 42\np: 2%\nf: 0.5\nb: yes\nx: 5q\n", file: "t.yml")
    let m = try root.mapping(allowed: ["d", "h", "n", "p", "f", "b", "x"])
    #expect(try m.required("d").duration() == .milliseconds(250))
    #expect(try m.required("h").duration() == .seconds(3600))
    #expect(try m.required("n").int(in: 0...100) == 42)
    #expect(throws: ConfigError.self) { try m.required("n").int(in: 0...10) }
    #expect(try m.required("p").fraction() == 0.02)
    #expect(try m.required("f").fraction() == 0.5)
    #expect(try m.required("b").bool())
    #expect(throws: ConfigError.self) { try m.required("x").duration() }
    #expect(throws: ConfigError.self) { try m.required("missing") }
    #expect(m["missing"] == nil)
}

@Test func durationParsing() {
    #expect(parseDuration("5") == .seconds(5))
    #expect(parseDuration("1.5s") == .milliseconds(1500))
    #expect(parseDuration("10us") == .microseconds(10))
    #expect(parseDuration("-1s") == nil)
    #expect(parseDuration("abc") == nil)
}

@Test func suggestionsAreTheNearestCloseCandidate() {
    let keys = ["timeline", "nodes", "links", "expect"]
    #expect(closestCandidate(to: "timline", in: keys) == "timeline")
    #expect(closestCandidate(to: "NODES", in: keys) == "nodes")            // case does not count
    #expect(closestCandidate(to: "bandwidth", in: keys) == nil)            // nothing close
    #expect(closestCandidate(to: "x", in: []) == nil)
    // The default allows max(2, a third of the word); a caller may be stricter.
    #expect(closestCandidate(to: "lnks", in: keys) == "links")
    #expect(closestCandidate(to: "h9", in: ["h1"]) == "h1")
    #expect(closestCandidate(to: "x9", in: ["h1"], maximumDistance: 1) == nil)
    #expect(didYouMean("expct", in: keys) == "did you mean 'expect'? ")
    #expect(didYouMean("zzzzzz", in: keys) == "")
}

/// Durations past `YAMLValue.maximumDuration` (about 31 years) are located errors, not traps
/// (1e10s overflowed Int64 nanoseconds before).
@Test func hugeDurationsAreOutOfRange() throws {
    let root = try YAMLValue.parse("a: 1e10s\nb: 1e300h\nc: 1000000000s\nd: 1e12\n", file: "t.yml")
    let m = try root.mapping(allowed: ["a", "b", "c", "d"])
    for key in ["a", "b", "d"] {
        do {
            _ = try m.required(key).duration()
            Issue.record("\(key) parsed")
        } catch {
            #expect(error.message.contains("out of range") && error.fix?.contains("at most") == true, "\(error)")
            #expect(error.line >= 1 && error.column == 4)
        }
    }
    #expect(try m.required("c").duration() == .seconds(1_000_000_000))
    #expect(parseDuration("1e10s") == nil && parseDuration("1e400s") == nil)
}
