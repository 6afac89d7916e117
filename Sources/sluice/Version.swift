// Room: sluice — layer 7. The one version string of the tool (`sluice --version`).

/// Sluice's version: a constant bumped by hand when a release is cut (README.md, Version). The
/// installed binary cannot ask git, which is not there beside it at run time.
enum SluiceVersion {
    static let current = "0.10.0"
}
