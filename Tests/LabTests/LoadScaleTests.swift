// Large files load (deliverable: loading is linear). No time is asserted here: `sluice bench load`
// measures the growth exponent; these tests prove the largest sizes it names load correctly.
import Engine
import Foundation
import Testing
import YAMLSchema
@testable import Lab

@Test func fiftyThousandExpectationsLoad() throws {
    let scenario = try Scenario.parseAll(LoadBenchmark.scenarioText(expectations: 50_000), file: "load.yml",
                                         directory: NSTemporaryDirectory()).get()
    #expect(scenario.expectations.count == 50_000)
    #expect(scenario.expectations.last?.name == "e49999" && scenario.expectations.last?.index == 49_999)
}

@Test func aHundredThousandReservationsLoad() throws {
    let config = try BridgeConfig.parse(LoadBenchmark.bridgeText(reservations: 100_000), file: "bridge.yml")
    let reservations = config.router?.interfaces.first?.dhcp?.reservations ?? []
    #expect(reservations.count == 100_000)
    #expect(reservations.last.map { "\($0.mac) \($0.ipv4)" } == "52:54:00:01:86:9f 10.2.134.159")
}

@Test func aRepeatedNameAmongThousandsIsStillFound() {
    // The name checks are dictionary lookups; this proves they still see a repeat at the end.
    var text = LoadBenchmark.scenarioText(expectations: 5_000)
    text += "  - { name: e17, action: p1, received: 1 }\n"
    let errors: [ConfigError]
    switch Scenario.parseAll(text, file: "load.yml", directory: NSTemporaryDirectory()) {
    case .success: errors = []
    case .failure(let f): errors = f.errors
    }
    #expect(errors.count == 1 && errors.first?.message.contains("expectation name 'e17' is used twice") == true, "\(errors)")
}

@Test func aMappingWithThousandsOfAllowedKeysIsCheckedByLookup() throws {
    // nodes: allows every name written; here all but the last of 20,000 are allowed.
    var text = "nodes:\n"
    for i in 0..<20_000 { text += "  h\(i): { kind: host, attach: br0 }\n" }
    let nodes = try YAMLValue.parse(text, file: "n.yml").mapping(allowed: ["nodes"])["nodes"]!
    var errors: [ConfigError] = []
    let m = try nodes.mapping(allowed: (0..<19_999).map { "h\($0)" }, recording: &errors)
    #expect(m.keys.count == 19_999 && m.keys.last == "h19998")
    #expect(errors.count == 1 && errors.first?.message == "nodes: unknown key 'h19999'" && errors.first?.line == 20_001, "\(errors)")
    if let first = errors.first { #expect(throws: first) { try nodes.mapping(allowed: (0..<19_999).map { "h\($0)" }) } }
}
