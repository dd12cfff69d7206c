/// Produce (key 0): appends record batches to partitions.
///
/// `acks` 0 gets no response at all; 1 is answered once the leader appended; -1 (all) once every
/// in-sync replica has the records and the leader has fsynced them (`log.flush.mode=sync`).
public struct ProduceRequest: WireRequest {
    public typealias Response = ProduceResponse
    public static let apiKey = ApiKey.produce

    public struct Partition: Sendable {
        public var partition: Int32
        /// One or more complete record batches.
        public var records: [UInt8]
        public init(partition: Int32, records: [UInt8]) {
            self.partition = partition
            self.records = records
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var acks: Int16
    public var timeoutMs: Int32
    public var topics: [Topic]

    public init(acks: Int16, timeoutMs: Int32, topics: [Topic]) {
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        acks = try reader.readInt16("acks")
        timeoutMs = try reader.readInt32("timeoutMs")
        topics = try reader.readTopics(minPartitionSize: 8) { p in
            let partition = try p.readInt32("partition")
            let length = try p.readInt32("records length")
            guard length >= 0 else { throw WireError(.malformed, "records: length \(length)") }
            return Partition(partition: partition, records: try p.readBytes(count: Int(length), "records"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(acks)
        writer.write(timeoutMs)
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.writeNullableBytes(p.records)
        }
    }
}

public struct ProduceResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        /// Offset assigned to the first record; -1 on error.
        public var baseOffset: Int64
        public var logStartOffset: Int64
        public init(
            partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil, baseOffset: Int64 = -1,
            logStartOffset: Int64 = -1
        ) {
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.baseOffset = baseOffset
            self.logStartOffset = logStartOffset
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 24) { p in
            Partition(
                partition: try p.readInt32(), errorCode: ErrorCode(rawValue: try p.readInt16()),
                errorMessage: try p.readNullableString(), baseOffset: try p.readInt64(),
                logStartOffset: try p.readInt64())
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
            w.writeNullableString(p.errorMessage)
            w.write(p.baseOffset)
            w.write(p.logStartOffset)
        }
    }
}
