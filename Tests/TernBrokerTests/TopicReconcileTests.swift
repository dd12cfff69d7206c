import TernWire
import XCTest

@testable import TernBroker

/// The pure decision of how a broker's logs follow the metadata image.
final class TopicReconcileTests: XCTestCase {
    private let a = MetadataUUID(high: 0, low: 0xA)
    private let b = MetadataUUID(high: 0, low: 0xB)

    /// An image with brokers 1-3 and `topics` (name, id, replicas per partition, configs).
    private func image(_ topics: [(String, MetadataUUID, [[Int32]], [String: String])]) throws -> MetadataImage {
        var records: [MetadataRecord] = [.clusterId("c")]
        for node in Int32(1)...3 {
            records.append(
                .registerBroker(
                    .init(
                        nodeId: node, incarnationId: MetadataUUID(high: 9, low: UInt64(node)), brokerEpoch: Int64(node),
                        listeners: [], roles: [.broker, .controller], fenced: false)))
        }
        for (name, id, assignment, configs) in topics {
            records.append(.topic(.init(topicId: id, name: name, configs: configs)))
            for (index, replicas) in assignment.enumerated() {
                records.append(
                    .partition(
                        .init(
                            topicId: id, partition: Int32(index), replicas: replicas, isr: replicas, leader: replicas[0]
                        )))
            }
        }
        return try MetadataImage().applying(records)
    }

    private func local(
        _ name: String, _ id: MetadataUUID, count: Int32, held: [Int32]?, configs: [String: String] = [:]
    ) -> TopicInfo {
        TopicInfo(
            name: name, id: "\(id)", partitionCount: count, replicationFactor: 2, configs: configs,
            replicaPartitions: held)
    }

    func testNewTopicCreatesOnlyTheReplicatedPartitions() throws {
        let image = try image([("t", a, [[1, 2], [2, 3], [3, 1]], ["retention.ms": "5"])])
        XCTAssertEqual(
            TopicReconcile.plan(local: [], image: image, nodeId: 1),
            [.create(local("t", a, count: 3, held: [0, 2], configs: ["retention.ms": "5"]))])
        XCTAssertEqual(
            TopicReconcile.plan(local: [], image: image, nodeId: 2),
            [.create(local("t", a, count: 3, held: [0, 1], configs: ["retention.ms": "5"]))])
        // A broker with no replica of it makes nothing.
        let other = try self.image([("t", a, [[2, 3]], [:])])
        XCTAssertEqual(TopicReconcile.plan(local: [], image: other, nodeId: 1), [])
    }

    func testMatchingLogsNeedNothing() throws {
        let image = try image([("t", a, [[1, 2], [2, 3]], [:])])
        XCTAssertEqual(TopicReconcile.plan(local: [local("t", a, count: 2, held: [0])], image: image, nodeId: 1), [])
    }

    func testDeletedOrRecreatedTopicsLoseTheirOldLogsFirst() throws {
        // Gone from the image: deleted. Same name with another id: deleted, then created.
        let image = try image([("t", b, [[1, 2]], [:])])
        let plan = TopicReconcile.plan(
            local: [local("t", a, count: 1, held: [0]), local("gone", a, count: 4, held: nil)], image: image, nodeId: 1)
        XCTAssertEqual(
            plan,
            [
                .delete(local("gone", a, count: 4, held: nil)), .delete(local("t", a, count: 1, held: [0])),
                .create(local("t", b, count: 1, held: [0])),
            ])
    }

    func testConfigChangesAndReassignmentsUpdateInPlace() throws {
        let image = try image([("t", a, [[1, 2], [1, 3], [2, 3]], ["cleanup.policy": "compact"])])
        let have = local("t", a, count: 3, held: [0, 2])
        XCTAssertEqual(
            TopicReconcile.plan(local: [have], image: image, nodeId: 1),
            [
                .update(
                    local("t", a, count: 3, held: [0, 1], configs: ["cleanup.policy": "compact"]), addPartitions: [1],
                    removePartitions: [2], configsChanged: true)
            ])
    }

    /// A single-node store's topic (every partition, an id without leading zeros) is the
    /// imported topic: kept, its record rewritten in the image's terms, no log touched.
    func testLegacyRecordsMatchTheirImportedTopics() throws {
        let image = try image([("t", MetadataUUID(high: 0, low: 0xABC123), [[1], [1]], [:])])
        let legacy = TopicInfo(name: "t", id: "abc123", partitionCount: 2, replicationFactor: 1, configs: [:])
        XCTAssertEqual(
            TopicReconcile.plan(local: [legacy], image: image, nodeId: 1),
            [
                .update(
                    TopicInfo(
                        name: "t", id: "0000000000000000" + "0000000000abc123", partitionCount: 2, replicationFactor: 1,
                        configs: [:], replicaPartitions: [0, 1]), addPartitions: [], removePartitions: [],
                    configsChanged: false)
            ])
    }
}
