import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// Partition reassignment as pure controller decisions (ControllerDecisions+Reassign.swift):
/// every step (start, ISR growth, completion with the leader moved), cancellation, invalid
/// targets, and the widening of `__consumer_offsets` as brokers join.
final class ControllerReassignDecisionsTests: XCTestCase {
    typealias D = ControllerDecisions
    typealias T = ControllerDecisionsTests

    func assertError(_ code: ErrorCode, _ text: String, _ body: () throws -> some Any, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) {
            guard let error = $0 as? ControllerError else { return XCTFail("\($0)", line: line) }
            XCTAssertEqual(error.code, code, "\(error)", line: line)
            XCTAssertTrue(error.message.contains(text), "\(error)", line: line)
        }
    }

    func partition(_ image: MetadataImage, _ name: String, _ index: Int32 = 0) throws -> MetadataImage.Partition {
        try XCTUnwrap(image.topic(named: name)?.partitions[index])
    }

    /// The leader adds `replica` to the ISR (AlterPartition), as the partition's leader would once
    /// it caught up.
    func grow(_ image: MetadataImage, _ name: String, _ index: Int32 = 0, adding replica: Int32) throws
        -> MetadataImage
    {
        let p = try partition(image, name, index)
        let topic = try XCTUnwrap(image.topic(named: name))
        return try image.applying(
            D.alterIsr(
                image, topicId: topic.id, partition: index, leader: p.leader, leaderEpoch: p.leaderEpoch,
                partitionEpoch: p.partitionEpoch, newIsr: p.isr + [replica]))
    }

    func testAReassignmentAddsReplicasWaitsForTheIsrThenMovesLeadershipAndDropsTheOld() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "orders", partitions: 1, rf: 1)
        // Placement is seeded; pin the start so the test reads plainly.
        let before = try partition(image, "orders")
        let old = before.replicas[0]
        let target = [Int32(1), 2, 3].filter { $0 != old }
        let start = try D.reassign(image, topic: "orders", partition: 0, target: target)
        XCTAssertEqual(start.count, 1)
        guard case .partitionChange(let record) = start.first else { return XCTFail("\(start)") }
        XCTAssertEqual(record.replicas, target + [old])
        XCTAssertEqual(record.addingReplicas, target)
        XCTAssertEqual(record.removingReplicas, [old])
        XCTAssertEqual(record.leader, old, "leadership stays until the target is in sync")
        XCTAssertEqual(record.leaderEpoch, before.leaderEpoch)
        XCTAssertEqual(record.partitionEpoch, before.partitionEpoch + 1)
        image = try image.applying(start)
        var p = try partition(image, "orders")
        XCTAssertTrue(p.isReassigning)
        XCTAssertEqual(p.targetReplicas, target)
        XCTAssertEqual(p.originalReplicas, [old])

        // Nothing completes while a target replica is outside the ISR.
        XCTAssertEqual(try D.completeReassignments(image), [])
        image = try grow(image, "orders", adding: target[0])
        XCTAssertEqual(try D.completeReassignments(image), [])
        // An ISR change in the middle keeps the reassignment (a version-0 change record).
        XCTAssertTrue(try partition(image, "orders").isReassigning)
        image = try grow(image, "orders", adding: target[1])

        let done = try D.completeReassignments(image)
        XCTAssertEqual(done.count, 1)
        image = try image.applying(done)
        p = try partition(image, "orders")
        XCTAssertEqual(p.replicas, target)
        XCTAssertEqual(p.isr, target)
        XCTAssertEqual(p.leader, target[0], "the leader moved into the target")
        XCTAssertEqual(p.leaderEpoch, before.leaderEpoch + 1)
        XCTAssertEqual(p.addingReplicas, [])
        XCTAssertEqual(p.removingReplicas, [])
        XCTAssertEqual(try D.completeReassignments(image), [], "nothing left to do")
    }

    func testALeaderInTheTargetKeepsLeadingAndItsEpoch() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 2)
        let before = try partition(image, "t")
        let outsider = try XCTUnwrap([Int32(1), 2, 3].first { !before.replicas.contains($0) })
        let target = [before.leader, outsider]
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: target))
        image = try grow(image, "t", adding: outsider)
        image = try image.applying(D.completeReassignments(image))
        let p = try partition(image, "t")
        XCTAssertEqual(p.replicas, target)
        XCTAssertEqual(p.leader, before.leader)
        XCTAssertEqual(p.leaderEpoch, before.leaderEpoch)
        XCTAssertEqual(p.isr, target)
    }

    func testATargetAlreadyInSyncCompletesAtOnce() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 3)
        let before = try partition(image, "t")
        let target = Array(before.replicas.reversed().prefix(2))
        let records = try D.reassign(image, topic: "t", partition: 0, target: target)
        XCTAssertEqual(records.count, 2, "start and completion in one decision")
        image = try image.applying(records)
        let p = try partition(image, "t")
        XCTAssertEqual(p.replicas, target)
        XCTAssertFalse(p.isReassigning)
        XCTAssertTrue(target.contains(p.leader))
    }

    func testTheSameTargetChangesNothing() throws {
        let image = try T.create(T.cluster([1, 2]), "t", partitions: 1, rf: 2)
        let replicas = try partition(image, "t").replicas
        XCTAssertEqual(try D.reassign(image, topic: "t", partition: 0, target: replicas), [])
    }

    func testCancellationRestoresTheOriginalReplicas() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        let before = try partition(image, "t")
        let target = [Int32(1), 2, 3].filter { $0 != before.leader }
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: target))
        image = try grow(image, "t", adding: target[0])
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: nil))
        let p = try partition(image, "t")
        XCTAssertEqual(p.replicas, before.replicas)
        XCTAssertEqual(p.isr, before.replicas, "the added replica leaves the ISR with the replica set")
        XCTAssertEqual(p.leader, before.leader)
        XCTAssertEqual(p.leaderEpoch, before.leaderEpoch)
        XCTAssertFalse(p.isReassigning)
        assertError(.noReassignmentInProgress, "not being reassigned") {
            try D.reassign(image, topic: "t", partition: 0, target: nil)
        }
    }

    func testANewTargetReplacesOneInProgressWithoutDroppingAnyReplica() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        let old = try partition(image, "t").leader
        let others = [Int32(1), 2, 3].filter { $0 != old }
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: [others[0]]))
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: [others[1]]))
        let p = try partition(image, "t")
        XCTAssertEqual(p.replicas, [others[1], others[0], old])
        XCTAssertEqual(p.addingReplicas, [others[1]])
        XCTAssertEqual(p.removingReplicas, [others[0], old])
        XCTAssertEqual(p.targetReplicas, [others[1]])
    }

    func testInvalidTargetsAreRefused() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        image = try image.applying(D.fenceBroker(image, nodeId: 3))
        assertError(.invalidReplicaAssignment, "empty") {
            try D.reassign(image, topic: "t", partition: 0, target: [])
        }
        assertError(.invalidReplicaAssignment, "repeat") {
            try D.reassign(image, topic: "t", partition: 0, target: [1, 2, 1])
        }
        assertError(.invalidReplicaAssignment, "broker 3 is not a registered, unfenced broker") {
            try D.reassign(image, topic: "t", partition: 0, target: [1, 3])
        }
        assertError(.invalidReplicaAssignment, "broker 9") {
            try D.reassign(image, topic: "t", partition: 0, target: [9])
        }
        assertError(.unknownTopicOrPartition, "partition 4 of topic 't'") {
            try D.reassign(image, topic: "t", partition: 4, target: [1])
        }
        assertError(.unknownTopicOrPartition, "topic 'nope'") {
            try D.reassign(image, topic: "nope", partition: 0, target: [1])
        }
    }

    func testCompletionWaitsForALiveLeaderInTheTarget() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        let old = try partition(image, "t").leader
        let target = [Int32(1), 2, 3].filter { $0 != old }
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: target))
        image = try grow(image, "t", adding: target[0])
        image = try grow(image, "t", adding: target[1])
        // Both target brokers fenced: they leave the ISR, so there is nothing to complete.
        image = try image.applying(D.fenceBroker(image, nodeId: target[0]))
        image = try image.applying(D.fenceBroker(image, nodeId: target[1]))
        XCTAssertEqual(try D.completeReassignments(image), [])
        XCTAssertTrue(try partition(image, "t").isReassigning)
    }

    func testTheThrottleGoesWithTheTopicsLastReassignment() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 2, rf: 1)
        image = try image.applying(
            D.alterTopicConfigs(image, name: "t", set: [D.reassignmentThrottleConfig: "1048576"]))
        var targets: [Int32: [Int32]] = [:]
        for index in Int32(0)...1 {
            let old = try partition(image, "t", index).leader
            targets[index] = [Int32(1), 2, 3].filter { $0 != old }
            image = try image.applying(D.reassign(image, topic: "t", partition: index, target: targets[index]))
        }
        for replica in targets[0] ?? [] { image = try grow(image, "t", 0, adding: replica) }
        image = try image.applying(D.completeReassignments(image))
        XCTAssertEqual(image.topic(named: "t")?.configs[D.reassignmentThrottleConfig], "1048576", "one still moving")
        for replica in targets[1] ?? [] { image = try grow(image, "t", 1, adding: replica) }
        let last = try D.completeReassignments(image)
        XCTAssertEqual(last.count, 2)
        image = try image.applying(last)
        XCTAssertNil(image.topic(named: "t")?.configs[D.reassignmentThrottleConfig])
    }

    func testAReassignmentInProgressSurvivesASnapshot() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        let old = try partition(image, "t").leader
        image = try image.applying(
            D.reassign(image, topic: "t", partition: 0, target: [Int32(1), 2, 3].filter { $0 != old }))
        let rebuilt = try MetadataImage().applying(MetadataBatch.decode(MetadataBatch.encode(image.records)))
        XCTAssertEqual(rebuilt, image)
    }

    func testTheImageRefusesContradictoryReplicaSets() throws {
        let image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        let topic = try XCTUnwrap(image.topic(named: "t"))
        let p = try partition(image, "t")
        func change(replicas: [Int32]?, adding: [Int32]?, removing: [Int32]?) -> MetadataRecord {
            .partitionChange(
                .init(
                    topicId: topic.id, partition: 0, leader: p.leader, isr: p.isr, leaderEpoch: p.leaderEpoch,
                    partitionEpoch: p.partitionEpoch + 1, replicas: replicas, addingReplicas: adding,
                    removingReplicas: removing))
        }
        let cases: [(MetadataRecord, String)] = [
            (change(replicas: [p.leader], adding: [9], removing: []), "adding outside replicas"),
            (change(replicas: [p.leader, 2, 3], adding: [2], removing: [2]), "adding and removing overlap"),
            (change(replicas: [p.leader], adding: [], removing: [p.leader]), "removing everything"),
            (change(replicas: [p.leader, 9], adding: [9], removing: []), "unregistered replica"),
            (change(replicas: [], adding: nil, removing: nil), "empty replicas"),
            (change(replicas: [p.leader, p.leader], adding: nil, removing: nil), "repeated replica"),
        ]
        for (record, what) in cases {
            XCTAssertThrowsError(try image.applying(record), what) { XCTAssertTrue($0 is MetadataImageError, what) }
        }
    }

    // MARK: widening __consumer_offsets

    static func offsetsTopic(on nodes: [Int32], partitions: Int32) throws -> MetadataImage {
        let image = try T.cluster(nodes)
        var generator = SeededGenerator(seed: 3)
        return try image.applying(
            D.createTopic(
                image, name: "__consumer_offsets", partitions: partitions, replicationFactor: 1, internalTopic: true,
                using: &generator))
    }

    func testTheOffsetsTopicWidensToTheLiveBrokersUpToTheSetting() throws {
        var image = try Self.offsetsTopic(on: [1], partitions: 4)
        XCTAssertEqual(try D.widenOffsetsTopic(image, replicationFactor: 3), [], "one live broker: already wide")
        // Two brokers join.
        for node: Int32 in [2, 3] {
            let registration = try D.registerBroker(
                image, nodeId: node, incarnationId: T.uuid(UInt64(node)), listeners: [], roles: [.broker])
            image = try image.applying(registration.records)
            image = try image.applying(
                D.unfenceBroker(
                    image, nodeId: node, brokerEpoch: registration.brokerEpoch, metadataOffset: 9, logEndOffset: 9))
        }
        let widened = try D.widenOffsetsTopic(image, replicationFactor: 3)
        XCTAssertEqual(widened.count, 4)
        image = try image.applying(widened)
        let topic = try XCTUnwrap(image.topic(named: "__consumer_offsets"))
        for p in topic.sortedPartitions {
            XCTAssertEqual(p.replicas.first, 1, "the existing replica keeps its place")
            XCTAssertEqual(Set(p.replicas), [1, 2, 3])
            XCTAssertEqual(Set(p.addingReplicas), [2, 3])
            XCTAssertEqual(p.removingReplicas, [])
            XCTAssertEqual(p.leader, 1)
        }
        XCTAssertEqual(
            try D.widenOffsetsTopic(image, replicationFactor: 3), [], "reassigning partitions are left alone")
        // Completed once caught up: three in-sync replicas, leader unchanged.
        for p in topic.sortedPartitions {
            image = try grow(image, "__consumer_offsets", p.partition, adding: 2)
            image = try grow(image, "__consumer_offsets", p.partition, adding: 3)
        }
        image = try image.applying(D.completeReassignments(image))
        for p in try XCTUnwrap(image.topic(named: "__consumer_offsets")).sortedPartitions {
            XCTAssertEqual(p.isr.count, 3)
            XCTAssertEqual(p.leader, 1)
            XCTAssertFalse(p.isReassigning)
        }
    }

    func testWideningSpreadsNewReplicasAndStopsAtTheSetting() throws {
        let image = try Self.offsetsTopic(on: [1], partitions: 6)
        var joined = image
        for node: Int32 in [2, 3, 4] {
            let registration = try D.registerBroker(
                joined, nodeId: node, incarnationId: T.uuid(UInt64(node)), listeners: [], roles: [.broker])
            joined = try joined.applying(registration.records)
            joined = try joined.applying(
                D.unfenceBroker(
                    joined, nodeId: node, brokerEpoch: registration.brokerEpoch, metadataOffset: 9, logEndOffset: 9))
        }
        let after = try joined.applying(D.widenOffsetsTopic(joined, replicationFactor: 2))
        var added: [Int32: Int] = [:]
        for p in try XCTUnwrap(after.topic(named: "__consumer_offsets")).sortedPartitions {
            XCTAssertEqual(p.replicas.count, 2)
            for replica in p.addingReplicas { added[replica, default: 0] += 1 }
        }
        XCTAssertEqual(added, [2: 2, 3: 2, 4: 2], "six new replicas over three new brokers")
        // Other topics are never widened.
        let other = try T.create(joined, "t", partitions: 1, rf: 1)
        let records = try D.widenOffsetsTopic(other, replicationFactor: 3)
        XCTAssertFalse(
            records.contains {
                if case .partitionChange(let change) = $0 { return change.topicId == other.topic(named: "t")?.id }
                return false
            })
    }
}

extension ControllerReassignDecisionsTests {
    func testTheThrottleAppliesToTheReplicasBeingAddedOnly() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        let id = try XCTUnwrap(image.topic(named: "t")?.id)
        let old = try partition(image, "t").leader
        let target = [Int32(1), 2, 3].filter { $0 != old }
        image = try image.applying(D.alterTopicConfigs(image, name: "t", set: [D.reassignmentThrottleConfig: "4096"]))
        XCTAssertNil(image.reassignmentThrottle(topicId: id, partition: 0, replica: target[0]), "no move yet")
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: target))
        XCTAssertEqual(image.reassignmentThrottle(topicId: id, partition: 0, replica: target[0]), 4096)
        XCTAssertEqual(image.reassignmentThrottle(topicId: id, partition: 0, replica: target[1]), 4096)
        XCTAssertNil(image.reassignmentThrottle(topicId: id, partition: 0, replica: old), "the original replica")
        XCTAssertNil(image.reassignmentThrottle(topicId: id, partition: 7, replica: target[0]))
        XCTAssertEqual(image.reassignmentThrottle(topic: "t", partition: 0, replica: target[0]), 4096)
        XCTAssertNil(image.reassignmentThrottle(topic: "nope", partition: 0, replica: target[0]))
        // A replica being added that reached the ISR is no longer throttled (as Kafka: in-sync
        // replicas never are); the other still is.
        let p = try partition(image, "t")
        let joined = try image.applying(
            .partitionChange(
                .init(
                    topicId: id, partition: 0, leader: p.leader, isr: p.isr + [target[0]], leaderEpoch: p.leaderEpoch,
                    partitionEpoch: p.partitionEpoch + 1, replicas: nil, addingReplicas: nil, removingReplicas: nil)))
        XCTAssertNil(joined.reassignmentThrottle(topicId: id, partition: 0, replica: target[0]), "in sync")
        XCTAssertEqual(joined.reassignmentThrottle(topicId: id, partition: 0, replica: target[1]), 4096)
        let unthrottled = try image.applying(
            D.alterTopicConfigs(image, name: "t", set: [D.reassignmentThrottleConfig: "-1"]))
        XCTAssertNil(unthrottled.reassignmentThrottle(topicId: id, partition: 0, replica: target[0]))
    }
}

extension ControllerReassignDecisionsTests {
    func testReplicasBeingAddedDoNotMakeAPartitionUnderReplicated() throws {
        var image = try T.create(T.cluster([1, 2, 3]), "t", partitions: 1, rf: 1)
        let old = try partition(image, "t").leader
        let target = [Int32(1), 2, 3].filter { $0 != old }
        image = try image.applying(D.reassign(image, topic: "t", partition: 0, target: target))
        XCTAssertEqual(image.partitionHealth(nodeId: old).underReplicated, 0, "a move is not a fault")
        // The original replica out of sync still counts: fence it and bring a new one in.
        image = try grow(image, "t", adding: target[0])
        image = try image.applying(D.fenceBroker(image, nodeId: target[0]))
        XCTAssertEqual(image.partitionHealth(nodeId: old).underReplicated, 0, "one original in sync of one")
        var shrunk = try T.create(T.cluster([1, 2, 3]), "u", partitions: 1, rf: 2)
        let p = try partition(shrunk, "u")
        let outsider = try XCTUnwrap([Int32(1), 2, 3].first { !p.replicas.contains($0) })
        shrunk = try shrunk.applying(D.reassign(shrunk, topic: "u", partition: 0, target: [p.leader, outsider]))
        let follower = try XCTUnwrap(p.replicas.first { $0 != p.leader })
        shrunk = try shrunk.applying(D.fenceBroker(shrunk, nodeId: follower))
        XCTAssertEqual(shrunk.partitionHealth(nodeId: p.leader).underReplicated, 1, "an original replica fell out")
    }
}
