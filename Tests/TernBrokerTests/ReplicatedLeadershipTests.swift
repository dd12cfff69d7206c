import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// Which led partitions must wait for their replica machine before they are served (chaos seed
/// 1004: a restarted leader served its replicated partition as a single-replica log until its
/// registration committed, acknowledging acks=all after a local fsync alone).
final class ReplicatedLeadershipTests: XCTestCase {
    private typealias D = ControllerDecisions

    private func image() throws -> MetadataImage {
        var image = try MetadataImage.withUnfencedBrokers()
        var generator = SeededGenerator(seed: 11)
        image = try image.applying(
            D.createTopic(image, name: "replicated", partitions: 6, replicationFactor: 3, using: &generator))
        image = try image.applying(
            D.createTopic(image, name: "single", partitions: 6, replicationFactor: 1, using: &generator))
        image = try image.applying(
            D.createTopic(
                image, name: GroupCoordinator.topicName, partitions: 6, replicationFactor: 3, internalTopic: true,
                using: &generator))
        return image
    }

    /// Exactly the partitions the node leads that have more than one replica, the group
    /// coordinator's own topic included (its writes wait for its high watermark too).
    func testReplicatedLeadershipsAreTheLedMultiReplicaPartitions() throws {
        let image = try image()
        var seen = 0
        for node in [Int32(1), 2, 3] {
            let replicated = Broker.replicatedLeaderships(image, nodeId: node)
            var expected: Set<TopicPartition> = []
            for topic in image.topicsById.values where topic.name == "replicated" || topic.name == GroupCoordinator.topicName {
                for p in topic.partitions.values where p.leader == node {
                    expected.insert(TopicPartition(topic.name, p.partition))
                }
            }
            XCTAssertEqual(replicated, expected, "node \(node)")
            seen += replicated.count
            // Every one of them is also a leadership the produce path sees.
            let led = Broker.leaderships(image, nodeId: node)
            for tp in replicated { XCTAssertNotNil(led[tp.topic]?[tp.partition]) }
        }
        XCTAssertEqual(seen, 12, "every replicated partition has one leader")
    }
}
