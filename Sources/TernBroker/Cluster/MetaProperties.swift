/// A log directory's `meta.properties`: which node, and which cluster, the directory belongs to.
///
/// Kafka's KRaft format, version 1: `key=value` lines with `#` comments,
///
/// ```
/// #Written by ternd: the node and cluster this log directory belongs to.
/// cluster.id=3Hh2Tq6sSU2b1DwnEJmQ9w
/// node.id=1
/// version=1
/// ```
///
/// `cluster.id` is absent until the metadata quorum has a cluster id (Tern has no separate format
/// step: the first elected controller writes the id). Reading is strict, because a guessed
/// identity could attach a directory to the wrong node: missing or malformed `version`/`node.id`,
/// a key given twice, a line that is not `key=value`, escapes (`\`), or a file that is not UTF-8
/// are refused. Keys this build does not know (Kafka's `directory.id`) are kept and written back.
public struct MetaProperties: Hashable, Sendable {
    /// The file's name inside a log directory.
    public static let fileName = "meta.properties"
    /// The only version this build reads and writes.
    public static let currentVersion = 1

    public var nodeId: Int32
    /// Nil until the quorum's cluster id is known.
    public var clusterId: String?
    /// Keys this build does not interpret, written back unchanged.
    public var otherProperties: [String: String]

    public init(nodeId: Int32, clusterId: String? = nil, otherProperties: [String: String] = [:]) {
        self.nodeId = nodeId
        self.clusterId = clusterId
        self.otherProperties = otherProperties
    }

    /// Parses the file's text.
    /// - Parameter path: named in every error.
    /// - Throws: ``MetaPropertiesError`` `.corrupt` naming `path`, the line and what is wrong.
    public init(parsing text: String, path: String) throws(MetaPropertiesError) {
        func corrupt(_ reason: String) -> MetaPropertiesError { MetaPropertiesError(.corrupt, path: path, reason) }
        var properties: [String: (value: String, line: Int)] = [:]
        var lineNumber = 0
        // By lines, "\r\n" included (one Character in Swift, so not split by "\n").
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let line = String(rawLine).trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw corrupt("line \(lineNumber) is not key=value")
            }
            let key = String(line[..<equals]).trimmingWhitespace()
            let value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            guard !key.isEmpty else { throw corrupt("line \(lineNumber) has no key") }
            // Java's Properties would interpret escapes and continuations; Tern never writes them.
            guard !line.contains("\\") else { throw corrupt("line \(lineNumber) has a '\\' escape") }
            if let first = properties[key] {
                throw corrupt("\(key) is set twice (lines \(first.line) and \(lineNumber))")
            }
            properties[key] = (value, lineNumber)
        }
        guard let version = properties.removeValue(forKey: "version")?.value else { throw corrupt("no version") }
        guard version == String(Self.currentVersion) else {
            throw corrupt("version \(version); this build reads version \(Self.currentVersion)")
        }
        guard let nodeText = properties.removeValue(forKey: "node.id")?.value else { throw corrupt("no node.id") }
        guard let nodeId = Self.parseNodeId(nodeText) else {
            throw corrupt("node.id '\(nodeText)' is not a whole number in 0...\(Int32.max)")
        }
        self.nodeId = nodeId
        if let cluster = properties.removeValue(forKey: "cluster.id")?.value {
            guard Self.isValidClusterId(cluster) else {
                throw corrupt("cluster.id '\(cluster)' is not 1-255 ASCII letters, digits, '_' or '-'")
            }
            clusterId = cluster
        } else {
            clusterId = nil
        }
        otherProperties = properties.mapValues(\.value)
    }

    /// The file's text: a comment line, then the properties sorted by key.
    public func rendered() -> String {
        var properties = otherProperties
        properties["version"] = String(Self.currentVersion)
        properties["node.id"] = String(nodeId)
        if let clusterId { properties["cluster.id"] = clusterId }
        var text = "#Written by ternd: the node and cluster this log directory belongs to.\n"
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) { text += "\(key)=\(value)\n" }
        return text
    }

    /// A cluster id as the metadata log carries it: 1–255 ASCII letters, digits, `_` or `-` (a
    /// generated one is 22 base64url characters, see ``ClusterId``).
    public static func isValidClusterId(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 255
            && text.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    private static func parseNodeId(_ text: String) -> Int32? {
        guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = Int64(text), value <= Int64(Int32.max)
        else { return nil }
        return Int32(value)
    }
}

/// Why a log directory's `meta.properties` stops the node from starting.
public struct MetaPropertiesError: Error, Hashable, CustomStringConvertible, Sendable {
    /// Kinds of failure; match with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// The directory belongs to another node id or cluster: a configuration mistake
        /// (`ternd` exits 78).
        public static let mismatch = Code("belongs elsewhere")
        /// The file cannot be parsed (`ternd` exits 73: the data directory is unusable).
        public static let corrupt = Code("corrupt")
        /// The file cannot be read or written (`ternd` exits 73).
        public static let io = Code("I/O error")

        public var description: String { raw }
    }

    public var code: Code
    /// The `meta.properties` file.
    public var path: String
    public var reason: String

    public init(_ code: Code, path: String, _ reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
