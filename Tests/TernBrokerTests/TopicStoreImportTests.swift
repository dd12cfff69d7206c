import Foundation
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The upgrade import: `__tern_topics.json` as written by today's single-node `ternd`, turned into
/// metadata records, rebuilds the same topics, partitions, ids and configs in a `MetadataImage`.
final class TopicStoreImportTests: XCTestCase {
    /// The image an upgraded node's first controller builds: cluster id, its own registration,
    /// then the imported topics.
    private func importedImage(_ topics: [TopicInfo], nodeId: Int32) throws -> MetadataImage {
        let registration = BrokerRegistrationRecord(
            nodeId: nodeId, incarnationId: MetadataUUID(high: 1, low: 1), brokerEpoch: 1,
            listeners: [.init(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)], roles: [.broker, .controller],
            fenced: false)
        let records = try TopicStoreImport.records(topics: topics, nodeId: nodeId)
        for record in records { XCTAssertEqual(try MetadataRecord.decode(record.encoded()), record) }
        return try MetadataImage().applying([.clusterId("c"), .registerBroker(registration)] + records)
    }

    private func assertSame(_ topics: [TopicInfo], _ image: MetadataImage, nodeId: Int32, line: UInt = #line) {
        XCTAssertEqual(image.sortedTopics.map(\.name), topics.map(\.name).sorted(), line: line)
        for topic in topics {
            guard let imported = image.topic(named: topic.name) else {
                XCTFail("\(topic.name) missing", line: line)
                continue
            }
            XCTAssertEqual(imported.id, TopicStoreImport.topicId(topic.id), topic.name, line: line)
            XCTAssertEqual(imported.configs, topic.configs, topic.name, line: line)
            XCTAssertEqual(
                imported.sortedPartitions,
                (0..<topic.partitionCount).map {
                    MetadataImage.Partition(
                        partition: $0, replicas: [nodeId], isr: [nodeId], leader: nodeId, leaderEpoch: 0,
                        partitionEpoch: 0)
                }, topic.name, line: line)
        }
    }

    func testADataDirectoryWrittenByTodaysBrokerImportsEverything() throws {
        let directory = TemporaryDirectory("tern-import")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let broker = try BrokerProcess(dataDirectory: data, settings: ["admin.listeners": ""])
        let tern = Binaries.path("tern")
        func run(_ arguments: [String], stdin: String? = nil) throws {
            let result = try runCommand(tern, ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
        }
        try run([
            "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000",
            "--config", "segment.bytes=1048576",
        ])
        try run(["topic", "create", "plain", "--partitions", "1"])
        try run(["topic", "create", "events.v2_x-y", "--partitions", "12", "--config", "cleanup.policy=compact,delete"])
        try run(["topic", "create", "gone", "--partitions", "2"])
        try run(["topic", "delete", "gone"])
        try run(["topic", "alter", "plain", "--config", "max.message.bytes=2048", "--config", "retention.bytes=99999"])
        try run(["topic", "alter", "orders", "--delete-config", "segment.bytes"])
        // A group commit creates the internal __consumer_offsets topic, which is imported too.
        try run(["produce", "plain", "--acks", "all"], stdin: "a\nb\n")
        try run([
            "consume", "plain", "--group", "g", "--from-beginning", "--max-messages", "2", "--timeout-ms", "20000",
        ])
        XCTAssertEqual(broker.stop(), 0, broker.log)

        // Read back with the broker's own loader: the topics it materialized, in the same JSON
        // shape single-node brokers wrote to `__tern_topics.json`.
        let topics = try TopicStore(directory: data, fileName: TopicStore.localFileName).all.map {
            TopicInfo(
                name: $0.name, id: $0.id, partitionCount: $0.partitionCount, replicationFactor: $0.replicationFactor,
                configs: $0.configs)
        }
        XCTAssertEqual(topics.map(\.name), ["__consumer_offsets", "events.v2_x-y", "orders", "plain"])
        XCTAssertEqual(topics.first { $0.name == "orders" }?.configs, ["retention.ms": "3600000"])
        XCTAssertEqual(
            topics.first { $0.name == "plain" }?.configs, ["max.message.bytes": "2048", "retention.bytes": "99999"])

        let image = try importedImage(topics, nodeId: 0)
        assertSame(topics, image, nodeId: 0)
        XCTAssertEqual(image.topic(named: "__consumer_offsets")?.partitions.count, 50)
        XCTAssertEqual(image.topic(named: "__consumer_offsets")?.configs["cleanup.policy"], "compact")
        // Ids the broker wrote as 32 hex digits keep their exact value.
        for topic in topics where topic.id.utf8.count == 32 {
            XCTAssertEqual(image.topic(named: topic.name)?.id.description, topic.id.lowercased())
        }
        // The same store imports to the same bytes (a replayed upgrade is identical).
        XCTAssertEqual(
            try TopicStoreImport.records(topics: topics.reversed(), nodeId: 0).map { $0.encoded() },
            try TopicStoreImport.records(topics: topics, nodeId: 0).map { $0.encoded() })
    }

    func testStoredIdsMapToUniqueNonZeroUuids() {
        XCTAssertEqual(
            TopicStoreImport.topicId("0123456789abcdeffedcba9876543210"),
            MetadataUUID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210))
        // A half with leading zeros made a shorter id: read as one number.
        XCTAssertEqual(TopicStoreImport.topicId("abc123"), MetadataUUID(high: 0, low: 0xABC123))
        XCTAssertEqual(
            TopicStoreImport.topicId("1" + String(repeating: "0", count: 30)),
            MetadataUUID(high: 0x0100_0000_0000_0000, low: 0))
        XCTAssertEqual(TopicStoreImport.topicId("ABCDEF"), TopicStoreImport.topicId("abcdef"))
        for bad in ["", "0", "00", "xyz", "12 3", "-1", String(repeating: "f", count: 33), "0x12"] {
            XCTAssertNil(TopicStoreImport.topicId(bad), bad)
        }
        // Ids drawn as the broker draws them (halves with a few leading zero digits now and then)
        // always import, and distinct draws stay distinct.
        var generator = SeededGenerator(seed: 7)
        var seen: Set<MetadataUUID> = []
        for _ in 0..<5000 {
            let high = generator.next() >> (generator.next() % 9)
            let low = generator.next() >> (generator.next() % 9)
            let text = String(high, radix: 16) + String(low, radix: 16)
            guard let id = TopicStoreImport.topicId(text) else { return XCTFail(text) }
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 5000)
    }

    func testHostileStoresAreRefusedNamingTheTopic() {
        func topic(_ name: String, id: String, partitions: Int32 = 1) -> TopicInfo {
            TopicInfo(name: name, id: id, partitionCount: partitions, replicationFactor: 1, configs: [:])
        }
        let cases: [([TopicInfo], String)] = [
            ([topic("a", id: "zz")], "topic a: id 'zz'"),
            ([topic("a", id: "0")], "topic a: id '0'"),
            ([topic("a", id: "ab"), topic("b", id: "00ab")], "topics a and b have the same id"),
            ([topic("a", id: "ab", partitions: 0)], "topic a: 0 partitions"),
            ([topic("a", id: "ab", partitions: 100_001)], "topic a: 100001 partitions"),
        ]
        for (topics, reason) in cases {
            XCTAssertThrowsError(try TopicStoreImport.records(topics: topics, nodeId: 1)) { error in
                XCTAssertTrue("\(error)".contains(reason), "'\(error)' lacks '\(reason)'")
            }
        }
        XCTAssertThrowsError(try TopicStoreImport.records(topics: [], nodeId: -1))
        XCTAssertEqual(try TopicStoreImport.records(topics: [], nodeId: 1), [])
    }

    func testImportUsesTheConfiguredNodeIdAsTheOnlyReplica() throws {
        let topics = [
            TopicInfo(name: "t", id: "ff", partitionCount: 2, replicationFactor: 1, configs: ["retention.ms": "5"])
        ]
        let image = try importedImage(topics, nodeId: 7)
        assertSame(topics, image, nodeId: 7)
        XCTAssertEqual(
            try TopicStoreImport.records(topics: topics, nodeId: 7),
            [
                .topic(.init(topicId: .init(high: 0, low: 0xFF), name: "t", configs: ["retention.ms": "5"])),
                .partition(.init(topicId: .init(high: 0, low: 0xFF), partition: 0, replicas: [7], isr: [7], leader: 7)),
                .partition(.init(topicId: .init(high: 0, low: 0xFF), partition: 1, replicas: [7], isr: [7], leader: 7)),
            ])
    }
}
