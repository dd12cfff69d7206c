/// CreateTopics (key 19).
public struct CreateTopicsRequest: WireRequest, Hashable {
    public typealias Response = CreateTopicsResponse
    public static let apiKey = ApiKey.createTopics

    public struct Topic: Sendable, Hashable {
        public var name: String
        /// Number of partitions; -1 means the broker's `num.partitions`.
        public var numPartitions: Int32
        /// Replication factor; -1 means the broker's `default.replication.factor`.
        public var replicationFactor: Int16
        public var configs: [ConfigEntry]
        public init(name: String, numPartitions: Int32, replicationFactor: Int16 = -1, configs: [ConfigEntry] = []) {
            self.name = name
            self.numPartitions = numPartitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }
    public var topics: [Topic]
    public var timeoutMs: Int32
    /// Check the request without creating anything.
    public var validateOnly: Bool

    public init(topics: [Topic], timeoutMs: Int32 = 30_000, validateOnly: Bool = false) {
        self.topics = topics
        self.timeoutMs = timeoutMs
        self.validateOnly = validateOnly
    }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readArray("topics", minElementSize: 12) { r in
            Topic(
                name: try r.readString("topic"), numPartitions: try r.readInt32("numPartitions"),
                replicationFactor: try r.readInt16("replicationFactor"),
                configs: try r.readArray("configs", minElementSize: 4) { c in
                    ConfigEntry(name: try c.readString("config name"), value: try c.readString("config value"))
                })
        }
        timeoutMs = try reader.readInt32("timeoutMs")
        validateOnly = try reader.readBool("validateOnly")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(topics) { w, t in
            w.writeString(t.name)
            w.write(t.numPartitions)
            w.write(t.replicationFactor)
            w.writeArray(t.configs) { w, c in
                w.writeString(c.name)
                w.writeString(c.value)
            }
        }
        writer.write(timeoutMs)
        writer.write(validateOnly)
    }
}

public struct CreateTopicsResponse: WireResponse, Hashable {
    public var topics: [TopicResult]
    public init(topics: [TopicResult]) { self.topics = topics }
    public init(from reader: inout ByteReader) throws {
        topics = try reader.readArray("topics", minElementSize: 6) { try TopicResult.read(&$0) }
    }
    public func encode(into writer: inout ByteWriter) { writer.writeArray(topics) { $1.write(&$0) } }
}
