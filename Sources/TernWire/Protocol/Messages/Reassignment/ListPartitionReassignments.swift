/// ListPartitionReassignments (key 46, KIP-455): the reassignments in progress, from the
/// answering broker's committed metadata image. Needs DESCRIBE on the cluster.
///
/// Body: `bool allTopics`, then topics (`str name`, `i32[] partitions`), ignored when all.
public struct ListPartitionReassignmentsRequest: WireRequest, Hashable {
    public typealias Response = ListPartitionReassignmentsResponse
    public static let apiKey = ApiKey.listPartitionReassignments

    public typealias Topic = TopicPartitions<Int32>

    /// The partitions to look at; nil for every partition of every topic.
    public var topics: [Topic]?

    public init(topics: [Topic]? = nil) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        let all = try reader.readBool("allTopics")
        let named = try reader.readTopics(minPartitionSize: 4) { try $0.readInt32("partition") }
        guard !all || named.isEmpty else {
            throw WireError(.malformed, "ListPartitionReassignments: all topics and \(named.count) named topics")
        }
        topics = all ? nil : named
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(topics == nil)
        writer.writeTopics(topics ?? []) { $0.write($1) }
    }
}

/// Every listed partition with a reassignment in progress: its full replica set (target first)
/// and which of those replicas are being added and removed.
public struct ListPartitionReassignmentsResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var replicas: [Int32]
        public var addingReplicas: [Int32]
        public var removingReplicas: [Int32]
        public init(partition: Int32, replicas: [Int32], addingReplicas: [Int32], removingReplicas: [Int32]) {
            self.partition = partition
            self.replicas = replicas
            self.addingReplicas = addingReplicas
            self.removingReplicas = removingReplicas
        }
    }

    public typealias Topic = TopicPartitions<Partition>

    public var topics: [Topic]

    public init(topics: [Topic]) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readTopics(minPartitionSize: 16) { r in
            Partition(
                partition: try r.readInt32("partition"), replicas: try r.readInt32Array("replicas"),
                addingReplicas: try r.readInt32Array("addingReplicas"),
                removingReplicas: try r.readInt32Array("removingReplicas"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeTopics(topics) { w, partition in
            w.write(partition.partition)
            w.writeInt32Array(partition.replicas)
            w.writeInt32Array(partition.addingReplicas)
            w.writeInt32Array(partition.removingReplicas)
        }
    }
}
