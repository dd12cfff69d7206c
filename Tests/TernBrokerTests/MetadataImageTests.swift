import TernWire
import XCTest

@testable import TernBroker

/// Applying committed metadata records: what the image answers, and records that contradict it
/// are refused with a clear error and leave it unchanged.
final class MetadataImageTests: XCTestCase {
    static let t1 = MetadataUUID(high: 1, low: 1)
    static let t2 = MetadataUUID(high: 2, low: 2)

    static func register(_ node: Int32, epoch: Int64, fenced: Bool = false, incarnation: UInt64 = 1) -> MetadataRecord {
        .registerBroker(
            .init(
                nodeId: node, incarnationId: MetadataUUID(high: UInt64(node), low: incarnation), brokerEpoch: epoch,
                listeners: [.init(name: "PLAINTEXT", host: "127.0.0.1", port: UInt16(9000 + node))], roles: [.broker],
                fenced: fenced))
    }

    /// Three brokers, topic "a" (t1) with two partitions on 1,2,3.
    static func base() throws -> MetadataImage {
        try MetadataImage().applying([
            .clusterId("c1"),
            register(1, epoch: 1), register(2, epoch: 2), register(3, epoch: 3, fenced: true),
            .topic(.init(topicId: t1, name: "a", configs: ["retention.ms": "100"])),
            .partition(.init(topicId: t1, partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1)),
            .partition(.init(topicId: t1, partition: 1, replicas: [2, 3, 1], isr: [2, 3], leader: 2)),
        ])
    }

    func testAnswers() throws {
        let image = try Self.base()
        XCTAssertEqual(image.clusterId, "c1")
        XCTAssertEqual(image.sortedBrokers.map(\.nodeId), [1, 2, 3])
        XCTAssertEqual(image.unfencedBrokerIds, [1, 2])
        XCTAssertEqual(image.broker(2)?.listeners.first?.port, 9002)
        XCTAssertEqual(image.broker(3)?.brokerEpoch, 3)
        XCTAssertEqual(image.highestBrokerEpoch, 3)
        XCTAssertEqual(image.topic(named: "a")?.id, Self.t1)
        XCTAssertEqual(image.topic(id: Self.t1)?.configs, ["retention.ms": "100"])
        XCTAssertEqual(image.partition(Self.t1, 1)?.isr, [2, 3])
        XCTAssertEqual(image.partition(Self.t1, 1)?.preferredLeader, 2)

        var next = try image.applying([
            .brokerFencing(.init(nodeId: 3, brokerEpoch: 3, fenced: false)),
            .partitionChange(
                .init(topicId: Self.t1, partition: 0, leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1)),
            .config(.init(resourceType: .topic, resourceName: "a", key: "retention.ms", value: nil)),
            .config(.init(resourceType: .broker, resourceName: "", key: "log.retention.ms", value: "7")),
        ])
        XCTAssertEqual(next.unfencedBrokerIds, [1, 2, 3])
        XCTAssertEqual(next.partition(Self.t1, 0)?.leader, 2)
        XCTAssertEqual(next.partition(Self.t1, 0)?.leaderEpoch, 1)
        XCTAssertEqual(next.topic(named: "a")?.configs, [:])
        XCTAssertEqual(next.brokerConfigs, ["": ["log.retention.ms": "7"]])
        try next.apply(.removeTopic(.init(topicId: Self.t1)))
        XCTAssertNil(next.topic(named: "a"))
        XCTAssertNil(next.topic(id: Self.t1))
        // The name is free again.
        try next.apply(.topic(.init(topicId: Self.t2, name: "a")))
        XCTAssertEqual(next.topic(named: "a")?.id, Self.t2)
    }

    func testContradictionsAreRefusedAndLeaveTheImageUnchanged() throws {
        let image = try Self.base()
        let bad: [(MetadataRecord, MetadataImageError.Code, String)] = [
            (.clusterId("other"), .clusterIdMismatch, "cluster id other after c1"),
            (Self.register(2, epoch: 2), .staleEpoch, "not newer than 2"),
            (.brokerFencing(.init(nodeId: 9, brokerEpoch: 1, fenced: true)), .unknownEntity, "unregistered broker 9"),
            (.brokerFencing(.init(nodeId: 2, brokerEpoch: 1, fenced: true)), .staleEpoch, "registered epoch is 2"),
            (.topic(.init(topicId: Self.t2, name: "a")), .duplicate, "topic a already exists"),
            (.topic(.init(topicId: Self.t1, name: "b")), .duplicate, "already belongs to a"),
            (.topic(.init(topicId: .zero, name: "b")), .invalid, "zero id"),
            (
                .partition(.init(topicId: Self.t2, partition: 0, replicas: [1], isr: [1], leader: 1)), .unknownEntity,
                "unknown topic id"
            ),
            (
                .partition(.init(topicId: Self.t1, partition: 0, replicas: [1], isr: [1], leader: 1)), .duplicate,
                "a-0 already exists"
            ),
            (
                .partition(.init(topicId: Self.t1, partition: 2, replicas: [1, 1], isr: [1], leader: 1)), .invalid,
                "repeat"
            ),
            (
                .partition(.init(topicId: Self.t1, partition: 2, replicas: [1, 7], isr: [1], leader: 1)),
                .unknownEntity,
                "replica 7"
            ),
            (
                .partition(.init(topicId: Self.t1, partition: 2, replicas: [1, 2], isr: [1, 3], leader: 1)), .invalid,
                "not within replicas"
            ),
            (
                .partition(.init(topicId: Self.t1, partition: 2, replicas: [1, 2], isr: [1], leader: 2)), .invalid,
                "leader 2 is not in ISR"
            ),
            (
                .partitionChange(
                    .init(
                        topicId: Self.t1, partition: 0, leader: 2, isr: [1, 2], leaderEpoch: 1,
                        partitionEpoch: 0)), .staleEpoch, "must follow 0"
            ),
            (
                .partitionChange(
                    .init(
                        topicId: Self.t1, partition: 0, leader: 2, isr: [1, 2], leaderEpoch: 0,
                        partitionEpoch: 1)), .staleEpoch, "new leader needs exactly the next epoch"
            ),
            (
                .partitionChange(
                    .init(
                        topicId: Self.t1, partition: 0, leader: 1, isr: [1], leaderEpoch: 1,
                        partitionEpoch: 1)), .staleEpoch, "same leader keeps its epoch"
            ),
            (
                .partitionChange(
                    .init(
                        topicId: Self.t1, partition: 0, leader: 1, isr: [], leaderEpoch: 0,
                        partitionEpoch: 1)), .invalid, "is empty"
            ),
            (
                .partitionChange(
                    .init(
                        topicId: Self.t1, partition: 5, leader: 1, isr: [1], leaderEpoch: 0,
                        partitionEpoch: 1)), .unknownEntity, "unknown partition a-5"
            ),
            (
                .config(.init(resourceType: .topic, resourceName: "zz", key: "k", value: "v")), .unknownEntity,
                "unknown topic zz"
            ),
            (.removeTopic(.init(topicId: Self.t2)), .unknownEntity, "unknown topic id"),
        ]
        for (record, code, text) in bad {
            var copy = image
            XCTAssertThrowsError(try copy.apply(record), "\(record)") {
                guard let error = $0 as? MetadataImageError else { return XCTFail("\($0)") }
                XCTAssertEqual(error.code, code, "\(record): \(error)")
                XCTAssertTrue(error.message.contains(text), "\(record): \(error)")
            }
            XCTAssertEqual(copy, image, "\(record) changed the image")
        }
    }

    func testBatchApplyStopsAtTheFirstBadRecordWithoutChangingTheOriginal() throws {
        let image = try Self.base()
        XCTAssertThrowsError(
            try image.applying([.topic(.init(topicId: Self.t2, name: "b")), .topic(.init(topicId: Self.t2, name: "c"))])
        )
        XCTAssertNil(image.topic(named: "b"))
    }

    func testNewerRegistrationReplacesTheOlder() throws {
        var image = try Self.base()
        try image.apply(Self.register(2, epoch: 10, fenced: true, incarnation: 2))
        XCTAssertEqual(image.broker(2)?.brokerEpoch, 10)
        XCTAssertEqual(image.broker(2)?.incarnationId, MetadataUUID(high: 2, low: 2))
        XCTAssertEqual(image.broker(2)?.fenced, true)
        XCTAssertEqual(image.highestBrokerEpoch, 10)
    }
}
