/// ListOffsets (key 2): the earliest or latest offset of partitions, or the first offset at or
/// after a timestamp.
///
/// Version 1 adds each partition's current leader epoch as the sender knows it (KIP-320): the
/// leader answers FENCED_LEADER_EPOCH when it is older than its own, UNKNOWN_LEADER_EPOCH when newer.
public struct ListOffsetsRequest: WireRequest, Hashable {
    public typealias Response = ListOffsetsResponse
    public static let apiKey = ApiKey.listOffsets
    public static let apiVersion: UInt16 = 1

    /// `timestamp` value asking for the log start offset.
    public static let earliest: Int64 = -2
    /// `timestamp` value asking for the log end offset (the high watermark).
    public static let latest: Int64 = -1

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// `earliest` (-2), `latest` (-1) or milliseconds since the epoch.
        public var timestamp: Int64
        /// v1: the leader epoch the sender believes current; -1 (and before v1) skips the check.
        public var currentLeaderEpoch: Int32
        public init(partition: Int32, timestamp: Int64, currentLeaderEpoch: Int32 = -1) {
            self.partition = partition
            self.timestamp = timestamp
            self.currentLeaderEpoch = currentLeaderEpoch
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    /// The version the request is encoded at: 0, or 1 (current leader epochs).
    public var version: UInt16
    public var topics: [Topic]

    public init(topics: [Topic], version: UInt16 = ListOffsetsRequest.apiVersion) {
        self.topics = topics
        self.version = version
    }

    public init(from reader: inout ByteReader) throws { try self.init(from: &reader, version: 0) }

    public init(from reader: inout ByteReader, version: UInt16) throws {
        self.version = version
        topics = try reader.readTopics(minPartitionSize: version >= 1 ? 16 : 12) { p in
            var partition = Partition(partition: try p.readInt32(), timestamp: try p.readInt64("timestamp"))
            if version >= 1 { partition.currentLeaderEpoch = try p.readInt32("currentLeaderEpoch") }
            return partition
        }
    }

    public func encode(into writer: inout ByteWriter) {
        let epochs = version >= 1
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.timestamp)
            if epochs { w.write(p.currentLeaderEpoch) }
        }
    }
}

public struct ListOffsetsResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        /// The timestamp of the found record (-1 for earliest/latest or when none was found).
        public var timestamp: Int64
        /// The offset found; -1 when no record has a timestamp at or after the one asked for.
        public var offset: Int64
        public init(partition: Int32, errorCode: ErrorCode = .none, timestamp: Int64 = -1, offset: Int64 = -1) {
            self.partition = partition
            self.errorCode = errorCode
            self.timestamp = timestamp
            self.offset = offset
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 22) { p in
            Partition(
                partition: try p.readInt32(), errorCode: ErrorCode(rawValue: try p.readInt16()),
                timestamp: try p.readInt64(), offset: try p.readInt64())
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
            w.write(p.timestamp)
            w.write(p.offset)
        }
    }
}
