import Dispatch
import Logging
import Synchronization
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// `auto.leader.rebalance.enable` on a real (single-voter) metadata quorum: the active
/// controller's timer moves leadership back to preferred replicas that are live and in sync,
/// every `leader.imbalance.check.interval.seconds`, and leaves it alone when disabled. The
/// brokers are records in the metadata log (registered, fenced, back, in sync again), as a
/// controller sees brokers that restarted.
final class ActiveControllerRebalanceTests: XCTestCase {
    typealias D = ControllerDecisions

    /// A started voter of a quorum of one, with `overrides`.
    private func startNode(_ directory: TemporaryDirectory, _ overrides: [String]) throws -> ClusterNode {
        let config = try BrokerConfig.load(file: nil, overrides: ["log.dirs=\(directory.path)"] + overrides)
        let node = try ClusterNode(config: config.cluster, logDir: directory.path, logger: Logger(label: "test"))
        try node.startQuorum()
        let deadline = ContinuousClock.now + .seconds(20)
        while !node.controller.isActive && ContinuousClock.now < deadline { usleep(10_000) }
        XCTAssertTrue(node.controller.isActive, "no active controller")
        return node
    }

    /// Decides records on the controller's working image and waits until they are committed.
    private func commit(_ node: ClusterNode, _ decide: @escaping @Sendable (MetadataImage) throws -> [MetadataRecord])
        throws
    {
        let done = DispatchSemaphore(value: 0)
        let outcome = Shared<String?>("not answered")
        node.controller.queue.async {
            do {
                let records = try decide(node.controller.workingImage)
                guard !records.isEmpty else {
                    outcome.value.withLock { $0 = nil }
                    done.signal()
                    return
                }
                node.controller.propose(records, what: "test") { result in
                    outcome.value.withLock { $0 = (try? result.get()) == nil ? "\(result)" : nil }
                    done.signal()
                }
            } catch {
                outcome.value.withLock { $0 = "\(error)" }
                done.signal()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        if let failure = outcome.value.withLock({ $0 }) { XCTFail(failure) }
    }

    /// Brokers 1–3 and topic "t" (6 partitions, 3 replicas); broker 1 then stops and returns and
    /// is let back into every ISR, so the partitions it prefers are led by others. Returns them.
    private func imbalance(_ node: ClusterNode) throws -> [Int32] {
        for id in [Int32(1), 2, 3] {
            try commit(node) { image in
                try D.registerBroker(
                    image, nodeId: id, incarnationId: MetadataUUID(high: 7, low: UInt64(id)), listeners: [],
                    roles: [.broker]
                ).records
            }
            try commit(node) { image in
                try D.unfenceBroker(
                    image, nodeId: id, brokerEpoch: image.broker(id)!.brokerEpoch, metadataOffset: 0, logEndOffset: 0)
            }
        }
        try commit(node) { image in
            var generator = SeededGenerator(seed: 3)
            return try D.createTopic(image, name: "t", partitions: 6, replicationFactor: 3, using: &generator)
        }
        try commit(node) { try D.fenceBroker($0, nodeId: 1) }
        try commit(node) { image in
            try D.unfenceBroker(
                image, nodeId: 1, brokerEpoch: image.broker(1)!.brokerEpoch, metadataOffset: 0, logEndOffset: 0)
        }
        try commit(node) { image in
            let topic = image.topic(named: "t")!
            var records: [MetadataRecord] = []
            var working = image
            for partition in topic.sortedPartitions where !partition.isr.contains(1) {
                let change = try D.alterIsr(
                    working, topicId: topic.id, partition: partition.partition, leader: partition.leader,
                    leaderEpoch: partition.leaderEpoch, partitionEpoch: partition.partitionEpoch,
                    newIsr: partition.isr + [1])
                working = try working.applying(change)
                records += change
            }
            return records
        }
        let topic = try XCTUnwrap(node.image.topic(named: "t"))
        let misled = topic.sortedPartitions.filter { $0.leader != $0.preferredLeader }.map(\.partition)
        XCTAssertFalse(misled.isEmpty)
        XCTAssertTrue(topic.sortedPartitions.allSatisfy { $0.isr.contains(1) })
        return misled
    }

    func testTheControllerMovesLeadershipBackToPreferredReplicasOnItsTimer() throws {
        let directory = TemporaryDirectory("tern-rebalance")
        defer { directory.remove() }
        let node = try startNode(directory, ["leader.imbalance.check.interval.seconds=1"])
        defer { node.shutdown() }
        let misled = try imbalance(node)
        let deadline = ContinuousClock.now + .seconds(15)
        func balanced() -> Bool {
            node.image.topic(named: "t")?.sortedPartitions.allSatisfy { $0.leader == $0.preferredLeader } == true
        }
        while !balanced() && ContinuousClock.now < deadline { usleep(20_000) }
        XCTAssertTrue(balanced(), "\(String(describing: node.image.topic(named: "t")?.sortedPartitions))")
        for index in misled {
            let partition = try XCTUnwrap(node.image.topic(named: "t")?.partitions[index])
            XCTAssertEqual(partition.leader, 1)
            XCTAssertTrue(partition.isr.contains(1))
        }
    }

    func testNothingMovesWhenAutoRebalanceIsDisabled() throws {
        let directory = TemporaryDirectory("tern-rebalance-off")
        defer { directory.remove() }
        let node = try startNode(
            directory, ["leader.imbalance.check.interval.seconds=1", "auto.leader.rebalance.enable=false"])
        defer { node.shutdown() }
        let misled = try imbalance(node)
        // Three check intervals: the partitions stay where they are.
        usleep(3_000_000)
        let topic = try XCTUnwrap(node.image.topic(named: "t"))
        XCTAssertEqual(topic.sortedPartitions.filter { $0.leader != $0.preferredLeader }.map(\.partition), misled)
    }
}
