import TernWire

@testable import TernBroker

/// The committed metadata as a node builds its ``MetadataImage``: a snapshot installed at start
/// (`MetadataPublisher.install(snapshot:nextOffset:)`), or committed log entries applied one by
/// one (`MetadataPublisher.apply(offset:entries:)`). Records that decode can still contradict the
/// image (a partition of an unknown topic, a leader outside the ISR, a stale epoch): those must be
/// refused with an error, never trap. The first input byte picks:
///
/// - even: the rest is one snapshot (a ``MetadataBatch``);
/// - odd: the rest is a sequence of entries, each a two-byte big-endian length and that many bytes.
///
/// Invariants: a refused entry leaves the image as it was; the image's own snapshot installs on a
/// fresh node to an equal image, whose snapshot is the same bytes (a node that restarts from a
/// snapshot answers as the one that wrote it); the lookups the broker answers from do not trap,
/// nor do the decisions the controller takes from the image (see ``decisions(_:)``).
enum MetadataImageTarget {
    static let target = FuzzTarget(
        name: "metadata-image", maxLength: 4096,
        summary: "MetadataPublisher install(snapshot:) / apply(entries:) into a MetadataImage",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        let bytes = [UInt8](input.dropFirst())
        let publisher = MetadataPublisher()
        if input[0] % 2 == 0 {
            guard (try? publisher.install(snapshot: bytes, nextOffset: 1)) != nil else { return }
        } else {
            var offset: Int64 = 0
            for entry in entries(bytes) {
                let change: MetadataPublisher.Change
                do {
                    change = try publisher.apply(offset: offset, entries: [entry])
                } catch {
                    fuzzFail("entries in order refused: \(error)")
                }
                fuzzCheck(change.outcomes.count == 1, "\(change.outcomes.count) outcomes for one entry")
                if case .refused = change.outcomes[0] {
                    fuzzCheck(change.before == change.after, "a refused entry changed the image")
                }
                offset += 1
            }
        }
        let image = publisher.image
        let snapshot = publisher.snapshot()
        let restarted = MetadataPublisher()
        do {
            _ = try restarted.install(snapshot: snapshot.bytes, nextOffset: snapshot.nextOffset)
        } catch {
            fuzzFail("the image's own snapshot does not install: \(error)")
        }
        fuzzCheck(restarted.image == image, "the image rebuilt from its snapshot differs")
        fuzzCheck(restarted.snapshot().bytes == snapshot.bytes, "the snapshot of the rebuilt image differs")
        lookups(image)
        decisions(image, nextOffset: snapshot.nextOffset)
    }

    /// The decisions the active controller computes from its image on its own (elections,
    /// fencing, reassignment completion, a registration, producer-id blocks): whatever the image
    /// holds, they refuse with a ``ControllerError`` or propose records the image accepts; they
    /// never trap (an epoch with no next one, say) and never build a contradictory record.
    private static func decisions(_ image: MetadataImage, nextOffset: Int64) {
        func check(_ what: String, _ decide: () throws(ControllerError) -> [MetadataRecord]) {
            let records: [MetadataRecord]
            do {
                records = try decide()
            } catch {
                // The one contradiction allowed: a partition at the last epoch has no next one.
                fuzzCheck(
                    !error.message.contains("contradictory") || error.message.contains("leaves no next epoch"),
                    "\(what): \(error)")
                return
            }
            do {
                _ = try image.applying(records)
            } catch {
                fuzzFail("\(what) proposed records its image refuses: \(error)")
            }
        }
        check("preferred election") { () throws(ControllerError) in
            try ControllerDecisions.rebalancePreferredLeaders(image)
        }
        check("unclean election") { () throws(ControllerError) in try ControllerDecisions.electUncleanLeaders(image) }
        check("reassignment completion") { () throws(ControllerError) in
            try ControllerDecisions.completeReassignments(image)
        }
        let newNode = (image.sortedBrokers.last?.nodeId ?? 0) &+ 1
        // As `BrokerRegistry` registers: the new epoch is the metadata offset its record gets.
        check("registration of \(newNode)") { () throws(ControllerError) in
            try ControllerDecisions.registerBroker(
                image, nodeId: newNode, incarnationId: MetadataUUID(high: 7, low: 7), listeners: [], roles: [.broker],
                brokerEpoch: nextOffset
            ).records
        }
        for broker in image.sortedBrokers {
            let id = broker.nodeId
            let epoch = broker.brokerEpoch
            check("fencing of \(id)") { () throws(ControllerError) in
                try ControllerDecisions.fenceBroker(image, nodeId: id)
            }
            check("unfencing of \(id)") { () throws(ControllerError) in
                try ControllerDecisions.unfenceBroker(
                    image, nodeId: id, brokerEpoch: epoch, metadataOffset: 1, logEndOffset: 1)
            }
            check("controlled shutdown of \(id)") { () throws(ControllerError) in
                try ControllerDecisions.controlledShutdown(image, nodeId: id, brokerEpoch: epoch)
            }
            check("producer ids for \(id)") { () throws(ControllerError) in
                [try ControllerDecisions.allocateProducerIds(image, brokerId: id, brokerEpoch: epoch).record]
            }
        }
    }

    /// The reads request handlers and the controller make of an image.
    private static func lookups(_ image: MetadataImage) {
        for broker in image.sortedBrokers { _ = image.partitionHealth(nodeId: broker.nodeId) }
        _ = image.partitionHealth(nodeId: -1)
        for topic in image.sortedTopics {
            fuzzCheck(image.topic(named: topic.name)?.id == topic.id, "topic \(topic.name) not found by its name")
            for partition in topic.sortedPartitions {
                _ = (partition.preferredLeader, partition.targetReplicas, partition.originalReplicas)
                for replica in partition.replicas {
                    _ = image.reassignmentThrottle(topicId: topic.id, partition: partition.partition, replica: replica)
                }
            }
        }
        for user in image.scramUsers {
            _ = image.scramCredential(user: user, mechanism: .sha256)
            _ = image.scramCredential(user: user, mechanism: .sha512)
        }
        _ = image.sortedAcls
        _ = image.unfencedBrokerIds
    }

    /// Splits `bytes` into entries: a big-endian UInt16 length, then that many bytes; a length
    /// past the end takes what is left.
    static func entries(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var position = 0
        while position + 2 <= bytes.count {
            let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
            let start = position + 2
            let end = min(start + length, bytes.count)
            out.append(Array(bytes[start..<end]))
            position = end
        }
        return out
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let topicId = MetadataUUID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        let credential = ScramCredential(
            mechanism: .sha256, salt: Array(repeating: 7, count: 16), storedKey: Array(repeating: 1, count: 32),
            serverKey: Array(repeating: 2, count: 32), iterations: 4096)
        // Controller decisions in the order a cluster makes them, one entry each.
        var decisions: [[MetadataRecord]] = [[.clusterId("tern-cluster-1")]]
        for node: Int32 in 1...4 {
            decisions.append([
                .registerBroker(
                    BrokerRegistrationRecord(
                        nodeId: node, incarnationId: MetadataUUID(high: 9, low: UInt64(node)),
                        brokerEpoch: Int64(node) * 10,
                        listeners: [.init(name: "PLAINTEXT", host: "127.0.0.1", port: 9090 + UInt16(node))],
                        roles: [.broker], fenced: true))
            ])
            decisions.append([
                .brokerFencing(BrokerFencingRecord(nodeId: node, brokerEpoch: Int64(node) * 10, fenced: false))
            ])
        }
        decisions += [
            [
                .topic(TopicRecord(topicId: topicId, name: "orders", configs: ["cleanup.policy": "compact"])),
                .partition(
                    PartitionRecord(topicId: topicId, partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1)),
                .partition(
                    PartitionRecord(topicId: topicId, partition: 1, replicas: [2, 3, 1], isr: [2, 3, 1], leader: 2)),
            ],
            [
                .partitionChange(
                    PartitionChangeRecord(
                        topicId: topicId, partition: 0, leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1))
            ],
            [
                .partitionChange(
                    PartitionChangeRecord(
                        topicId: topicId, partition: 1, leader: 2, isr: [2, 3, 1], leaderEpoch: 0, partitionEpoch: 1,
                        replicas: [4, 2, 3, 1], addingReplicas: [4], removingReplicas: [1]))
            ],
            [
                .config(
                    ConfigRecord(
                        resourceType: .topic, resourceName: "orders",
                        key: ControllerDecisions.reassignmentThrottleConfig,
                        value: "1048576")),
                .config(ConfigRecord(resourceType: .broker, resourceName: "", key: "log.retention.ms", value: "1000")),
            ],
            [.userScramCredential(UserScramCredentialRecord(name: "alice", credential: credential))],
            [
                .addAcl(
                    AclBinding(
                        resourceType: .topic, resourceName: "orders-", patternType: .prefixed,
                        principal: "User:alice", operation: .write))
            ],
            [.producerIds(ProducerIdsRecord(brokerId: 2, brokerEpoch: 20, nextProducerId: 1000))],
            [.brokerFencing(BrokerFencingRecord(nodeId: 3, brokerEpoch: 30, fenced: true))],
        ]
        var image = MetadataImage()
        var log: [UInt8] = []
        for decision in decisions {
            do {
                image = try image.applying(decision)
            } catch {
                fatalError("seed decision \(decision) does not apply: \(error)")
            }
            let entry = MetadataBatch.encode(decision)
            log += [UInt8(entry.count >> 8), UInt8(entry.count & 0xFF)] + entry
        }
        return [
            ("snapshot", [0] + MetadataBatch.encode(image.records)),
            ("snapshot-empty", [0]),
            ("log", [1] + log),
            ("log-with-control-entry", [1] + [0, 0] + log),
        ]
    }
}
