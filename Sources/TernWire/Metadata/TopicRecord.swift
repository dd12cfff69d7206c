/// A topic was created: its id, name and config overrides (its partitions follow as
/// ``PartitionRecord``s).
public struct TopicRecord: Hashable, Sendable {
    public var topicId: MetadataUUID
    public var name: String
    /// Topic-level overrides; encoded sorted by key so equal records encode to equal bytes.
    public var configs: [String: String]

    public init(topicId: MetadataUUID, name: String, configs: [String: String] = [:]) {
        self.topicId = topicId
        self.name = name
        self.configs = configs
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(topicId)
        writer.writeString(name)
        writeConfigs(configs, into: &writer)
    }

    static func decode(from reader: inout ByteReader) throws -> TopicRecord {
        let id = try reader.readUUID("topic id")
        let name = try reader.readString("topic name")
        let configs = try readConfigs(from: &reader, "topic \(name) configs")
        return TopicRecord(topicId: id, name: name, configs: configs)
    }
}

/// A topic and all its partitions were deleted.
public struct RemoveTopicRecord: Hashable, Sendable {
    public var topicId: MetadataUUID

    public init(topicId: MetadataUUID) { self.topicId = topicId }

    func encode(into writer: inout ByteWriter) { writer.write(topicId) }

    static func decode(from reader: inout ByteReader) throws -> RemoveTopicRecord {
        RemoveTopicRecord(topicId: try reader.readUUID("removed topic id"))
    }
}

/// One config key of a topic or broker was set (`value != nil`) or removed (`value == nil`,
/// falling back to the default).
public struct ConfigRecord: Hashable, Sendable {
    /// What the config belongs to; raw values are Kafka's `ConfigResource.Type`.
    public struct ResourceType: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt8
        public init?(rawValue: UInt8) {
            guard rawValue == 2 || rawValue == 4 else { return nil }
            self.rawValue = rawValue
        }
        private init(known: UInt8) { rawValue = known }

        public static let topic = ResourceType(known: 2)
        /// A broker (resource name = node id) or the cluster-wide default (empty name).
        public static let broker = ResourceType(known: 4)

        public var description: String { rawValue == 2 ? "topic" : "broker" }
    }

    public var resourceType: ResourceType
    public var resourceName: String
    public var key: String
    public var value: String?

    public init(resourceType: ResourceType, resourceName: String, key: String, value: String?) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.key = key
        self.value = value
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(resourceType.rawValue)
        writer.writeString(resourceName)
        writer.writeString(key)
        writer.writeNullableString(value)
    }

    static func decode(from reader: inout ByteReader) throws -> ConfigRecord {
        let raw = try reader.readUInt8("config resource type")
        guard let type = ResourceType(rawValue: raw) else {
            throw WireError(.malformed, "config record: unknown resource type \(raw)")
        }
        return ConfigRecord(
            resourceType: type, resourceName: try reader.readString("config resource name"),
            key: try reader.readString("config key"), value: try reader.readNullableString("config value"))
    }
}

func writeConfigs(_ configs: [String: String], into writer: inout ByteWriter) {
    writer.writeArray(configs.sorted { $0.key < $1.key }) {
        $0.writeString($1.key)
        $0.writeString($1.value)
    }
}

func readConfigs(from reader: inout ByteReader, _ what: String) throws -> [String: String] {
    let count = try reader.readArrayCount(what, minElementSize: 4)
    var configs: [String: String] = [:]
    for _ in 0..<count {
        let key = try reader.readString("\(what) key")
        let value = try reader.readString("\(what) value")
        guard configs.updateValue(value, forKey: key) == nil else {
            throw WireError(.malformed, "\(what): key \(key) appears twice")
        }
    }
    return configs
}
