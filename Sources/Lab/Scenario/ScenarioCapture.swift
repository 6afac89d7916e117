// Captures of a scenario: a tap on a bridge segment's switch, or on the wire of a link between
// bridges, optionally filtered, whose frames are written to a pcap in the report and checked by
// expectations.

/// A named capture point.
public struct ScenarioCapture: Sendable {
    public var name: String
    /// The segment whose switch is tapped: every frame entering it is seen once.
    public var at: BridgeSegment
    /// A BPF filter (pcap-filter(7)); only matching frames are kept. nil keeps every frame.
    public var filter: String?
    public var location: ScenarioLocation
    /// A capture of a link's wire instead (`at: <link name>`): its index in `links:` and its name;
    /// `at` is then the link's first end.
    public var link: (index: Int, name: String)?
    /// What the report's ladder diagram of this capture shows (`ladder:`); nil: the automatic choice.
    public var ladder: LadderRequest?

    public init(name: String, at: BridgeSegment, filter: String? = nil, location: ScenarioLocation) {
        self.name = name; self.at = at; self.filter = filter; self.location = location
    }

    /// "br0.lan", or "link internet".
    public var placeDescription: String { link.map { "link \($0.name)" } ?? at.description }
}
