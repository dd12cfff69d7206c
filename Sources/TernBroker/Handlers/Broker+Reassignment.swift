import TernWire

extension Broker {
    /// AlterPartitionReassignments: forwarded to the active controller, which decides and commits
    /// the change (``ActiveController/alterPartitionReassignments(_:reply:)``); answered once this
    /// broker has applied the commit, so a ListPartitionReassignments sent here next shows it.
    /// Authorization (ALTER on the cluster) is checked by the router before forwarding.
    func handleAlterPartitionReassignments(_ request: AlterPartitionReassignmentsRequest, _ context: RequestContext) {
        forward(request, context, timeoutMs: request.timeoutMs)
    }

    /// ListPartitionReassignments: the reassignments in progress in this broker's committed
    /// image, topics by name and partitions by index; named topics or partitions that do not
    /// exist, or are not being reassigned, are left out (as Kafka does).
    func handleListPartitionReassignments(
        _ request: ListPartitionReassignmentsRequest
    ) -> ListPartitionReassignmentsResponse {
        Self.listReassignments(cluster.image, request)
    }

    static func listReassignments(
        _ image: MetadataImage, _ request: ListPartitionReassignmentsRequest
    ) -> ListPartitionReassignmentsResponse {
        typealias Listed = ListPartitionReassignmentsResponse
        func listed(_ topic: MetadataImage.Topic, _ indexes: [Int32]?) -> Listed.Topic? {
            let partitions = (indexes.map { Array(Set($0)).sorted() } ?? topic.sortedPartitions.map(\.partition))
                .compactMap { topic.partitions[$0] }
                .filter(\.isReassigning)
                .map {
                    Listed.Partition(
                        partition: $0.partition, replicas: $0.replicas, addingReplicas: $0.addingReplicas,
                        removingReplicas: $0.removingReplicas)
                }
            return partitions.isEmpty ? nil : Listed.Topic(name: topic.name, partitions: partitions)
        }
        guard let named = request.topics else {
            return Listed(topics: image.sortedTopics.compactMap { listed($0, nil) })
        }
        var seen: Set<String> = []
        return Listed(
            topics: named.compactMap { entry in
                guard seen.insert(entry.name).inserted, let topic = image.topic(named: entry.name) else { return nil }
                return listed(topic, entry.partitions)
            })
    }
}
