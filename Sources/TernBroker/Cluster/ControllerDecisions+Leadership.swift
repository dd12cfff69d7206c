import TernWire

extension ControllerDecisions {
    /// Moves leadership back to each partition's preferred (first) replica where that replica is
    /// unfenced and in the ISR (`auto.leader.rebalance.enable`). Partitions whose preferred
    /// replica cannot lead keep their leader.
    public static func rebalancePreferredLeaders(_ image: MetadataImage) throws(ControllerError) -> [MetadataRecord] {
        var proposal = Proposal(image)
        for topic in image.sortedTopics {
            for partition in topic.sortedPartitions {
                let preferred = partition.preferredLeader
                guard partition.leader != preferred, partition.isr.contains(preferred), image.isUnfenced(preferred)
                else { continue }
                try proposal.add(
                    .partitionChange(
                        .init(
                            topicId: topic.id, partition: partition.partition, leader: preferred, isr: partition.isr,
                            leaderEpoch: partition.leaderEpoch + 1, partitionEpoch: partition.partitionEpoch + 1)))
            }
        }
        return proposal.records
    }

    /// A partition leader's request to change its ISR (Kafka's AlterPartition): grows it when a
    /// follower caught up, shrinks it when one lagged. Refused when the sender is not the current
    /// leader at the current epochs, or when the new ISR leaves out the leader, reaches outside the
    /// replicas or adds a fenced broker. The codes are Kafka's (docs/protocol.md §7.29):
    /// - `UNKNOWN_TOPIC_OR_PARTITION`: no such topic id or partition;
    /// - `NOT_CONTROLLER`: the request's leader epoch is newer than this image's (this controller
    ///   is behind: it is not the real one any more);
    /// - `FENCED_LEADER_EPOCH`: the request's leader epoch is older (a new leader was elected);
    /// - `NOT_LEADER_OR_FOLLOWER`: the sender is not the leader at that epoch;
    /// - `INVALID_UPDATE_VERSION`: the partition epoch is not the current one (the ISR changed
    ///   since the leader last saw it);
    /// - `INVALID_REQUEST`: the new ISR leaves out the leader, repeats a broker or names a broker
    ///   that is not a replica;
    /// - `INELIGIBLE_REPLICA`: it adds a broker that is fenced or not registered.
    public static func alterIsr(
        _ image: MetadataImage, topicId: MetadataUUID, partition index: Int32, leader: Int32, leaderEpoch: Int32,
        partitionEpoch: Int32, newIsr: [Int32]
    ) throws(ControllerError) -> [MetadataRecord] {
        guard let topic = image.topic(id: topicId), let partition = topic.partitions[index] else {
            throw ControllerError(.unknownTopicOrPartition, "partition \(index) of topic id \(topicId) does not exist")
        }
        let what = "\(topic.name)-\(index)"
        let current =
            "the current leader is \(partition.leader) at leader epoch \(partition.leaderEpoch), "
            + "partition epoch \(partition.partitionEpoch)"
        if leaderEpoch > partition.leaderEpoch {
            throw ControllerError(
                .notController, "\(what): leader epoch \(leaderEpoch) is newer than this controller knows; \(current)")
        }
        if leaderEpoch < partition.leaderEpoch {
            throw ControllerError(.fencedLeaderEpoch, "\(what): leader epoch \(leaderEpoch) is stale; \(current)")
        }
        guard partition.leader == leader else {
            throw ControllerError(
                .notLeaderOrFollower, "\(what): broker \(leader) is not the current leader; \(current)")
        }
        guard partition.partitionEpoch == partitionEpoch else {
            throw ControllerError(
                .invalidUpdateVersion, "\(what): partition epoch \(partitionEpoch) is stale; \(current)")
        }
        guard newIsr.contains(leader), Set(newIsr).count == newIsr.count, Set(newIsr).isSubset(of: partition.replicas)
        else {
            throw ControllerError(
                .invalidRequest, "\(what): ISR \(newIsr) must hold the leader and only replicas \(partition.replicas)")
        }
        for replica in newIsr where !partition.isr.contains(replica) && !image.isUnfenced(replica) {
            throw ControllerError(.ineligibleReplica, "\(what): broker \(replica) is fenced or not registered and cannot join the ISR")
        }
        // Keep replica order so equal sets give equal records.
        let ordered = partition.replicas.filter { newIsr.contains($0) }
        guard ordered != partition.isr else { return [] }
        var proposal = Proposal(image)
        try proposal.add(
            .partitionChange(
                .init(
                    topicId: topicId, partition: index, leader: leader, isr: ordered, leaderEpoch: leaderEpoch,
                    partitionEpoch: partitionEpoch + 1)))
        return proposal.records
    }

    /// For every partition that `brokers` lead or are in-sync for: drops them from the ISR unless
    /// that would empty it, and elects a new leader from the remaining ISR (first eligible replica
    /// in assignment order) when the leader is one of them. No unclean election: with no eligible
    /// ISR member the leader becomes -1 and the partition waits for one to return — except that with
    /// `keepingSoleLeader` (a controlled shutdown, the broker still running) a leader nobody can
    /// replace keeps leading until it actually stops, rather than taking the partition offline early.
    static func moveLeadershipAway(
        from brokers: Set<Int32>, keepingSoleLeader: Bool = false, in proposal: inout Proposal
    ) throws(ControllerError) {
        let image = proposal.image
        func eligible(_ id: Int32) -> Bool { !brokers.contains(id) && image.isUnfenced(id) }
        for topic in image.sortedTopics {
            for partition in topic.sortedPartitions {
                guard partition.isr.contains(where: brokers.contains) else { continue }
                var isr = partition.isr.filter { !brokers.contains($0) }
                if isr.isEmpty { isr = partition.isr }
                var leader =
                    eligible(partition.leader) && isr.contains(partition.leader)
                    ? partition.leader
                    : (partition.replicas.first { isr.contains($0) && eligible($0) } ?? -1)
                if leader == -1 && keepingSoleLeader && partition.leader != -1 && isr.contains(partition.leader) {
                    leader = partition.leader
                }
                try change(topic.id, partition, leader: leader, isr: isr, in: &proposal)
            }
        }
    }

    /// Gives every leaderless partition the first unfenced ISR member in assignment order.
    static func electLeaderless(in proposal: inout Proposal) throws(ControllerError) {
        let image = proposal.image
        for topic in image.sortedTopics {
            for partition in topic.sortedPartitions where partition.leader == -1 {
                guard
                    let leader = partition.replicas.first(where: { partition.isr.contains($0) && image.isUnfenced($0) })
                else { continue }
                try change(topic.id, partition, leader: leader, isr: partition.isr, in: &proposal)
            }
        }
    }

    /// Proposes a partition change when leader or ISR differ, bumping the partition epoch and, on
    /// a new leader, the leader epoch.
    static func change(
        _ topicId: MetadataUUID, _ partition: MetadataImage.Partition, leader: Int32, isr: [Int32],
        in proposal: inout Proposal
    ) throws(ControllerError) {
        guard leader != partition.leader || isr != partition.isr else { return }
        try proposal.add(
            .partitionChange(
                .init(
                    topicId: topicId, partition: partition.partition, leader: leader, isr: isr,
                    leaderEpoch: leader == partition.leader ? partition.leaderEpoch : partition.leaderEpoch + 1,
                    partitionEpoch: partition.partitionEpoch + 1)))
    }
}
