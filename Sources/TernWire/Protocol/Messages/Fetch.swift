/// Fetch (key 1): reads record batches from partitions, waiting up to `maxWaitMs` until at least
/// `minBytes` are available.
public struct FetchRequest: WireRequest, Hashable {
    public typealias Response = FetchResponse
    public static let apiKey = ApiKey.fetch

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var fetchOffset: Int64
        /// Most bytes to return for this partition (at least one whole batch is always returned).
        public var maxBytes: Int32
        public init(partition: Int32, fetchOffset: Int64, maxBytes: Int32) {
            self.partition = partition
            self.fetchOffset = fetchOffset
            self.maxBytes = maxBytes
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    /// -1 for consumers; a broker id for replicas.
    public var replicaId: Int32
    public var maxWaitMs: Int32
    public var minBytes: Int32
    /// Most bytes for the whole response.
    public var maxBytes: Int32
    public var topics: [Topic]

    public init(replicaId: Int32 = -1, maxWaitMs: Int32, minBytes: Int32, maxBytes: Int32, topics: [Topic]) {
        self.replicaId = replicaId
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        replicaId = try reader.readInt32("replicaId")
        maxWaitMs = try reader.readInt32("maxWaitMs")
        minBytes = try reader.readInt32("minBytes")
        maxBytes = try reader.readInt32("maxBytes")
        topics = try reader.readTopics(minPartitionSize: 16) { p in
            Partition(
                partition: try p.readInt32(), fetchOffset: try p.readInt64("fetchOffset"),
                maxBytes: try p.readInt32("partitionMaxBytes"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(replicaId)
        writer.write(maxWaitMs)
        writer.write(minBytes)
        writer.write(maxBytes)
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.fetchOffset)
            w.write(p.maxBytes)
        }
    }
}

public struct FetchResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var highWatermark: Int64
        public var logStartOffset: Int64
        /// Whole record batches (the last may be cut short by the byte limit; readers skip it).
        public var records: [UInt8]
        public init(
            partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil, highWatermark: Int64 = -1,
            logStartOffset: Int64 = -1, records: [UInt8] = []
        ) {
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.highWatermark = highWatermark
            self.logStartOffset = logStartOffset
            self.records = records
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 28) { p in
            let partition = try p.readInt32()
            let code = ErrorCode(rawValue: try p.readInt16())
            let message = try p.readNullableString()
            let highWatermark = try p.readInt64("highWatermark")
            let logStartOffset = try p.readInt64("logStartOffset")
            let length = try p.readInt32("records length")
            guard length >= 0 else { throw WireError(.malformed, "records: length \(length)") }
            return Partition(
                partition: partition, errorCode: code, errorMessage: message, highWatermark: highWatermark,
                logStartOffset: logStartOffset, records: try p.readBytes(count: Int(length), "records"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(topics) { w, t in
            Self.writeTopicHeader(&w, name: t.name, partitionCount: t.partitions.count)
            for p in t.partitions {
                Self.writePartitionHeader(&w, p, recordsLength: p.records.count)
                w.write(contentsOf: p.records)
            }
        }
    }

    /// Writes a topic's name and partition count; its partitions follow.
    /// For encoders that send record bytes from files (see ``writePartitionHeader(_:_:recordsLength:)``).
    public static func writeTopicHeader(_ writer: inout ByteWriter, name: String, partitionCount: Int) {
        writer.writeString(name)
        writer.write(UInt32(partitionCount))
    }

    /// Writes everything of a partition up to and including the records length; exactly
    /// `recordsLength` bytes of record batches must follow. `partition.records` is ignored.
    public static func writePartitionHeader(_ writer: inout ByteWriter, _ partition: Partition, recordsLength: Int) {
        writer.write(partition.partition)
        writer.write(partition.errorCode.rawValue)
        writer.writeNullableString(partition.errorMessage)
        writer.write(partition.highWatermark)
        writer.write(partition.logStartOffset)
        writer.write(Int32(recordsLength))
    }
}
