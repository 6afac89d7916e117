// A scenario file as a value (docs/scenarios.md): a topology of bridges and hosts joined by
// impaired links, captures, a timeline of actions and the expectations checked afterwards.
// Parsing and validation are in ScenarioParser.swift; this file holds only the model.
import Basics

/// One scenario file, parsed and validated: every reference resolves, every filter compiles,
/// every field is honoured by every backend the file names.
public struct Scenario: Sendable {
    /// The file it came from (as given to the loader).
    public var file: String
    public var name: String
    public var description: String?
    /// The seed used when the command line gives none.
    public var seed: UInt64 = 1
    /// How much (virtual) time a run lasts.
    public var duration: Duration = .seconds(60)
    /// Backends the scenario makes sense on; a run on another backend skips it.
    public var backends: [LabBackend] = [.sim]
    /// Nodes in file order.
    public var nodes: [ScenarioNode] = []
    /// Links in file order; timeline actions name them by index or name.
    public var links: [ScenarioLink] = []
    /// Captures in file order.
    public var captures: [ScenarioCapture] = []
    /// Timeline entries in file order (not time order: `after:` entries are placed at run time).
    public var timeline: [TimelineEntry] = []
    public var expectations: [ScenarioExpectation] = []
    /// Set when the nodes are mesh nodes (docs/scenarios.md, "Mesh scenarios"): then `nodes`, `links`, `timeline`
    /// and `expectations` stay empty and this holds the whole scenario.
    public var mesh: MeshScenario?
    /// Every field used that some backend might not honour, where it was written.
    public var features: [FeatureUse] = []
    /// Where the file starts (for errors about the whole scenario).
    public var location: ScenarioLocation

    public init(file: String, name: String, location: ScenarioLocation) {
        self.file = file; self.name = name; self.location = location
    }

    /// The node called `name`.
    public func node(named name: String) -> ScenarioNode? { nodes.first { $0.name == name } }

    /// The timeline entry whose `as:` is `name`.
    public func entry(named name: String) -> TimelineEntry? { timeline.first { $0.name == name } }

    /// The capture called `name`.
    public func capture(named name: String) -> ScenarioCapture? { captures.first { $0.name == name } }

    /// Fields this scenario uses that `backend` cannot honour, with where they were written.
    public func unsupportedFeatures(on backend: LabBackend) -> [FeatureUse] {
        let capabilities = BackendCapabilities.of(backend)
        return features.filter { !capabilities.supports($0.feature) }
    }
}
