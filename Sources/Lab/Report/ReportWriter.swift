// Writes reports/<run-id>/: junit.xml, summary.md, index.html and the captures (copied in when
// they were written elsewhere), so the directory can be archived by CI as one artifact.
import Foundation

/// A report directory could not be written.
public struct ReportError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "cannot write report \(path): \(message)" }
}

/// The files of a written report.
public struct ReportFiles: Sendable {
    public var directory: String
    public var junit: String
    public var summary: String
    public var html: String
    /// Capture files inside the report directory, in run order.
    public var captures: [String]
}

/// Writes the three report files and gathers the captures.
public enum ReportWriter {
    /// Writes `runs` into `directory` (created if needed). Captures outside it are copied to
    /// `captures/<scenario>/<capture>.pcap`; the pages link to them relatively.
    @discardableResult
    public static func write(_ runs: [LabRun], to directory: String, title: String) throws(ReportError) -> ReportFiles {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        do { try fm.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            throw ReportError(path: root, message: error.localizedDescription)
        }
        var links: [String: String] = [:]
        var captureFiles: [String] = []
        for run in runs {
            for c in run.captures {
                let source = URL(fileURLWithPath: c.path).standardizedFileURL.path
                let inside: String
                if source.hasPrefix(root + "/") {
                    inside = source
                } else {
                    let dir = "\(root)/captures/\(run.slug)"
                    inside = "\(dir)/\(Markup.slug(c.name)).pcap"
                    do {
                        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                        if fm.fileExists(atPath: inside) { try fm.removeItem(atPath: inside) }
                        try fm.copyItem(atPath: source, toPath: inside)
                    } catch {
                        throw ReportError(path: inside, message: "copying capture \(source): \(error.localizedDescription)")
                    }
                }
                links[c.path] = String(inside.dropFirst(root.count + 1))
                captureFiles.append(inside)
            }
        }
        let files = ReportFiles(directory: root, junit: root + "/junit.xml", summary: root + "/summary.md",
                                html: root + "/index.html", captures: captureFiles)
        try save(JUnitReport.xml(runs, name: title), to: files.junit)
        try save(MarkdownSummary.render(runs, title: title), to: files.summary)
        try save(HTMLReport.render(runs, title: title, captureLinks: links), to: files.html)
        return files
    }

    static func save(_ text: String, to path: String) throws(ReportError) {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ReportError(path: path, message: error.localizedDescription)
        }
    }
}
