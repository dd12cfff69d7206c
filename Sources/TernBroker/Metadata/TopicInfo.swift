/// What the broker knows of a topic: its partition count and its configuration overrides.
public struct TopicInfo: Sendable, Hashable, Codable {
    public var name: String
    public var id: String
    public var partitionCount: Int32
    public var replicationFactor: Int16
    /// Topic-level overrides; keys absent here take the broker's defaults.
    public var configs: [String: String]
    /// The partitions whose logs this broker holds (it is among their replicas), ascending; nil
    /// for every partition (what the single-node `__tern_topics.json` meant).
    public var replicaPartitions: [Int32]?

    public init(
        name: String, id: String, partitionCount: Int32, replicationFactor: Int16, configs: [String: String],
        replicaPartitions: [Int32]? = nil
    ) {
        self.name = name
        self.id = id
        self.partitionCount = partitionCount
        self.replicationFactor = replicationFactor
        self.configs = configs
        self.replicaPartitions = replicaPartitions
    }

    /// The indexes of the partitions this broker holds a log of.
    public var localPartitions: [Int32] { replicaPartitions ?? Array(0..<max(partitionCount, 0)) }

    /// True when this broker holds a log of `partition`.
    public func holds(_ partition: Int32) -> Bool {
        guard partition >= 0, partition < partitionCount else { return false }
        return replicaPartitions.map { $0.contains(partition) } ?? true
    }

    public var isInternal: Bool { name.hasPrefix("__") }

    /// Checks a topic name the way Kafka does: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
    public static func validateName(_ name: String) -> String? {
        if name.isEmpty { return "topic name is empty" }
        if name == "." || name == ".." { return "topic name cannot be '.' or '..'" }
        if name.utf8.count > 249 { return "topic name is longer than 249 characters" }
        for byte in name.utf8 {
            let ok =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
            if !ok { return "topic name '\(name)' has characters other than ASCII letters, digits, '.', '_' and '-'" }
        }
        return nil
    }

    /// Checks topic-level config overrides; returns the reason for the first bad one.
    public static func validateConfigs(_ configs: [String: String]) -> String? {
        for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
            guard let known = TopicConfigKeys.key(key) else { return "unknown topic config '\(key)'" }
            if let reason = known.definition.validate(value) { return "bad value for \(key): \(reason)" }
        }
        return nil
    }
}
