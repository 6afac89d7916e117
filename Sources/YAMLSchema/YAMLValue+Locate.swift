// Finding a value by its path, for errors about a setting that was read earlier (a reload that
// changes what cannot change live points at the new value in the file).
import Yams

extension YAMLValue {
    /// The value at `keys` below this one (mapping keys, or decimal indices into lists); where a
    /// step is missing, the deepest value found (the section that should have held it). Its
    /// `path` is the dotted path of what was found.
    public func locate(_ keys: [String]) -> YAMLValue {
        var current = self
        for key in keys {
            switch current.node {
            case .mapping(let m):
                guard let (_, v) = m.first(where: { $0.key.string == key }) else { return current }
                current = YAMLValue(node: v, path: current.path.isEmpty ? key : "\(current.path).\(key)", file: file)
            case .sequence(let s):
                guard let i = Int(key), s.indices.contains(i) else { return current }
                current = YAMLValue(node: s[i], path: "\(current.path)[\(i)]", file: file)
            default:
                return current
            }
        }
        return current
    }
}
