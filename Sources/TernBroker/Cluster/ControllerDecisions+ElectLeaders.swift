import TernWire

extension ControllerDecisions {
    /// What an ElectLeaders request decides: the records to propose and each partition's answer.
    public struct Election: Sendable, Hashable {
        public var records: [MetadataRecord]
        public var topics: [ElectLeadersResponse.Topic]
    }

    /// ElectLeaders (`tern topic elect-leaders`): a preferred election gives each named partition
    /// its preferred (first) replica as leader where that replica is unfenced and in sync (as
    /// ``rebalancePreferredLeaders(_:)`` does for all of them); an unclean one gives a partition
    /// left without a leader and without an unfenced in-sync replica its first unfenced replica
    /// (``electUncleanLeaders(_:)``). `topics` empty means every partition; the answer then lists
    /// only the partitions elected or refused, not those already led as asked.
    public static func electLeaders(
        _ image: MetadataImage, type: ElectLeadersRequest.ElectionType, topics: [ElectLeadersRequest.Topic]
    ) throws(ControllerError) -> Election {
        guard type == .preferred || type == .unclean else {
            throw ControllerError(.invalidRequest, "unknown \(type)")
        }
        let candidates: [MetadataRecord] =
            type == .preferred ? try rebalancePreferredLeaders(image) : try electUncleanLeaders(image)
        var elected: [String: [Int32: MetadataRecord]] = [:]
        for record in candidates {
            if case .partitionChange(let change) = record, let topic = image.topic(id: change.topicId) {
                elected[topic.name, default: [:]][change.partition] = record
            }
        }
        let everything = topics.isEmpty
        let asked: [ElectLeadersRequest.Topic] =
            everything
            ? image.sortedTopics.map { .init(name: $0.name, partitions: $0.sortedPartitions.map(\.partition)) }
            : topics
        var proposal = Proposal(image)
        var answers: [ElectLeadersResponse.Topic] = []
        var seen = Set<String>()
        for topic in asked {
            var results: [ElectLeadersResponse.Partition] = []
            for index in topic.partitions where seen.insert("\(topic.name)\u{0}\(index)").inserted {
                guard let partition = image.topic(named: topic.name)?.partitions[index] else {
                    results.append(
                        .init(
                            partition: index, errorCode: .unknownTopicOrPartition,
                            errorMessage: "partition \(index) of topic '\(topic.name)' does not exist"))
                    continue
                }
                if let record = elected[topic.name]?[index] {
                    try proposal.add(record)
                    results.append(.init(partition: index))
                    continue
                }
                let refusal = Self.whyNoElection(image, partition, type: type)
                if everything && refusal.code == .electionNotNeeded { continue }
                results.append(.init(partition: index, errorCode: refusal.code, errorMessage: refusal.message))
            }
            if !results.isEmpty { answers.append(.init(name: topic.name, partitions: results)) }
        }
        return Election(records: proposal.records, topics: answers)
    }

    /// Why `type` elects nothing for `partition`.
    private static func whyNoElection(
        _ image: MetadataImage, _ partition: MetadataImage.Partition, type: ElectLeadersRequest.ElectionType
    ) -> (code: ErrorCode, message: String) {
        if type == .preferred {
            let preferred = partition.preferredLeader
            if partition.leader == preferred {
                return (.electionNotNeeded, "already led by its preferred replica \(preferred)")
            }
            let why = image.isUnfenced(preferred) ? "is not in the in-sync set \(partition.isr)" : "is fenced"
            return (.preferredLeaderNotAvailable, "preferred replica \(preferred) \(why)")
        }
        if partition.leader != -1 {
            return (.electionNotNeeded, "led by \(partition.leader)")
        }
        if partition.isr.contains(where: image.isUnfenced) {
            return (.electionNotNeeded, "an in-sync replica is available: a clean election picks it")
        }
        return (.eligibleLeadersNotAvailable, "no replica of \(partition.replicas) is unfenced")
    }
}
