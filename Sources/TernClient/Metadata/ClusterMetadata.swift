import TernWire

/// What the client knows about the cluster: brokers, and topics with their partitions' leaders.
/// A value snapshot, replaced whole on each refresh.
struct ClusterMetadata: Sendable {
    struct Partition: Sendable, Hashable {
        var partition: Int32
        var errorCode: ErrorCode
        /// Leader's node id; -1 while there is none.
        var leader: Int32
        var leaderEpoch: Int32
        var replicas: [Int32]
        var isr: [Int32]
    }

    struct Topic: Sendable, Hashable {
        var name: String
        var errorCode: ErrorCode
        var isInternal: Bool
        /// Sorted by partition id.
        var partitions: [Partition]

        var partitionCount: Int32 { Int32(partitions.count) }

        /// The partition with id `id`.
        func partition(_ id: Int32) -> Partition? {
            if id >= 0, Int(id) < partitions.count, partitions[Int(id)].partition == id { return partitions[Int(id)] }
            return partitions.first { $0.partition == id }
        }
    }

    var clusterId = ""
    var controllerId: Int32 = -1
    var brokers: [Int32: BrokerAddress] = [:]
    /// Topics that exist (topics the broker reported as unknown are left out).
    var topics: [String: Topic] = [:]

    init() {}

    /// Builds a snapshot from a Metadata response.
    init(_ response: MetadataResponse) {
        clusterId = response.clusterId
        controllerId = response.controllerId
        for broker in response.brokers {
            brokers[broker.nodeId] = BrokerAddress(host: broker.host, port: Int(broker.port))
        }
        for topic in response.topics where topic.errorCode != .unknownTopicOrPartition {
            let partitions = topic.partitions.map {
                Partition(
                    partition: $0.partition, errorCode: $0.errorCode, leader: $0.leader, leaderEpoch: $0.leaderEpoch,
                    replicas: $0.replicas, isr: $0.isr)
            }.sorted { $0.partition < $1.partition }
            topics[topic.name] = Topic(
                name: topic.name, errorCode: topic.errorCode, isInternal: topic.isInternal, partitions: partitions)
        }
    }

    /// The leader of `partition` of `topic`, when it has one.
    func leader(topic: String, partition: Int32) -> Int32? {
        guard let leader = topics[topic]?.partition(partition)?.leader, leader >= 0 else { return nil }
        return leader
    }

    /// The leader epoch of `partition` of `topic` (sent as `currentLeaderEpoch`, KIP-320); -1
    /// when unknown.
    func leaderEpoch(topic: String, partition: Int32) -> Int32 {
        topics[topic]?.partition(partition)?.leaderEpoch ?? -1
    }
}
