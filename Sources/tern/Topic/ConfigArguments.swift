import ArgumentParser

/// `--config KEY=VALUE` options, shared by `topic create` and `topic alter`.
enum ConfigArguments {
    /// The values as a dictionary.
    /// - Throws: `ValidationError` for an entry without `=`, an empty key, or a key given twice.
    static func parse(_ entries: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else {
                throw ValidationError("--config '\(entry)' must be KEY=VALUE")
            }
            let key = String(entry[..<equals])
            guard !key.isEmpty else { throw ValidationError("--config '\(entry)' has an empty key") }
            guard result[key] == nil else { throw ValidationError("--config \(key) is given twice") }
            result[key] = String(entry[entry.index(after: equals)...])
        }
        return result
    }
}
