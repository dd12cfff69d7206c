/// Partitions that lack in-sync replicas or a leader, from one broker's metadata
/// (`tern cluster health`).
public struct PartitionAvailability: Hashable, Sendable {
    /// Partitions whose in-sync replica set is smaller than their replica set, sorted.
    public var underReplicated: [TopicPartition]
    /// Partitions without a leader among the live (unfenced) brokers, sorted.
    public var offline: [TopicPartition]

    /// Creates an availability report.
    public init(underReplicated: [TopicPartition], offline: [TopicPartition]) {
        self.underReplicated = underReplicated
        self.offline = offline
    }
}

extension TernAdmin {
    /// Every topic's partitions (internal ones included) that are under-replicated or offline,
    /// as the answering broker's metadata image says. A partition is offline when it has no
    /// leader, or its leader is not among the live brokers the answer lists (fenced, not yet
    /// replaced).
    /// - Throws: ``TernError`` when no broker can be reached.
    public func partitionAvailability() async throws -> PartitionAvailability {
        let snapshot = try await client.metadata.refresh()
        var underReplicated: [TopicPartition] = []
        var offline: [TopicPartition] = []
        for topic in snapshot.topics.values where topic.errorCode == .none {
            for partition in topic.partitions {
                let tp = TopicPartition(topic: topic.name, partition: partition.partition)
                if partition.leader < 0 || snapshot.brokers[partition.leader] == nil { offline.append(tp) }
                if partition.isr.count < partition.replicas.count { underReplicated.append(tp) }
            }
        }
        return PartitionAvailability(underReplicated: underReplicated.sorted(), offline: offline.sorted())
    }
}
