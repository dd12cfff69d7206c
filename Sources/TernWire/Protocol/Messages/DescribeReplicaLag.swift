/// DescribeReplicaLag (key 1003, Tern's own): how far each replica of a partition is behind the
/// partition's leader, as the leader sees it — the follower's last fetch offset and durable
/// offset, the records it is behind the leader's log end and how long since it was last caught
/// up (what `replica.lag.time.max.ms` is measured against). Only the leader answers
/// (NOT_LEADER_OR_FOLLOWER elsewhere): nobody else tracks the followers. `tern topic describe`
/// sends one request per partition leader.
public struct DescribeReplicaLagRequest: WireRequest, Hashable {
    public typealias Response = DescribeReplicaLagResponse
    public static let apiKey = ApiKey.describeReplicaLag

    public typealias Topic = TopicPartitions<Int32>
    /// The partitions asked about, by topic.
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 4) { try $0.readInt32("partition") }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, p in w.write(p) }
    }
}

public struct DescribeReplicaLagResponse: WireResponse, Hashable {
    /// One replica of a partition, as its leader sees it. For the leader itself: its log end,
    /// durable (fsynced) offset and no lag.
    public struct Replica: Sendable, Hashable {
        public var replicaId: Int32
        /// Where the replica fetched from last (its log end); -1 when it has not fetched from
        /// this leader in its epoch.
        public var fetchOffset: Int64
        /// The end of what the replica reported fsynced (what the high watermark counts); -1
        /// when unknown.
        public var durableOffset: Int64
        /// Records between `fetchOffset` and the leader's log end; -1 when unknown.
        public var lagRecords: Int64
        /// Milliseconds since the replica last had everything the leader had (0 when it has it
        /// now); -1 when unknown.
        public var caughtUpAgoMs: Int64
        /// Milliseconds since the replica's last fetch; -1 when it has not fetched (or for the leader).
        public var lastFetchAgoMs: Int64

        public init(
            replicaId: Int32, fetchOffset: Int64 = -1, durableOffset: Int64 = -1, lagRecords: Int64 = -1,
            caughtUpAgoMs: Int64 = -1, lastFetchAgoMs: Int64 = -1
        ) {
            self.replicaId = replicaId
            self.fetchOffset = fetchOffset
            self.durableOffset = durableOffset
            self.lagRecords = lagRecords
            self.caughtUpAgoMs = caughtUpAgoMs
            self.lastFetchAgoMs = lastFetchAgoMs
        }
    }

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        /// The answering leader's epoch; -1 with an error.
        public var leaderEpoch: Int32
        public var highWatermark: Int64
        public var logEndOffset: Int64
        /// Every replica of the partition, in replica-list order (the leader included).
        public var replicas: [Replica]

        public init(
            partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil, leaderEpoch: Int32 = -1,
            highWatermark: Int64 = -1, logEndOffset: Int64 = -1, replicas: [Replica] = []
        ) {
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.leaderEpoch = leaderEpoch
            self.highWatermark = highWatermark
            self.logEndOffset = logEndOffset
            self.replicas = replicas
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 32) { p in
            Partition(
                partition: try p.readInt32("partition"), errorCode: ErrorCode(rawValue: try p.readInt16("errorCode")),
                errorMessage: try p.readNullableString("errorMessage"), leaderEpoch: try p.readInt32("leaderEpoch"),
                highWatermark: try p.readInt64("highWatermark"), logEndOffset: try p.readInt64("logEndOffset"),
                replicas: try p.readArray("replicas", minElementSize: 44) { r in
                    Replica(
                        replicaId: try r.readInt32("replicaId"), fetchOffset: try r.readInt64("fetchOffset"),
                        durableOffset: try r.readInt64("durableOffset"), lagRecords: try r.readInt64("lagRecords"),
                        caughtUpAgoMs: try r.readInt64("caughtUpAgoMs"),
                        lastFetchAgoMs: try r.readInt64("lastFetchAgoMs"))
                })
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
            w.writeNullableString(p.errorMessage)
            w.write(p.leaderEpoch)
            w.write(p.highWatermark)
            w.write(p.logEndOffset)
            w.writeArray(p.replicas) { w, r in
                w.write(r.replicaId)
                w.write(r.fetchOffset)
                w.write(r.durableOffset)
                w.write(r.lagRecords)
                w.write(r.caughtUpAgoMs)
                w.write(r.lastFetchAgoMs)
            }
        }
    }
}
