/// Produce (key 0): appends record batches to partitions.
///
/// `acks` 0 gets no response at all; 1 is answered once the leader appended; -1 (all) once every
/// in-sync replica has the records and the leader has fsynced them (`log.flush.mode=sync`).
///
/// Version 1 adds, per partition, an optional ``ProduceCondition`` (conditional append) and an
/// append id that makes a retried conditional append idempotent.
public struct ProduceRequest: WireRequest {
    public typealias Response = ProduceResponse
    public static let apiKey = ApiKey.produce
    public static let apiVersion: UInt16 = 1

    public struct Partition: Sendable {
        public var partition: Int32
        /// One or more complete record batches.
        public var records: [UInt8]
        /// v1: appended only if this holds (nil: always).
        public var condition: ProduceCondition?
        /// v1: the id the first record of the first batch carries in its `tern.append.id` header
        /// (1 to 64 bytes): when the condition fails because this very batch was already appended
        /// (a retry whose first answer was lost), the broker answers success with its offset.
        public var appendId: [UInt8]?
        public init(partition: Int32, records: [UInt8], condition: ProduceCondition? = nil, appendId: [UInt8]? = nil) {
            self.partition = partition
            self.records = records
            self.condition = condition
            self.appendId = appendId
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    /// The version the request is encoded at: 0, or 1 (conditions).
    public var version: UInt16
    public var acks: Int16
    public var timeoutMs: Int32
    public var topics: [Topic]

    public init(acks: Int16, timeoutMs: Int32, topics: [Topic], version: UInt16 = 0) {
        self.version = version
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws { try self.init(from: &reader, version: 0) }

    public init(from reader: inout ByteReader, version: UInt16) throws {
        self.version = version
        acks = try reader.readInt16("acks")
        timeoutMs = try reader.readInt32("timeoutMs")
        topics = try reader.readTopics(minPartitionSize: version >= 1 ? 21 : 8) { p in
            let partition = try p.readInt32("partition")
            let length = try p.readInt32("records length")
            guard length >= 0 else { throw WireError(.malformed, "records: length \(length)") }
            let records = try p.readBytes(count: Int(length), "records")
            guard version >= 1 else { return Partition(partition: partition, records: records) }
            let tag = try p.readInt8("condition")
            let expected = try p.readInt64("expectedOffset")
            let condition = try ProduceCondition.decode(tag: tag, expectedOffset: expected)
            let appendId = try p.readNullableBytes("appendId")
            return Partition(partition: partition, records: records, condition: condition, appendId: appendId)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(acks)
        writer.write(timeoutMs)
        writer.writeTopics(topics) { [version] w, p in
            w.write(p.partition)
            w.writeNullableBytes(p.records)
            if version >= 1 { Self.writeCondition(&w, p.condition, appendId: p.appendId) }
        }
    }

    /// Writes a partition's v1 fields that follow its records.
    public static func writeCondition(_ writer: inout ByteWriter, _ condition: ProduceCondition?, appendId: [UInt8]?) {
        writer.write(ProduceCondition.tag(of: condition))
        writer.write(condition?.expectedOffset ?? -1)
        writer.writeNullableBytes(appendId)
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
        /// v1: with CONDITION_FAILED (or OFFSET_OUT_OF_RANGE for a condition past the log), the
        /// offset the condition was checked against: the log end offset for an end-offset
        /// condition, the key's latest offset (-1: none) for a key condition. -1 otherwise.
        public var actualOffset: Int64
        public init(
            partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil, baseOffset: Int64 = -1,
            logStartOffset: Int64 = -1, actualOffset: Int64 = -1
        ) {
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.baseOffset = baseOffset
            self.logStartOffset = logStartOffset
            self.actualOffset = actualOffset
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws { try self.init(from: &reader, version: 0) }

    /// Decodes a response to a request of `version` (v1 adds `actualOffset`).
    public init(from reader: inout ByteReader, version: UInt16) throws {
        topics = try reader.readTopics(minPartitionSize: version >= 1 ? 32 : 24) { p in
            Partition(
                partition: try p.readInt32(), errorCode: ErrorCode(rawValue: try p.readInt16()),
                errorMessage: try p.readNullableString(), baseOffset: try p.readInt64(),
                logStartOffset: try p.readInt64(), actualOffset: version >= 1 ? try p.readInt64("actualOffset") : -1)
        }
    }

    public func encode(into writer: inout ByteWriter) { encode(into: &writer, version: 0) }

    /// Encodes the body of `version`.
    public func encode(into writer: inout ByteWriter, version: UInt16) {
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
            w.writeNullableString(p.errorMessage)
            w.write(p.baseOffset)
            w.write(p.logStartOffset)
            if version >= 1 { w.write(p.actualOffset) }
        }
    }
}
