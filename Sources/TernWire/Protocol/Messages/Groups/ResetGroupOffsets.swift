/// ResetGroupOffsets (key 1000, Tern's own): moves the committed offsets of a group that has no
/// members to the earliest or latest offset, a given offset, or the first offset at a timestamp.
public struct ResetGroupOffsetsRequest: WireRequest, Hashable {
    public typealias Response = ResetGroupOffsetsResponse
    public static let apiKey = ApiKey.resetGroupOffsets

    /// Where the offsets go.
    public struct Strategy: RawRepresentable, Sendable, Hashable {
        public var rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        /// The log start offset.
        public static let earliest = Strategy(rawValue: 0)
        /// The log end offset.
        public static let latest = Strategy(rawValue: 1)
        /// `value` itself, clamped into [log start, log end].
        public static let offset = Strategy(rawValue: 2)
        /// The first offset whose timestamp is ≥ `value` ms (the log end when none is).
        public static let timestamp = Strategy(rawValue: 3)
    }

    public var groupId: String
    public var topic: String
    /// Partitions to reset; empty means every partition of the topic.
    public var partitions: [Int32]
    public var strategy: Strategy
    /// The offset or timestamp for `.offset` and `.timestamp`; ignored otherwise.
    public var value: Int64
    /// Compute and return the new offsets without storing them.
    public var dryRun: Bool

    public init(
        groupId: String, topic: String, partitions: [Int32] = [], strategy: Strategy, value: Int64 = 0,
        dryRun: Bool = false
    ) {
        self.groupId = groupId
        self.topic = topic
        self.partitions = partitions
        self.strategy = strategy
        self.value = value
        self.dryRun = dryRun
    }

    public init(from reader: inout ByteReader) throws {
        groupId = try reader.readString("groupId")
        topic = try reader.readString("topic")
        partitions = try reader.readArray("partitions", minElementSize: 4) { try $0.readInt32("partition") }
        strategy = Strategy(rawValue: try reader.readInt8("strategy"))
        value = try reader.readInt64("value")
        dryRun = try reader.readBool("dryRun")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeString(groupId)
        writer.writeString(topic)
        writer.writeArray(partitions) { $0.write($1) }
        writer.write(strategy.rawValue)
        writer.write(value)
        writer.write(dryRun)
    }
}

public struct ResetGroupOffsetsResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        /// The new committed offset; -1 on error.
        public var offset: Int64
        public init(partition: Int32, errorCode: ErrorCode = .none, offset: Int64) {
            self.partition = partition
            self.errorCode = errorCode
            self.offset = offset
        }
    }

    /// NONE, NON_EMPTY_GROUP, UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST, NOT_COORDINATOR, …;
    /// when not NONE nothing changed and `partitions` is empty.
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var partitions: [Partition]

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, partitions: [Partition]) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.partitions = partitions
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        partitions = try reader.readArray("partitions", minElementSize: 14) { p in
            Partition(
                partition: try p.readInt32("partition"), errorCode: ErrorCode(rawValue: try p.readInt16("errorCode")),
                offset: try p.readInt64("offset"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeArray(partitions) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
            w.write(p.offset)
        }
    }
}
