import TernWire

/// A partition being moved to a new replica set (KIP-455): its full replica set while the move
/// is in progress (the target first), and which of those are being added and removed.
public struct PartitionReassignment: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var replicas: [Int32]
    public var addingReplicas: [Int32]
    public var removingReplicas: [Int32]

    /// The replica set the partition will have once the reassignment completes.
    public var targetReplicas: [Int32] { replicas.filter { !removingReplicas.contains($0) } }

    public init(
        topic: String, partition: Int32, replicas: [Int32], addingReplicas: [Int32], removingReplicas: [Int32]
    ) {
        self.topic = topic
        self.partition = partition
        self.replicas = replicas
        self.addingReplicas = addingReplicas
        self.removingReplicas = removingReplicas
    }
}

extension TernAdmin {
    /// Starts moving a partition to `replicas` (the preferred leader first), through the active
    /// controller: the new replicas are added, catch up and join the in-sync set, leadership moves
    /// into the new set if needed, and the old replicas are dropped. Returns once the start is
    /// committed; the move itself completes later (``listPartitionReassignments(topics:)``).
    /// A new target for a partition already moving replaces the old one.
    /// - Throws: ``TernError`` `.broker` with `INVALID_REPLICA_ASSIGNMENT` (empty, repeated, or a
    ///   broker that is not live), `UNKNOWN_TOPIC_OR_PARTITION`, `CLUSTER_AUTHORIZATION_FAILED`
    ///   without ALTER on the cluster.
    public func reassignPartition(topic: String, partition: Int32, replicas: [Int32]) async throws {
        try await alterReassignment(topic: topic, partition: partition, replicas: replicas, action: "reassign")
    }

    /// Cancels a partition's reassignment in progress: it goes back to its original replicas.
    /// - Throws: ``TernError`` `.broker` with `NO_REASSIGNMENT_IN_PROGRESS` when it is not moving.
    public func cancelReassignment(topic: String, partition: Int32) async throws {
        try await alterReassignment(topic: topic, partition: partition, replicas: nil, action: "cancel reassignment of")
    }

    private func alterReassignment(topic: String, partition: Int32, replicas: [Int32]?, action: String) async throws {
        let response = try await sendToController(
            AlterPartitionReassignmentsRequest(topics: [
                .init(name: topic, partitions: [.init(partition: partition, replicas: replicas)])
            ]))
        guard
            let result = response.topics.first(where: { $0.name == topic })?.partitions.first(where: {
                $0.partition == partition
            })
        else {
            throw TernError(.protocolError, "\(action) \(topic)-\(partition): the answer does not mention it")
        }
        guard result.errorCode == .none else {
            throw TernError.broker(result.errorCode, result.errorMessage, context: "\(action) \(topic)-\(partition)")
        }
    }

    /// The reassignments in progress (of `topics` only, when given), sorted by topic and
    /// partition, from any broker's metadata.
    /// - Throws: ``TernError`` `.broker` (`CLUSTER_AUTHORIZATION_FAILED` without DESCRIBE on the
    ///   cluster).
    public func listPartitionReassignments(topics: [String]? = nil) async throws -> [PartitionReassignment] {
        let response = try await client.sendToAnyBroker(ListPartitionReassignmentsRequest(topics: nil))
        let wanted = topics.map(Set.init)
        return response.topics.filter { wanted?.contains($0.name) ?? true }.flatMap { topic in
            topic.partitions.map {
                PartitionReassignment(
                    topic: topic.name, partition: $0.partition, replicas: $0.replicas,
                    addingReplicas: $0.addingReplicas, removingReplicas: $0.removingReplicas)
            }
        }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }
}
