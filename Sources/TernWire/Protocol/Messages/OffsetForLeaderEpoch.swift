/// OffsetForLeaderEpoch (key 23, Kafka's OffsetsForLeaderEpoch, KIP-101/279/320): for each
/// partition, the largest leader epoch at or below the one asked about that the leader's log
/// holds, and the offset where that epoch ends. A follower (or a consumer checking its position
/// after a leader change) compares it with its own log to find where the two diverge.
public struct OffsetForLeaderEpochRequest: WireRequest, Hashable {
    public typealias Response = OffsetForLeaderEpochResponse
    public static let apiKey = ApiKey.offsetForLeaderEpoch

    /// `replicaId` of a consumer (any client that is not a broker).
    public static let consumerReplicaId: Int32 = -1

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// The leader epoch the sender believes current (KIP-320): FENCED_LEADER_EPOCH when older
        /// than the leader's, UNKNOWN_LEADER_EPOCH when newer; -1 skips the check.
        public var currentLeaderEpoch: Int32
        /// The epoch whose end offset is asked for.
        public var leaderEpoch: Int32
        public init(partition: Int32, currentLeaderEpoch: Int32 = -1, leaderEpoch: Int32) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.leaderEpoch = leaderEpoch
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    /// The asking broker's id, or ``consumerReplicaId``.
    public var replicaId: Int32
    public var topics: [Topic]

    public init(replicaId: Int32 = OffsetForLeaderEpochRequest.consumerReplicaId, topics: [Topic]) {
        self.replicaId = replicaId
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        replicaId = try reader.readInt32("replicaId")
        topics = try reader.readTopics(minPartitionSize: 12) { p in
            Partition(
                partition: try p.readInt32(), currentLeaderEpoch: try p.readInt32("currentLeaderEpoch"),
                leaderEpoch: try p.readInt32("leaderEpoch"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(replicaId)
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.currentLeaderEpoch)
            w.write(p.leaderEpoch)
        }
    }
}

public struct OffsetForLeaderEpochResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        /// The largest epoch at or below the one asked about; -1 when unknown.
        public var leaderEpoch: Int32
        /// Where that epoch ends (the log end offset for the current epoch); -1 when unknown.
        public var endOffset: Int64
        public init(partition: Int32, errorCode: ErrorCode = .none, leaderEpoch: Int32 = -1, endOffset: Int64 = -1) {
            self.partition = partition
            self.errorCode = errorCode
            self.leaderEpoch = leaderEpoch
            self.endOffset = endOffset
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 18) { p in
            Partition(
                partition: try p.readInt32(), errorCode: ErrorCode(rawValue: try p.readInt16()),
                leaderEpoch: try p.readInt32("leaderEpoch"), endOffset: try p.readInt64("endOffset"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
            w.write(p.leaderEpoch)
            w.write(p.endOffset)
        }
    }
}
