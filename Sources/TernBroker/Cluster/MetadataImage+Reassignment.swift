import TernWire

extension MetadataImage {
    /// The replication throttle, in bytes per second, on the traffic of one replica of a
    /// partition: the topic's `replication.throttled.rate` while the partition is being reassigned
    /// and `replica` is one of the replicas being added (Kafka throttles the same traffic: the
    /// catching-up of new replicas, not the in-sync ones); nil when unthrottled (no move, an
    /// in-sync or original replica, no rate or a rate of -1 or below 1).
    ///
    /// Both ends apply it: the follower's replica fetcher limits its fetches of the partition
    /// when it is the adding replica, and the leader limits the bytes it answers to a fetch from
    /// an adding replica, so one end alone (say, an older follower) cannot exceed it.
    public func reassignmentThrottle(topic name: String, partition index: Int32, replica: Int32) -> Int64? {
        topic(named: name).flatMap { reassignmentThrottle(topicId: $0.id, partition: index, replica: replica) }
    }

    /// ``reassignmentThrottle(topic:partition:replica:)`` by topic id.
    public func reassignmentThrottle(topicId: MetadataUUID, partition index: Int32, replica: Int32) -> Int64? {
        guard let topic = topicsById[topicId], let partition = topic.partitions[index],
            partition.addingReplicas.contains(replica), !partition.isr.contains(replica),
            let text = topic.configs[ControllerDecisions.reassignmentThrottleConfig], let rate = Int64(text), rate >= 1
        else { return nil }
        return rate
    }
}
