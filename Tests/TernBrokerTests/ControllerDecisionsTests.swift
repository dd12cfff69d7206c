import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// Each controller decision as a pure function of an image: the records it proposes, and the
/// typed errors it refuses with.
final class ControllerDecisionsTests: XCTestCase {
    typealias D = ControllerDecisions

    static func uuid(_ n: UInt64) -> MetadataUUID { MetadataUUID(high: n, low: n) }

    /// Registers and unfences `nodes`.
    static func cluster(_ nodes: [Int32]) throws -> MetadataImage {
        var image = MetadataImage()
        for node in nodes {
            let registration = try D.registerBroker(
                image, nodeId: node, incarnationId: uuid(UInt64(node)), listeners: [], roles: [.broker])
            image = try image.applying(registration.records)
            image = try image.applying(
                D.unfenceBroker(
                    image, nodeId: node, brokerEpoch: registration.brokerEpoch, metadataOffset: 5, logEndOffset: 5))
        }
        return image
    }

    static func create(
        _ image: MetadataImage, _ name: String, partitions: Int32, rf: Int16, seed: UInt64 = 1
    ) throws -> MetadataImage {
        var generator = SeededGenerator(seed: seed)
        return try image.applying(
            D.createTopic(image, name: name, partitions: partitions, replicationFactor: rf, using: &generator))
    }

    func assertError(_ code: ErrorCode, _ text: String, _ body: () throws -> some Any, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) {
            guard let error = $0 as? ControllerError else { return XCTFail("\($0)", line: line) }
            XCTAssertEqual(error.code, code, "\(error)", line: line)
            XCTAssertTrue(error.message.contains(text), "\(error)", line: line)
        }
    }

    // MARK: registration

    func testRegistrationGivesFreshEpochsAndStartsFenced() throws {
        let image = try Self.cluster([1, 2])
        XCTAssertEqual(image.highestBrokerEpoch, 2)
        let registration = try D.registerBroker(
            image, nodeId: 3, incarnationId: Self.uuid(30), listeners: [.init(name: "PLAINTEXT", host: "h", port: 1)],
            roles: [.broker, .controller])
        XCTAssertEqual(registration.brokerEpoch, 3)
        guard case .registerBroker(let record) = registration.records.first, registration.records.count == 1 else {
            return XCTFail("\(registration.records)")
        }
        XCTAssertTrue(record.fenced)
        XCTAssertEqual(record.listeners.first?.host, "h")
        let next = try image.applying(registration.records)
        XCTAssertFalse(next.isUnfenced(3))
        // A retry of the same incarnation changes nothing and keeps the epoch.
        let retry = try D.registerBroker(next, nodeId: 3, incarnationId: Self.uuid(30), listeners: [], roles: [.broker])
        XCTAssertEqual(retry, .init(brokerEpoch: 3, records: []))
        assertError(.invalidRequest, "negative") {
            try D.registerBroker(next, nodeId: -1, incarnationId: Self.uuid(9), listeners: [], roles: [.broker])
        }
    }

    func testNewIncarnationFencesTheOldProcessAndMovesItsLeadership() throws {
        var image = try Self.create(Self.cluster([1, 2, 3]), "t", partitions: 3, rf: 3)
        let led = image.topic(named: "t")!.sortedPartitions.filter { $0.leader == 2 }.map(\.partition)
        XCTAssertFalse(led.isEmpty)
        let registration = try D.registerBroker(
            image, nodeId: 2, incarnationId: Self.uuid(99), listeners: [], roles: [.broker])
        XCTAssertEqual(registration.brokerEpoch, 4)
        image = try image.applying(registration.records)
        XCTAssertFalse(image.isUnfenced(2))
        for partition in image.topic(named: "t")!.sortedPartitions {
            XCTAssertNotEqual(partition.leader, 2)
            XCTAssertFalse(partition.isr.contains(2))
            if led.contains(partition.partition) { XCTAssertEqual(partition.leaderEpoch, 1) }
        }
    }

    // MARK: fencing and unfencing

    func testBrokersWhoseHeartbeatsStopAreFenced() throws {
        let image = try Self.create(Self.cluster([1, 2, 3]), "t", partitions: 3, rf: 2)
        let beats: [Int32: Int64] = [1: 10_000, 2: 991, 3: 1_000]
        // At 10_000 with a 9_000 ms session: broker 2 (9_009 ms silent) is out, 3 (exactly 9_000) is not.
        let records = try D.fenceExpiredBrokers(image, lastHeartbeatMs: beats, nowMs: 10_000, sessionTimeoutMs: 9_000)
        XCTAssertEqual(records.first, .brokerFencing(.init(nodeId: 2, brokerEpoch: 2, fenced: true)))
        let next = try image.applying(records)
        XCTAssertEqual(next.unfencedBrokerIds, [1, 3])
        for partition in next.topic(named: "t")!.sortedPartitions {
            XCTAssertNotEqual(partition.leader, 2)
            XCTAssertFalse(partition.isr.contains(2), "\(partition)")
        }
        // A broker the controller has no heartbeat for yet is not fenced.
        XCTAssertEqual(try D.fenceExpiredBrokers(image, lastHeartbeatMs: [:], nowMs: 1 << 40, sessionTimeoutMs: 1), [])
    }

    func testFencingTheLastInSyncReplicaLeavesThePartitionLeaderlessNotUnclean() throws {
        var image = try Self.create(Self.cluster([1, 2]), "t", partitions: 1, rf: 2)
        image = try image.applying(D.fenceBroker(image, nodeId: 2))
        image = try image.applying(D.fenceBroker(image, nodeId: 1))
        let partition = image.topic(named: "t")!.partitions[0]!
        XCTAssertEqual(partition.leader, -1)
        XCTAssertEqual(partition.isr.count, 1, "the ISR keeps its last member: \(partition)")
        let last = partition.isr[0]
        // The other replica coming back may not lead: it is not in the ISR.
        let other: Int32 = last == 1 ? 2 : 1
        image = try image.applying(
            D.unfenceBroker(
                image, nodeId: other, brokerEpoch: image.broker(other)!.brokerEpoch, metadataOffset: 9,
                logEndOffset: 9))
        XCTAssertEqual(image.topic(named: "t")!.partitions[0]!.leader, -1)
        // The last in-sync one coming back leads again, at a new epoch.
        image = try image.applying(
            D.unfenceBroker(
                image, nodeId: last, brokerEpoch: image.broker(last)!.brokerEpoch, metadataOffset: 9,
                logEndOffset: 9))
        let back = image.topic(named: "t")!.partitions[0]!
        XCTAssertEqual(back.leader, last)
        XCTAssertEqual(back.leaderEpoch, partition.leaderEpoch + 1)
        XCTAssertEqual(back.partitionEpoch, partition.partitionEpoch + 1)
    }

    func testUnfencingWaitsUntilCaughtUpAndChecksTheEpoch() throws {
        var image = try Self.cluster([1])
        let registration = try D.registerBroker(
            image, nodeId: 2, incarnationId: Self.uuid(2), listeners: [], roles: [.broker])
        image = try image.applying(registration.records)
        let epoch = registration.brokerEpoch
        XCTAssertEqual(
            try D.unfenceBroker(image, nodeId: 2, brokerEpoch: epoch, metadataOffset: 9, logEndOffset: 10), [])
        XCTAssertEqual(
            try D.unfenceBroker(image, nodeId: 2, brokerEpoch: epoch, metadataOffset: 10, logEndOffset: 10),
            [.brokerFencing(.init(nodeId: 2, brokerEpoch: epoch, fenced: false))])
        assertError(.staleBrokerEpoch, "stale broker epoch") {
            try D.unfenceBroker(image, nodeId: 2, brokerEpoch: epoch - 1, metadataOffset: 10, logEndOffset: 10)
        }
        assertError(.brokerIdNotRegistered, "not registered") {
            try D.unfenceBroker(image, nodeId: 7, brokerEpoch: 1, metadataOffset: 10, logEndOffset: 10)
        }
        // Already unfenced: nothing to do.
        let unfenced = try Self.cluster([1])
        XCTAssertEqual(
            try D.unfenceBroker(unfenced, nodeId: 1, brokerEpoch: 1, metadataOffset: 10, logEndOffset: 10), [])
    }

    func testControlledShutdownMovesLeadershipAway() throws {
        var image = try Self.create(Self.cluster([1, 2, 3]), "t", partitions: 6, rf: 3)
        XCTAssertTrue(image.topic(named: "t")!.sortedPartitions.contains { $0.leader == 1 })
        image = try image.applying(D.controlledShutdown(image, nodeId: 1, brokerEpoch: 1))
        for partition in image.topic(named: "t")!.sortedPartitions {
            XCTAssertNotEqual(partition.leader, 1)
            XCTAssertFalse(partition.isr.contains(1))
            XCTAssertTrue(partition.isr.contains(partition.leader))
        }
        assertError(.staleBrokerEpoch, "stale") { try D.controlledShutdown(image, nodeId: 2, brokerEpoch: 9) }
    }

    func testControlledShutdownKeepsASoleInSyncLeaderUntilItIsFenced() throws {
        var image = try Self.create(Self.cluster([1]), "t", partitions: 1, rf: 1)
        XCTAssertEqual(try D.controlledShutdown(image, nodeId: 1, brokerEpoch: 1), [], "nobody else can lead")
        image = try image.applying(D.fenceBroker(image, nodeId: 1))
        XCTAssertEqual(image.topic(named: "t")!.partitions[0]!.leader, -1)
    }

    // MARK: topics

    func testCreateTopicSpreadsReplicasAndLeaders() throws {
        let image = try Self.create(Self.cluster([1, 2, 3, 4]), "t", partitions: 8, rf: 3)
        let partitions = image.topic(named: "t")!.sortedPartitions
        XCTAssertEqual(partitions.map(\.partition), Array(0..<8))
        var leaders: [Int32: Int] = [:]
        var replicas: [Int32: Int] = [:]
        for partition in partitions {
            XCTAssertEqual(Set(partition.replicas).count, 3)
            XCTAssertEqual(partition.isr, partition.replicas)
            XCTAssertEqual(partition.leader, partition.replicas[0])
            XCTAssertEqual(partition.leaderEpoch, 0)
            leaders[partition.leader, default: 0] += 1
            for replica in partition.replicas { replicas[replica, default: 0] += 1 }
        }
        XCTAssertEqual(leaders, [1: 2, 2: 2, 3: 2, 4: 2])
        XCTAssertEqual(replicas, [1: 6, 2: 6, 3: 6, 4: 6])
        // A second topic keeps the cluster-wide leader count even.
        let more = try Self.create(image, "u", partitions: 3, rf: 1, seed: 7)
        var all: [Int32: Int] = [:]
        for topic in more.sortedTopics { for p in topic.sortedPartitions { all[p.leader, default: 0] += 1 } }
        XCTAssertLessThanOrEqual(all.values.max()! - all.values.min()!, 1, "\(all)")
    }

    func testCreateTopicUsesOnlyLiveBrokersAndIsDeterministicPerSeed() throws {
        var image = try Self.cluster([1, 2, 3])
        image = try image.applying(D.fenceBroker(image, nodeId: 2))
        let created = try Self.create(image, "t", partitions: 5, rf: 2, seed: 42)
        for partition in created.topic(named: "t")!.sortedPartitions { XCTAssertFalse(partition.replicas.contains(2)) }
        XCTAssertEqual(try Self.create(image, "t", partitions: 5, rf: 2, seed: 42), created)
        assertError(.invalidReplicationFactor, "2 are alive") { try Self.create(image, "x", partitions: 1, rf: 3) }
        assertError(.invalidReplicationFactor, "replication factor 0") {
            try Self.create(image, "x", partitions: 1, rf: 0)
        }
        assertError(.topicAlreadyExists, "topic t already exists") {
            try Self.create(created, "t", partitions: 1, rf: 1)
        }
        assertError(.invalidTopic, "characters") { try Self.create(image, "a b", partitions: 1, rf: 1) }
        assertError(.invalidTopic, "reserved") { try Self.create(image, "__x", partitions: 1, rf: 1) }
        assertError(.invalidPartitions, "partition count") { try Self.create(image, "x", partitions: 0, rf: 1) }
        var generator = SeededGenerator(seed: 1)
        assertError(.invalidConfig, "unknown topic config") {
            try D.createTopic(
                image, name: "x", partitions: 1, replicationFactor: 1, configs: ["nope": "1"], using: &generator)
        }
    }

    func testDeleteTopicAndAlterConfigs() throws {
        var generator = SeededGenerator(seed: 3)
        var image = try Self.cluster([1])
        image = try image.applying(
            D.createTopic(
                image, name: "t", partitions: 1, replicationFactor: 1, configs: ["retention.ms": "100"],
                using: &generator))
        let records = try D.alterTopicConfigs(
            image, name: "t", set: ["retention.ms": "100", "segment.bytes": "1048576"], remove: ["cleanup.policy"])
        // Unchanged and absent keys produce no record.
        XCTAssertEqual(
            records, [.config(.init(resourceType: .topic, resourceName: "t", key: "segment.bytes", value: "1048576"))])
        image = try image.applying(records)
        image = try image.applying(D.alterTopicConfigs(image, name: "t", set: [:], remove: ["retention.ms"]))
        XCTAssertEqual(image.topic(named: "t")?.configs, ["segment.bytes": "1048576"])
        assertError(.invalidConfig, "retention.ms") {
            try D.alterTopicConfigs(image, name: "t", set: ["retention.ms": "x"])
        }
        assertError(.invalidRequest, "both set and removed") {
            try D.alterTopicConfigs(image, name: "t", set: ["retention.ms": "1"], remove: ["retention.ms"])
        }
        assertError(.unknownTopicOrPartition, "zz") { try D.alterTopicConfigs(image, name: "zz", set: [:]) }

        let id = image.topic(named: "t")!.id
        XCTAssertEqual(try D.deleteTopic(image, name: "t"), [.removeTopic(.init(topicId: id))])
        image = try image.applying(D.deleteTopic(image, name: "t"))
        XCTAssertNil(image.topic(named: "t"))
        assertError(.unknownTopicOrPartition, "topic t does not exist") { try D.deleteTopic(image, name: "t") }
    }

    // MARK: leadership

    func testPreferredLeaderRebalance() throws {
        var image = try Self.create(Self.cluster([1, 2, 3]), "t", partitions: 3, rf: 3)
        let id = image.topic(named: "t")!.id
        image = try image.applying(D.fenceBroker(image, nodeId: 1))
        XCTAssertEqual(try D.rebalancePreferredLeaders(image), [], "preferred leader 1 is fenced and out of the ISR")
        image = try image.applying(
            D.unfenceBroker(image, nodeId: 1, brokerEpoch: 1, metadataOffset: 1, logEndOffset: 1))
        XCTAssertEqual(try D.rebalancePreferredLeaders(image), [], "1 is back but not yet in sync")
        // The leaders let broker 1 back into their ISRs, then leadership returns to it.
        for partition in image.topic(named: "t")!.sortedPartitions where !partition.isr.contains(1) {
            image = try image.applying(
                D.alterIsr(
                    image, topicId: id, partition: partition.partition, leader: partition.leader,
                    leaderEpoch: partition.leaderEpoch, partitionEpoch: partition.partitionEpoch,
                    newIsr: partition.isr + [1]))
        }
        let before = image.topic(named: "t")!.partitions
        let records = try D.rebalancePreferredLeaders(image)
        XCTAssertFalse(records.isEmpty)
        image = try image.applying(records)
        for partition in image.topic(named: "t")!.sortedPartitions {
            XCTAssertEqual(partition.leader, partition.preferredLeader)
            let old = before[partition.partition]!
            if old.leader != partition.leader { XCTAssertEqual(partition.leaderEpoch, old.leaderEpoch + 1) }
        }
        XCTAssertEqual(try D.rebalancePreferredLeaders(image), [])
    }

    func testAlterIsrChecksTheLeaderAndItsEpochs() throws {
        var image = try Self.create(Self.cluster([1, 2, 3]), "t", partitions: 1, rf: 3)
        let id = image.topic(named: "t")!.id
        let p = image.topic(named: "t")!.partitions[0]!
        let follower = p.replicas[1]
        let shrunk = try D.alterIsr(
            image, topicId: id, partition: 0, leader: p.leader, leaderEpoch: 0, partitionEpoch: 0,
            newIsr: p.isr.filter { $0 != follower })
        image = try image.applying(shrunk)
        XCTAssertEqual(image.partition(id, 0)?.partitionEpoch, 1)
        XCTAssertEqual(image.partition(id, 0)?.leaderEpoch, 0)
        assertError(.invalidUpdateVersion, "partition epoch 0 is stale") {
            try D.alterIsr(
                image, topicId: id, partition: 0, leader: p.leader, leaderEpoch: 0, partitionEpoch: 0,
                newIsr: p.replicas)
        }
        assertError(.notLeaderOrFollower, "broker \(follower) is not the current leader") {
            try D.alterIsr(
                image, topicId: id, partition: 0, leader: follower, leaderEpoch: 0, partitionEpoch: 1,
                newIsr: [follower])
        }
        assertError(.notController, "leader epoch 1 is newer") {
            try D.alterIsr(
                image, topicId: id, partition: 0, leader: p.leader, leaderEpoch: 1, partitionEpoch: 1,
                newIsr: p.replicas)
        }
        assertError(.invalidRequest, "must hold the leader") {
            try D.alterIsr(
                image, topicId: id, partition: 0, leader: p.leader, leaderEpoch: 0, partitionEpoch: 1,
                newIsr: [follower])
        }
        assertError(.unknownTopicOrPartition, "partition 4") {
            try D.alterIsr(image, topicId: id, partition: 4, leader: 1, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1])
        }
        image = try image.applying(D.fenceBroker(image, nodeId: follower))
        assertError(.ineligibleReplica, "broker \(follower) is fenced") {
            try D.alterIsr(
                image, topicId: id, partition: 0, leader: p.leader, leaderEpoch: 0, partitionEpoch: 1,
                newIsr: p.replicas)
        }
    }
}
