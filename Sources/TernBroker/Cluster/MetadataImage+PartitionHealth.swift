import TernWire

/// How many partitions lack replicas or a leader, as the metadata image says: what
/// `tern_under_replicated_partitions`, `tern_offline_partitions`, `/v1/cluster` and the body of
/// `/health/ready` report (docs/operations.md).
public struct PartitionHealth: Hashable, Sendable {
    /// Partitions led by the node asked about whose in-sync set is smaller than their replica
    /// set (Kafka's `UnderReplicatedPartitions`: each broker counts those it leads, so a sum over
    /// the brokers counts each partition once).
    public var underReplicatedLed = 0
    /// Every partition of the cluster whose in-sync set is smaller than its replica set.
    public var underReplicated = 0
    /// Every partition of the cluster without a leader that can serve: none elected (-1, no
    /// eligible in-sync replica), or one that is fenced or no longer registered (the controller
    /// has not moved leadership yet).
    public var offline = 0
}

extension MetadataImage {
    /// The partition health of the whole image, with ``PartitionHealth/underReplicatedLed``
    /// counted for `nodeId`. One pass over every partition (at scrape or health-check time).
    public func partitionHealth(nodeId: Int32) -> PartitionHealth {
        var health = PartitionHealth()
        for topic in topicsById.values {
            for partition in topic.partitions.values {
                if partition.leader < 0 || !isUnfenced(partition.leader) {
                    health.offline += 1
                }
                if partition.isr.count < partition.replicas.count {
                    health.underReplicated += 1
                    if partition.leader == nodeId { health.underReplicatedLed += 1 }
                }
            }
        }
        return health
    }
}

extension Broker {
    /// What `/health/ready` appends to its answer: empty while no partition is under-replicated
    /// or offline, else `; N under-replicated partitions led here, M under-replicated in the
    /// cluster, K offline partitions`.
    var partitionHealthNote: String {
        let health = cluster.image.partitionHealth(nodeId: config.nodeId)
        guard health.underReplicated > 0 || health.offline > 0 else { return "" }
        return "; \(health.underReplicatedLed) under-replicated partitions led here, "
            + "\(health.underReplicated) under-replicated in the cluster, \(health.offline) offline partitions"
    }
}
