import TernWire

extension ControllerDecisions {
    /// Unclean leader election (`unclean.leader.election.enable=true`, off by default): gives
    /// every leaderless partition whose in-sync replicas are all fenced the first unfenced
    /// replica in assignment order, as its only in-sync member, bumping both epochs.
    ///
    /// This trades durability for availability: the new leader may lack records that were
    /// acknowledged with `acks=all` and that consumers saw, and the other replicas truncate to
    /// its log when they return. The replication simulator shows the loss when the same choice
    /// is made for every election. Partitions with an unfenced in-sync replica are left to the
    /// clean election.
    public static func electUncleanLeaders(_ image: MetadataImage) throws(ControllerError) -> [MetadataRecord] {
        var proposal = Proposal(image)
        for topic in image.sortedTopics {
            for partition in topic.sortedPartitions where partition.leader == -1 {
                guard !partition.isr.contains(where: image.isUnfenced),
                    let leader = partition.replicas.first(where: image.isUnfenced)
                else { continue }
                try change(topic.id, partition, leader: leader, isr: [leader], in: &proposal)
            }
        }
        return proposal.records
    }
}
