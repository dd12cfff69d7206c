import Foundation
import TernTestSupport
import TernWire
import XCTest

/// The upgrade from a single-node data directory: its `__tern_topics.json` and partition logs
/// are imported into the metadata log on first start, once; nothing is lost.
final class TopicImportTests: XCTestCase {
    var directory: TemporaryDirectory!
    var data: String { directory.path + "/data" }

    override func setUp() { directory = TemporaryDirectory("tern-topic-import") }
    override func tearDown() { directory?.remove() }

    private func tern(_ broker: BrokerProcess, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin, timeout: 60)
    }

    /// Turns `data` into what a single-node broker of the previous version left: partition
    /// directories and `__tern_topics.json` (version 1, the topics' name, id, partition count,
    /// replication factor and configs), with no metadata log, `meta.properties` or local store.
    /// One id is rewritten the way that broker sometimes wrote ids (a half without its leading
    /// zeros: fewer than 32 digits).
    private func makeLegacy(shortIdFor shortId: String) throws {
        let local = data + "/__tern_local_topics.json"
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: local)))
        let topics = try XCTUnwrap((parsed as? [String: Any])?["topics"] as? [[String: Any]])
        let legacy: [[String: Any]] = topics.map { topic in
            var kept = topic.filter {
                ["name", "id", "partitionCount", "replicationFactor", "configs"].contains($0.key)
            }
            if topic["name"] as? String == shortId { kept["id"] = "abc123" }
            return kept
        }
        let bytes = try JSONSerialization.data(
            withJSONObject: ["version": 1, "topics": legacy], options: [.prettyPrinted, .sortedKeys])
        try bytes.write(to: URL(fileURLWithPath: data + "/__tern_topics.json"))
        for leftover in ["__tern_local_topics.json", "__cluster_metadata-0", "meta.properties"] {
            try FileManager.default.removeItem(atPath: data + "/" + leftover)
        }
    }

    private func assertEverythingIsThere(_ broker: BrokerProcess, line: UInt = #line) throws {
        let listed = try tern(broker, ["topic", "list"])
        XCTAssertEqual(listed.status, 0, listed.stderr, line: line)
        for name in ["orders", "plain", "short-id"] {
            XCTAssertTrue(listed.stdout.contains(name), "\(name) missing: \(listed.stdout)", line: line)
        }
        let described = try tern(broker, ["topic", "describe", "orders"])
        XCTAssertEqual(described.status, 0, described.stderr, line: line)
        XCTAssertTrue(described.stdout.contains("retention.ms"), described.stdout, line: line)
        XCTAssertTrue(described.stdout.contains("3600000"), described.stdout, line: line)
        for (topic, partition, expected) in [
            ("orders", "2", "o1\no2\n"), ("plain", "0", "p1\n"), ("short-id", "0", "s1\n"),
        ] {
            let consumed = try tern(
                broker,
                [
                    "consume", topic, "--partition", partition, "--from-beginning", "--max-messages",
                    "\(expected.split(separator: "\n").count)", "--timeout-ms", "10000",
                ])
            XCTAssertEqual(consumed.stdout, expected, "\(topic): \(consumed.stderr)", line: line)
        }
        // The group's committed offsets (in the imported __consumer_offsets) survived too.
        let groups = try tern(broker, ["group", "describe", "g"])
        XCTAssertEqual(groups.status, 0, groups.stderr, line: line)
        XCTAssertTrue(groups.stdout.contains("plain"), groups.stdout, line: line)
    }

    func testLegacyDataDirectoryIsImportedOnceWithNothingLost() throws {
        var broker = try BrokerProcess(dataDirectory: data)
        for arguments in [
            ["topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000"],
            ["topic", "create", "plain", "--partitions", "1"], ["topic", "create", "short-id", "--partitions", "1"],
        ] {
            let created = try tern(broker, arguments)
            XCTAssertEqual(created.status, 0, created.stderr)
        }
        XCTAssertEqual(
            try tern(broker, ["produce", "orders", "--partition", "2", "--acks", "all"], stdin: "o1\no2\n").status, 0)
        XCTAssertEqual(try tern(broker, ["produce", "plain", "--acks", "all"], stdin: "p1\n").status, 0)
        XCTAssertEqual(try tern(broker, ["produce", "short-id", "--acks", "all"], stdin: "s1\n").status, 0)
        let consumed = try tern(
            broker,
            ["consume", "plain", "--group", "g", "--from-beginning", "--max-messages", "1", "--timeout-ms", "20000"])
        XCTAssertEqual(consumed.stdout, "p1\n", consumed.stderr)
        XCTAssertEqual(broker.stop(), 0, broker.log)
        try makeLegacy(shortIdFor: "short-id")

        // First start: imported (the ids kept), the file renamed.
        broker = try BrokerProcess(dataDirectory: data, port: broker.port)
        try assertEverythingIsThere(broker)
        XCTAssertFalse(FileManager.default.fileExists(atPath: data + "/__tern_topics.json"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: data + "/__tern_topics.json.imported"))
        XCTAssertTrue(broker.log.contains("imported the single-node topic metadata"), broker.log)
        let id = try XCTUnwrap(
            String(contentsOfFile: data + "/__tern_local_topics.json", encoding: .utf8)
                .components(separatedBy: "\n").first { $0.contains("0000000000abc123") })
        XCTAssertFalse(id.isEmpty)
        XCTAssertEqual(broker.stop(), 0, broker.log)

        // Restart: still there, nothing imported again.
        broker = try BrokerProcess(dataDirectory: data, port: broker.port)
        defer { broker.stop() }
        try assertEverythingIsThere(broker)
        XCTAssertFalse(broker.log.contains("imported the single-node topic metadata"), broker.log)
        XCTAssertEqual(broker.stop(), 0, broker.log)
    }

    /// A crash after the import committed but before the file was renamed: the next start finds
    /// the topics in the metadata log already and only renames the file (nothing twice).
    func testImportInterruptedBeforeTheRenameIsNotRepeated() throws {
        var broker = try BrokerProcess(dataDirectory: data)
        XCTAssertEqual(try tern(broker, ["topic", "create", "plain", "--partitions", "1"]).status, 0)
        XCTAssertEqual(try tern(broker, ["produce", "plain", "--acks", "all"], stdin: "p1\n").status, 0)
        XCTAssertEqual(broker.stop(), 0, broker.log)
        try makeLegacy(shortIdFor: "none")
        let legacy = try Data(contentsOf: URL(fileURLWithPath: data + "/__tern_topics.json"))

        broker = try BrokerProcess(dataDirectory: data, port: broker.port)
        XCTAssertEqual(broker.stop(), 0, broker.log)
        // As if the rename had not happened.
        try FileManager.default.removeItem(atPath: data + "/__tern_topics.json.imported")
        try legacy.write(to: URL(fileURLWithPath: data + "/__tern_topics.json"))

        broker = try BrokerProcess(dataDirectory: data, port: broker.port)
        defer { broker.stop() }
        XCTAssertFalse(broker.log.contains("committed the import"), broker.log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: data + "/__tern_topics.json.imported"))
        let consumed = try tern(
            broker, ["consume", "plain", "--from-beginning", "--max-messages", "1", "--timeout-ms", "10000"])
        XCTAssertEqual(consumed.stdout, "p1\n", consumed.stderr)
        XCTAssertFalse(broker.log.contains("metadata entry refused"), broker.log)
    }
}
