import Logging
import TernStorage
import TernWire

extension Broker {
    /// Creates a topic through the active controller and blocks until this broker has applied
    /// it (its logs exist when it replicates any partition): the broker's own internal topics
    /// (`__consumer_offsets`, created with `by: .broker`) and in-process tests. Returns the
    /// topic as this broker holds it, or nil when it already existed. `replicationFactor` -1:
    /// `default.replication.factor`.
    ///
    /// Blocks the calling thread for up to the forwarding timeout: never call it on a network
    /// queue or on the admin worker (which applies the change it waits for).
    /// - Throws: ``TopicAdminError`` with the controller's refusal (INVALID_TOPIC,
    ///   INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG) or the lost quorum's
    ///   (REQUEST_TIMED_OUT, NOT_CONTROLLER).
    func createTopic(
        name: String, partitions: Int32, replicationFactor: Int16 = -1, configs: [String: String],
        by creator: TopicCreator = .broker
    ) throws -> TopicInfo? {
        if let refused = TopicInfo.validateNew(name: name, partitions: partitions, by: creator) { throw refused }
        let request = CreateTopicsRequest(
            topics: [
                .init(
                    name: name, numPartitions: partitions, replicationFactor: replicationFactor,
                    configs: configs.sorted { $0.key < $1.key }.map { ConfigEntry(name: $0.key, value: $0.value) })
            ])
        let response = forwardAndWait(request, timeoutMs: nil, brokerInternal: creator == .broker)
        guard let result = response.topics.first(where: { $0.name == name }) else {
            throw TopicAdminError(.unknownServerError, "the controller's answer does not mention topic '\(name)'")
        }
        switch result.errorCode {
        case .none:
            // Nil from the store: no partition of it is replicated here.
            return topics.topic(name)
                ?? TopicInfo(
                    name: name, id: "", partitionCount: partitions, replicationFactor: 1, configs: configs,
                    replicaPartitions: [])
        case .topicAlreadyExists: return nil
        default: throw TopicAdminError(result.errorCode, result.errorMessage ?? "\(result.errorCode)")
        }
    }
}
