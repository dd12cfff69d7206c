import TernWire

/// Partition reassignment (Kafka's KIP-455, as KRaft's `ReplicationControlManager` does it) as
/// pure decisions.
///
/// A reassignment moves a partition from its replicas `R` to a target `T` in three steps, each a
/// ``PartitionChangeRecord``:
/// 1. **Start** ( ``reassign(_:topic:partition:target:)`` ): replicas become `T` followed by the
///    members of `R` not in `T`; `addingReplicas = T − R`, `removingReplicas = R − T`. Leader and
///    ISR stay. Brokers create the new replicas' logs from the image; the leader's replica fetchers
///    bring them up and the leader adds each one to the ISR once caught up (AlterPartition).
/// 2. **Completion** ( ``completeReassignments(_:)`` , run by the controller after every commit):
///    once the ISR holds every member of `T`, replicas become `T`, the ISR is filtered to `T`, the
///    adding and removing sets are cleared, and leadership moves to the first live member of `T`
///    if the leader is being removed (a new leader epoch). Brokers drop the removed replicas' logs.
/// 3. Or **cancellation** (a nil target): replicas go back to `R`, the ISR is filtered to it, and
///    leadership moves back into `R` the same way if it had moved to an adding replica.
///
/// The throttle of a reassignment (`replication.throttled.rate`, a topic config) is removed by the
/// step that ends the topic's last reassignment in progress.
extension ControllerDecisions {
    /// The topic config that limits, in bytes per second, the replication traffic of a topic's
    /// partitions while they are being reassigned (the leader's sending to adding replicas and
    /// those replicas' fetching); absent or -1: unthrottled. Set by
    /// `tern topic reassign --throttle`, removed when the topic's last reassignment ends.
    public static let reassignmentThrottleConfig = "replication.throttled.rate"

    /// The internal topic whose replication ``widenOffsetsTopic(_:replicationFactor:)`` keeps up.
    static let offsetsTopicName = GroupCoordinator.topicName

    /// Starts, replaces or (with a nil `target`) cancels the reassignment of one partition.
    ///
    /// A target equal to the current replicas with no reassignment in progress changes nothing
    /// (no records). A new target while one is in progress replaces it: the replica set is the new
    /// target followed by every current replica outside it, which all become removing, so no
    /// replica that may hold data is dropped before the target is in sync.
    ///
    /// - Throws: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REPLICA_ASSIGNMENT for an empty target, a
    ///   repeated broker or one that is not registered and unfenced; NO_REASSIGNMENT_IN_PROGRESS
    ///   for a cancellation of a partition that is not being reassigned.
    public static func reassign(
        _ image: MetadataImage, topic name: String, partition index: Int32, target: [Int32]?
    ) throws(ControllerError) -> [MetadataRecord] {
        guard let topic = image.topic(named: name), let partition = topic.partitions[index] else {
            throw ControllerError(.unknownTopicOrPartition, "partition \(index) of topic '\(name)' does not exist")
        }
        let what = "\(name)-\(index)"
        var proposal = Proposal(image)
        guard let target else {
            guard partition.isReassigning else {
                throw ControllerError(.noReassignmentInProgress, "\(what) is not being reassigned")
            }
            guard try finish(topic, partition, to: partition.originalReplicas, in: &proposal, what: what) else {
                throw ControllerError(
                    .invalidReplicaAssignment,
                    "\(what): no live in-sync replica of \(partition.originalReplicas) can lead; cannot cancel yet")
            }
            return proposal.records
        }
        guard !target.isEmpty else {
            throw ControllerError(.invalidReplicaAssignment, "\(what): the target replica set is empty")
        }
        guard Set(target).count == target.count else {
            throw ControllerError(.invalidReplicaAssignment, "\(what): target replicas \(target) repeat a broker")
        }
        for broker in target where !image.isUnfenced(broker) {
            throw ControllerError(
                .invalidReplicaAssignment,
                "\(what): broker \(broker) is not a registered, unfenced broker (live: \(image.unfencedBrokerIds))")
        }
        if !partition.isReassigning && target == partition.replicas { return [] }
        if partition.isReassigning && target == partition.targetReplicas { return [] }
        let original = partition.originalReplicas
        let replicas = target + partition.replicas.filter { !target.contains($0) }
        let adding = target.filter { !original.contains($0) }
        let removing = replicas.filter { !target.contains($0) }
        try proposal.add(
            .partitionChange(
                .init(
                    topicId: topic.id, partition: index, leader: partition.leader, isr: partition.isr,
                    leaderEpoch: partition.leaderEpoch, partitionEpoch: partition.partitionEpoch + 1,
                    replicas: replicas, addingReplicas: adding, removingReplicas: removing)))
        // The target may already be in sync (only replicas removed, or a reorder): done at once.
        if let updated = proposal.image.partition(topic.id, index), let topicNow = proposal.image.topic(id: topic.id),
            Set(updated.targetReplicas).isSubset(of: updated.isr)
        {
            _ = try finish(topicNow, updated, to: updated.targetReplicas, in: &proposal, what: what)
        }
        return proposal.records
    }

    /// Completes every reassignment whose target replicas are all in the ISR (run by the active
    /// controller after each commit; no records when there is nothing to complete). A partition
    /// whose leader is being removed completes only once a member of the target can lead.
    public static func completeReassignments(_ image: MetadataImage) throws(ControllerError) -> [MetadataRecord] {
        var proposal = Proposal(image)
        for topic in image.sortedTopics {
            for partition in topic.sortedPartitions where partition.isReassigning {
                let target = partition.targetReplicas
                guard Set(target).isSubset(of: partition.isr) else { continue }
                guard let current = proposal.image.topic(id: topic.id) else { continue }
                _ = try finish(
                    current, partition, to: target, in: &proposal, what: "\(topic.name)-\(partition.partition)")
            }
        }
        return proposal.records
    }

    /// Starts reassignments that widen `__consumer_offsets` partitions to
    /// `min(replicationFactor, live brokers)` replicas (`offsets.topic.replication.factor`): a
    /// cluster that created the topic while few brokers were up does not keep it under-replicated.
    /// New replicas go to the live brokers holding the fewest replicas, round-robin; partitions
    /// with a reassignment in progress are left alone. Never shrinks a partition.
    public static func widenOffsetsTopic(
        _ image: MetadataImage, replicationFactor: Int
    ) throws(ControllerError) -> [MetadataRecord] {
        guard let topic = image.topic(named: offsetsTopicName) else { return [] }
        let live = image.unfencedBrokerIds
        let wanted = min(replicationFactor, live.count)
        var placement = ReplicaPlacement(brokers: live, image: image)
        var proposal = Proposal(image)
        for partition in topic.sortedPartitions where !partition.isReassigning && partition.replicas.count < wanted {
            let target = placement.extend(partition.replicas, to: wanted, rotation: Int(partition.partition))
            guard target.count > partition.replicas.count,
                let current = proposal.image.topic(id: topic.id)?.partitions[partition.partition]
            else { continue }
            try proposal.add(
                .partitionChange(
                    .init(
                        topicId: topic.id, partition: partition.partition, leader: current.leader, isr: current.isr,
                        leaderEpoch: current.leaderEpoch, partitionEpoch: current.partitionEpoch + 1,
                        replicas: target, addingReplicas: target.filter { !current.replicas.contains($0) },
                        removingReplicas: [])))
        }
        return proposal.records
    }

    /// Ends a reassignment with `replicas` as the partition's replica set (the target on
    /// completion, the original on cancellation): ISR filtered to it, leader kept when it is in
    /// it and live, else the first live in-sync member of it (next leader epoch). Does nothing
    /// when no member of the new set can lead while the leader must move, or when the filtered
    /// ISR would be empty (a cancellation after every original replica left the ISR): the
    /// reassignment stays in progress until one can. Returns whether it ended.
    private static func finish(
        _ topic: MetadataImage.Topic, _ partition: MetadataImage.Partition, to replicas: [Int32],
        in proposal: inout Proposal, what: String
    ) throws(ControllerError) -> Bool {
        let image = proposal.image
        let isr = replicas.filter { partition.isr.contains($0) }
        guard !isr.isEmpty else { return false }
        var leader = partition.leader
        if !(isr.contains(leader) && image.isUnfenced(leader)) {
            guard let next = isr.first(where: image.isUnfenced) else { return false }
            leader = next
        }
        try proposal.add(
            .partitionChange(
                .init(
                    topicId: topic.id, partition: partition.partition, leader: leader, isr: isr,
                    leaderEpoch: leader == partition.leader ? partition.leaderEpoch : partition.leaderEpoch + 1,
                    partitionEpoch: partition.partitionEpoch + 1, replicas: replicas, addingReplicas: [],
                    removingReplicas: [])))
        // The throttle goes with the topic's last reassignment.
        if let configs = proposal.image.topic(id: topic.id), configs.configs[reassignmentThrottleConfig] != nil,
            !configs.partitions.values.contains(where: \.isReassigning)
        {
            try proposal.add(
                .config(
                    .init(resourceType: .topic, resourceName: topic.name, key: reassignmentThrottleConfig, value: nil)))
        }
        return true
    }
}
