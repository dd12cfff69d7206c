/// AlterPartitionReassignments (key 45, Kafka's KIP-455): starts or cancels the reassignment of
/// partitions to new replica sets. Forwarded to the active controller; needs ALTER on the cluster.
///
/// Body: `i32 timeoutMs`, then topics (`str name`, partitions: `i32 partition`, `bool cancel`,
/// `i32[] replicas`). A cancellation carries no replicas.
public struct AlterPartitionReassignmentsRequest: WireRequest, Hashable {
    public typealias Response = AlterPartitionReassignmentsResponse
    public static let apiKey = ApiKey.alterPartitionReassignments

    /// One partition's new replica set, or nil to cancel its reassignment in progress.
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// The target replicas, the preferred leader first; nil cancels.
        public var replicas: [Int32]?
        public init(partition: Int32, replicas: [Int32]?) {
            self.partition = partition
            self.replicas = replicas
        }
    }

    public typealias Topic = TopicPartitions<Partition>

    public var timeoutMs: Int32
    public var topics: [Topic]

    public init(topics: [Topic], timeoutMs: Int32 = 30_000) {
        self.topics = topics
        self.timeoutMs = timeoutMs
    }

    public init(from reader: inout ByteReader) throws {
        timeoutMs = try reader.readInt32("timeoutMs")
        topics = try reader.readArray("topics", minElementSize: 6) { r in
            let name = try r.readString("topic")
            let partitions = try r.readArray("partitions", minElementSize: 9) { r in
                let partition = try r.readInt32("partition")
                let cancel = try r.readBool("cancel")
                let replicas = try r.readInt32Array("replicas")
                guard !cancel || replicas.isEmpty else {
                    throw WireError(.malformed, "\(name)-\(partition): a cancellation names replicas \(replicas)")
                }
                return Partition(partition: partition, replicas: cancel ? nil : replicas)
            }
            return Topic(name: name, partitions: partitions)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(timeoutMs)
        writer.writeTopics(topics) { w, partition in
            w.write(partition.partition)
            w.write(partition.replicas == nil)
            w.writeInt32Array(partition.replicas ?? [])
        }
    }
}

/// The outcome of each partition of an AlterPartitionReassignments, in request order.
public struct AlterPartitionReassignmentsResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public init(partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil) {
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    public typealias Topic = TopicPartitions<Partition>

    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 8) { r in
            Partition(
                partition: try r.readInt32("partition"), errorCode: ErrorCode(rawValue: try r.readInt16()),
                errorMessage: try r.readNullableString("errorMessage"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, partition in
            w.write(partition.partition)
            w.write(partition.errorCode.rawValue)
            w.writeNullableString(partition.errorMessage)
        }
    }
}
