import TernWire

/// One `__cluster_metadata` record (read from the metadata log on disk and from the controller).
enum MetadataRecordTarget {
    static let target = FuzzTarget(
        name: "metadata-record", maxLength: 2048, summary: "MetadataRecord.decode (the metadata log codec)",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        let bytes = [UInt8](input)
        guard let record = try? MetadataRecord.decode(bytes) else { return }
        let encoded = record.encoded()
        let again: MetadataRecord
        do {
            again = try MetadataRecord.decode(encoded)
        } catch {
            fuzzFail("\(record.typeCode): its own encoding does not decode: \(error)")
        }
        fuzzCheck(again == record, "\(record.typeCode): decode∘encode changed the record")
        fuzzCheck(again.encoded() == encoded, "\(record.typeCode): encoding is not stable")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        records().map { (name: $0.0, bytes: $0.1.encoded()) }
    }

    /// One record of every type, the credential and ACL records last (the metadata-batch seeds
    /// use them too).
    static func records() -> [(String, MetadataRecord)] {
        let topicId = MetadataUUID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        let records: [(String, MetadataRecord)] = [
            ("cluster-id", .clusterId("tern-cluster-1")),
            (
                "register-broker",
                .registerBroker(
                    BrokerRegistrationRecord(
                        nodeId: 1, incarnationId: MetadataUUID(high: 1, low: 2), brokerEpoch: 7,
                        listeners: [.init(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)],
                        roles: [.broker, .controller],
                        fenced: true))
            ),
            ("fence-broker", .brokerFencing(BrokerFencingRecord(nodeId: 1, brokerEpoch: 7, fenced: true))),
            ("unfence-broker", .brokerFencing(BrokerFencingRecord(nodeId: 1, brokerEpoch: 7, fenced: false))),
            (
                "topic",
                .topic(TopicRecord(topicId: topicId, name: "orders", configs: ["cleanup.policy": "compact", "a": "b"]))
            ),
            (
                "partition",
                .partition(
                    PartitionRecord(topicId: topicId, partition: 0, replicas: [1, 2, 3], isr: [1, 2], leader: 1))
            ),
            (
                "partition-change",
                .partitionChange(
                    PartitionChangeRecord(
                        topicId: topicId, partition: 0, leader: 2, isr: [2, 3], leaderEpoch: 4, partitionEpoch: 5))
            ),
            (
                "partition-reassigning",
                .partition(
                    PartitionRecord(
                        topicId: topicId, partition: 1, replicas: [4, 5, 1], isr: [1], leader: 1, leaderEpoch: 2,
                        partitionEpoch: 3, addingReplicas: [4, 5], removingReplicas: [1]))
            ),
            (
                "partition-change-reassign",
                .partitionChange(
                    PartitionChangeRecord(
                        topicId: topicId, partition: 1, leader: 1, isr: [1, 4], leaderEpoch: 2, partitionEpoch: 4,
                        replicas: [4, 5, 1], addingReplicas: [4, 5], removingReplicas: nil))
            ),
            (
                "config",
                .config(ConfigRecord(resourceType: .topic, resourceName: "orders", key: "retention.ms", value: "1000"))
            ),
            (
                "config-removed",
                .config(ConfigRecord(resourceType: .broker, resourceName: "", key: "log.level", value: nil))
            ),
            ("remove-topic", .removeTopic(RemoveTopicRecord(topicId: topicId))),
            (
                "user-scram-credential",
                .userScramCredential(
                    UserScramCredentialRecord(
                        name: "alice",
                        credential: ScramCredential(
                            mechanism: .sha256, salt: Array(repeating: 7, count: 16),
                            storedKey: Array(repeating: 1, count: 32), serverKey: Array(repeating: 2, count: 32),
                            iterations: 4096)))
            ),
            (
                "remove-user-scram-credential",
                .removeUserScramCredential(RemoveUserScramCredentialRecord(name: "alice", mechanism: .sha512))
            ),
            (
                "add-acl",
                .addAcl(
                    AclBinding(
                        resourceType: .topic, resourceName: "orders-", patternType: .prefixed,
                        principal: "User:alice", operation: .write))
            ),
            (
                "remove-acl",
                .removeAcl(
                    AclBinding(
                        resourceType: .cluster, resourceName: AclBinding.clusterResourceName, principal: "User:*",
                        host: "10.0.0.2", operation: .alter, permission: .deny))
            ),
        ]
        return records
    }
}
