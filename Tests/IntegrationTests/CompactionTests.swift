import Foundation
import TernClient
import TernTestSupport
import XCTest

/// `cleanup.policy=compact` topics on a real broker: the cleaner threads reduce them to the
/// latest record per key (plus the active segment), remove tombstones after
/// `delete.retention.ms`, and compacted topics refuse records without a key.
final class CompactionTests: BrokerTestCase {
    override class var brokerSettings: [String: String] {
        ["log.cleaner.backoff.ms": "100", "log.cleaner.dedupe.buffer.size": "4194304", "log.cleaner.threads": "2"]
    }

    private func run(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin)
    }

    private var dataDirectory: String { directory.path + "/data" }

    /// The base offset of the partition's newest segment file.
    private func activeBase(_ topic: String) throws -> Int64 {
        try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/\(topic)-0")
            .filter { $0.hasSuffix(".log") }.compactMap { Int64($0.dropLast(4)) }.max() ?? -1
    }

    /// The partition's offset in the broker's cleaner checkpoint file, or -1.
    private func cleanerCheckpoint(_ topic: String) -> Int64 {
        let text = (try? String(contentsOfFile: dataDirectory + "/cleaner-offset-checkpoint", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 3, fields[0] == topic, fields[1] == "0" { return Int64(fields[2]) ?? -1 }
        }
        return -1
    }

    func testAThousandKeysWithAHundredVersionsEachCompactToTheLatestValuePerKey() throws {
        let created = try run([
            "topic", "create", "table", "--partitions", "1", "--config", "cleanup.policy=compact",
            "--config", "segment.bytes=65536", "--config", "min.cleanable.dirty.ratio=0.01",
        ])
        XCTAssertEqual(created.status, 0, created.stderr)
        var lines: [String] = []
        lines.reserveCapacity(100_000)
        for version in 0..<100 { for key in 0..<1000 { lines.append("key-\(key),v\(version)-\(key)") } }
        let produced = try run(["produce", "table", "--key-separator", ","], stdin: lines.joined(separator: "\n"))
        XCTAssertEqual(produced.status, 0, produced.stderr)

        // The cleaner catches up with everything below the active segment.
        let active = try activeBase("table")
        XCTAssertGreaterThan(active, 0)
        let deadline = Date().addingTimeInterval(120)
        while cleanerCheckpoint("table") < active && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(cleanerCheckpoint("table"), active, broker.log)
        // Cleaned segments were merged (the latest record of 1,000 keys fits one segment.bytes)
        // and none was left behind empty.
        let segmentFiles = try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/table-0")
            .filter { $0.hasSuffix(".log") }.sorted()
        let cleanedSizes = try segmentFiles.filter { Int64($0.dropLast(4)) != active }.map {
            try XCTUnwrap(
                FileManager.default.attributesOfItem(atPath: dataDirectory + "/table-0/" + $0)[.size] as? NSNumber
            )
            .intValue
        }
        XCTAssertFalse(cleanedSizes.contains(0), "an empty segment was left behind: \(segmentFiles) \(cleanedSizes)")
        XCTAssertLessThanOrEqual(cleanedSizes.count, 2, "cleaned segments were merged: \(segmentFiles)")

        let consumed = try run([
            "consume", "table", "--from-beginning", "--print-key", "--print-offset", "--timeout-ms", "3000",
        ])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        var offsets: [Int64] = []
        var latest: [String: String] = [:]
        var keysBelowActive = Set<String>()
        var belowActive = 0
        for line in consumed.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertEqual(fields.count, 3, String(line))
            guard fields.count == 3, let offset = Int64(fields[0].split(separator: ":").last ?? "") else { continue }
            offsets.append(offset)
            latest[String(fields[1])] = String(fields[2])
            if offset < active {
                belowActive += 1
                XCTAssertTrue(keysBelowActive.insert(String(fields[1])).inserted, "key \(fields[1]) twice below the active segment")
            }
        }
        let activeRecords = offsets.count - belowActive
        XCTAssertLessThanOrEqual(offsets.count, activeRecords + 1000, "at most the active segment plus one record per key")
        XCTAssertLessThan(offsets.count, 20_000, "the topic was compacted")
        XCTAssertEqual(offsets, offsets.sorted(), "offsets in order")
        XCTAssertEqual(Set(offsets).count, offsets.count, "no offset twice")
        XCTAssertEqual(offsets.last, 99_999, "the newest record is kept")
        XCTAssertEqual(latest.count, 1000, "every key is still there")
        for key in 0..<1000 { XCTAssertEqual(latest["key-\(key)"], "v99-\(key)", "key-\(key)") }

        // `topic describe` shows the policy, the size on disk and when the partition was last cleaned.
        let described = try run(["topic", "describe", "table", "--json"])
        XCTAssertEqual(described.status, 0, described.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["cleanupPolicy"] as? String, "compact")
        let partition = (object?["partitions"] as? [[String: Any]])?.first
        XCTAssertEqual(partition?["logStartOffset"] as? Int, 0)
        XCTAssertGreaterThan(partition?["lastCleanedMs"] as? Int ?? -1, 1_700_000_000_000)
        XCTAssertEqual(partition?["firstDirtyOffset"] as? Int, Int(active))
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/table-0")
            .filter { $0.hasSuffix(".log") }.reduce(0) {
                $0 + ((try? FileManager.default.attributesOfItem(atPath: dataDirectory + "/table-0/" + $1)[.size] as? NSNumber)?.intValue ?? 0)
            }
        XCTAssertEqual(partition?["sizeBytes"] as? Int, onDisk)
        let table = try run(["topic", "describe", "table"])
        XCTAssertTrue(table.stdout.contains("Cleanup-policy: compact"), table.stdout)
        XCTAssertTrue(table.stdout.contains("LAST-CLEANED"), table.stdout)

        // Compacted topics refuse records without a key.
        let keyless = try run(["produce", "table"], stdin: "no key here")
        XCTAssertNotEqual(keyless.status, 0)
        XCTAssertTrue(keyless.stderr.contains("INVALID_RECORD"), keyless.stderr)
    }

    func testTombstonedKeysDisappearAfterDeleteRetention() async throws {
        let client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(10)))
        try await client.admin.createTopic(
            name: "states", partitions: 1,
            configs: [
                "cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0.01",
                "delete.retention.ms": "1000",
            ])
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all, linger: .zero))
        for version in 0..<3 {
            for key in 0..<50 {
                try await producer.send(topic: "states", key: Array("key-\(key)".utf8), value: Array("v\(version)".utf8))
            }
        }
        for key in 0..<10 { try await producer.send(topic: "states", key: Array("key-\(key)".utf8), value: nil) }
        // Later writes push the tombstones out of the active segment.
        for i in 0..<300 {
            try await producer.send(topic: "states", key: Array("filler-\(i % 5)".utf8), value: Array("f\(i)".utf8))
        }
        try await producer.flush()
        await producer.close()

        let deadline = ContinuousClock.now + .seconds(90)
        var records: [ConsumerRecord] = []
        repeat {
            records = try await readToEnd(client, topic: "states")
            let tombstoned = records.contains { record in
                guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) else { return false }
                return (0..<10).contains { key == "key-\($0)" }
            }
            if !tombstoned { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        let byKey = Dictionary(
            records.map { (String(decoding: $0.key ?? [], as: UTF8.self), $0.value.map { String(decoding: $0, as: UTF8.self) }) },
            uniquingKeysWith: { $1 })
        for key in 0..<10 { XCTAssertFalse(byKey.keys.contains("key-\(key)"), "key-\(key) is gone, tombstone included") }
        for key in 10..<50 { XCTAssertEqual(byKey["key-\(key)"], "v2", "key-\(key) keeps its latest value") }
        XCTAssertEqual(records.map(\.offset), records.map(\.offset).sorted())
        await client.close()
    }

    /// Every record from the log start to the current end (the last offset is never compacted away).
    private func readToEnd(_ client: TernClient, topic: String) async throws -> [ConsumerRecord] {
        let description = try await client.admin.describeTopic(name: topic)
        let end = description.partitions.first?.logEndOffset ?? 0
        let consumer = client.consumer()
        try await consumer.assign(topic: topic)
        try await consumer.seekToBeginning()
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while (records.last?.offset ?? -1) < end - 1 && ContinuousClock.now < deadline {
            records += try await consumer.poll(timeout: .seconds(1))
        }
        await consumer.close()
        return records
    }
}
