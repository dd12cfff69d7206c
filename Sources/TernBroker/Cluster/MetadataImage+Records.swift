import TernWire

extension MetadataImage {
    /// The records that rebuild this image from an empty one: what a metadata snapshot holds, so a
    /// node that installs it (or restarts from it) answers exactly as one that applied the whole
    /// log. Ordered so each record applies: the cluster id, brokers, then each topic followed by
    /// its partitions, then broker-level configs, SCRAM credentials, ACL bindings and the next producer id; within each,
    /// sorted, so equal images give equal bytes.
    public var records: [MetadataRecord] {
        var out: [MetadataRecord] = []
        if let clusterId { out.append(.clusterId(clusterId)) }
        for broker in sortedBrokers {
            out.append(
                .registerBroker(
                    .init(
                        nodeId: broker.nodeId, incarnationId: broker.incarnationId, brokerEpoch: broker.brokerEpoch,
                        listeners: broker.listeners, roles: broker.roles, fenced: broker.fenced)))
        }
        for topic in sortedTopics {
            out.append(.topic(.init(topicId: topic.id, name: topic.name, configs: topic.configs)))
            for partition in topic.sortedPartitions {
                out.append(
                    .partition(
                        .init(
                            topicId: topic.id, partition: partition.partition, replicas: partition.replicas,
                            isr: partition.isr, leader: partition.leader, leaderEpoch: partition.leaderEpoch,
                            partitionEpoch: partition.partitionEpoch, addingReplicas: partition.addingReplicas,
                            removingReplicas: partition.removingReplicas)))
            }
        }
        for (resource, configs) in brokerConfigs.sorted(by: { $0.key < $1.key }) {
            for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
                out.append(.config(.init(resourceType: .broker, resourceName: resource, key: key, value: value)))
            }
        }
        out += scramCredentialRecords
        for binding in acls.sorted() { out.append(.addAcl(binding)) }
        // The broker of the last allocation is not kept (nothing reads it): -1 in a snapshot.
        if nextProducerId > 0 { out.append(.producerIds(.init(brokerId: -1, brokerEpoch: -1, nextProducerId: nextProducerId))) }
        return out
    }
}
