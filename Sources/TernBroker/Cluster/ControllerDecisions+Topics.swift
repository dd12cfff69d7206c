import TernWire

extension ControllerDecisions {
    /// Creates a topic: a ``TopicRecord`` and one ``PartitionRecord`` per partition, replicas
    /// placed across live unfenced brokers by ``ReplicaPlacement``, every replica in the ISR and the
    /// first one leading at epoch 0.
    ///
    /// - Parameters:
    ///   - internalTopic: true only for the broker's own `__` topics.
    ///   - generator: the source of the topic id and the placement's random start (seeded in tests).
    /// - Throws: `INVALID_TOPIC_EXCEPTION`, `INVALID_PARTITIONS`, `TOPIC_ALREADY_EXISTS`,
    ///   `INVALID_CONFIG`, or `INVALID_REPLICATION_FACTOR` when the factor is below 1 or above the
    ///   number of live brokers.
    public static func createTopic(
        _ image: MetadataImage, name: String, partitions: Int32, replicationFactor: Int16,
        configs: [String: String] = [:], internalTopic: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) throws(ControllerError) -> [MetadataRecord] {
        if let error = TopicInfo.validateNew(name: name, partitions: partitions, by: internalTopic ? .broker : .client)
        {
            throw ControllerError(error.code, error.message)
        }
        if image.topic(named: name) != nil {
            throw ControllerError(.topicAlreadyExists, "topic \(name) already exists")
        }
        if let reason = TopicInfo.validateConfigs(configs) {
            throw ControllerError(.invalidConfig, "topic \(name): \(reason)")
        }
        let live = image.unfencedBrokerIds
        guard replicationFactor >= 1, Int(replicationFactor) <= live.count else {
            throw ControllerError(
                .invalidReplicationFactor,
                "topic \(name): replication factor \(replicationFactor) needs that many live brokers; "
                    + "\(live.count) are alive and unfenced")
        }
        var id = MetadataUUID.random(using: &generator)
        var attempts = 0
        while id == .zero || image.topic(id: id) != nil {
            attempts += 1
            guard attempts < 16 else { throw ControllerError(.unknownServerError, "could not draw a fresh topic id") }
            id = MetadataUUID.random(using: &generator)
        }
        var placement = ReplicaPlacement(brokers: live, image: image)
        let assignments = placement.assign(
            partitions: Int(partitions), replicationFactor: Int(replicationFactor), using: &generator)
        var proposal = Proposal(image)
        try proposal.add(.topic(.init(topicId: id, name: name, configs: configs)))
        for (index, replicas) in assignments.enumerated() {
            try proposal.add(
                .partition(
                    .init(
                        topicId: id, partition: Int32(index), replicas: replicas, isr: replicas, leader: replicas[0])))
        }
        return proposal.records
    }

    /// Deletes a topic and all its partitions.
    public static func deleteTopic(_ image: MetadataImage, name: String) throws(ControllerError) -> [MetadataRecord] {
        guard let topic = image.topic(named: name) else {
            throw ControllerError(.unknownTopicOrPartition, "topic \(name) does not exist")
        }
        var proposal = Proposal(image)
        try proposal.add(.removeTopic(.init(topicId: topic.id)))
        return proposal.records
    }

    /// Sets and removes topic config overrides; one ``ConfigRecord`` per key that changes, in key
    /// order. The result must pass the same validation as a new topic's configs.
    public static func alterTopicConfigs(
        _ image: MetadataImage, name: String, set: [String: String], remove: Set<String> = []
    ) throws(ControllerError) -> [MetadataRecord] {
        guard let topic = image.topic(named: name) else {
            throw ControllerError(.unknownTopicOrPartition, "topic \(name) does not exist")
        }
        if let both = set.keys.sorted().first(where: remove.contains) {
            throw ControllerError(.invalidRequest, "topic \(name): \(both) is both set and removed")
        }
        if let reason = TopicInfo.validateConfigs(set) {
            throw ControllerError(.invalidConfig, "topic \(name): \(reason)")
        }
        var proposal = Proposal(image)
        let keys = (Set(set.keys).union(remove)).sorted()
        for key in keys where topic.configs[key] != set[key] {
            try proposal.add(.config(.init(resourceType: .topic, resourceName: name, key: key, value: set[key])))
        }
        return proposal.records
    }
}
