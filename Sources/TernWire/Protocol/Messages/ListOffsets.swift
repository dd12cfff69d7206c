/// ListOffsets (key 2): the earliest or latest offset of partitions, or the first offset at or
/// after a timestamp.
public struct ListOffsetsRequest: WireRequest, Hashable {
    public typealias Response = ListOffsetsResponse
    public static let apiKey = ApiKey.listOffsets

    /// `timestamp` value asking for the log start offset.
    public static let earliest: Int64 = -2
    /// `timestamp` value asking for the log end offset (the high watermark).
    public static let latest: Int64 = -1

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// `earliest` (-2), `latest` (-1) or milliseconds since the epoch.
        public var timestamp: Int64
        public init(partition: Int32, timestamp: Int64) {
            self.partition = partition
            self.timestamp = timestamp
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 12) { p in
            Partition(partition: try p.readInt32(), timestamp: try p.readInt64("timestamp"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.timestamp)
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
