import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// One key's history through the key index of a real `ternd`: the SDK's `records(topic:key:from:)`
/// and `tern consume --key`, checked against a full scan of the partition, before and after the
/// broker is killed with SIGKILL in the middle of appends to that key.
final class KeyIndexTests: XCTestCase {
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-keyindex") }
    override func tearDown() { directory.remove() }

    private func client(_ broker: BrokerProcess) async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(10)))
    }

    private func tern(_ broker: BrokerProcess, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(
            Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin, timeout: 180)
    }

    /// `key`'s records read through the index.
    private func history(_ client: TernClient, _ topic: String, _ key: String, from: Int64 = 0) async throws
        -> [ConsumerRecord]
    {
        var records: [ConsumerRecord] = []
        for try await record in client.records(topic: topic, key: key, from: from, maxBytes: 4096) {
            records.append(record)
        }
        return records
    }

    /// `key`'s records found by reading its whole partition.
    private func scan(_ client: TernClient, _ topic: String, _ key: String) async throws -> [ConsumerRecord] {
        let count = try await client.partitionCount(topic: topic)
        let partition = Murmur2.partition(forKey: Array(key.utf8), partitionCount: Int32(count))
        let description = try await client.admin.describeTopic(name: topic)
        let end = try XCTUnwrap(description.partitions.first { $0.partition == partition }).logEndOffset
        let consumer = client.consumer()
        try await consumer.assign([TopicPartition(topic: topic, partition: partition)])
        try await consumer.seekToBeginning()
        var records: [ConsumerRecord] = []
        var last: Int64 = -1
        let deadline = ContinuousClock.now + .seconds(120)
        while last + 1 < end && ContinuousClock.now < deadline {
            for record in try await consumer.poll(timeout: .seconds(1)) {
                last = record.offset
                if record.key.map({ Array($0) }) == Array(key.utf8) { records.append(record) }
            }
        }
        await consumer.close()
        XCTAssertEqual(last + 1, end, "the scan reached the end of the partition")
        return records
    }

    private func values(_ records: [ConsumerRecord]) -> [String] {
        records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
    }

    func testKeyHistoryMatchesAFullScanAcrossKill9() async throws {
        let data = directory.path + "/data"
        var broker = try BrokerProcess(dataDirectory: data)
        defer { broker.stop() }
        let created = try tern(
            broker,
            [
                "topic", "create", "accounts", "--partitions", "3", "--config", "key.index.enable=true",
                "--config", "segment.bytes=32768",
            ])
        XCTAssertEqual(created.status, 0, created.stderr)
        let count = 12_000
        let lines = (0..<count).map { "acct-\($0 % 40)\tevent-\($0)" }.joined(separator: "\n")
        let produced = try tern(broker, ["produce", "accounts", "--key-separator", "\t"], stdin: lines)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let expected = (0..<count).filter { $0 % 40 == 7 }.map { "event-\($0)" }

        var client = try await client(broker)
        let before = try await history(client, "accounts", "acct-7")
        XCTAssertEqual(values(before), expected)
        XCTAssertEqual(before.map(\.offset), before.map(\.offset).sorted())
        let scannedBefore = try await scan(client, "accounts", "acct-7")
        XCTAssertEqual(values(scannedBefore), expected)
        // From an offset in the middle: only what follows it.
        let middle = before[before.count / 2].offset
        let tail = try await history(client, "accounts", "acct-7", from: middle)
        XCTAssertEqual(tail.map(\.offset), before.map(\.offset).filter { $0 >= middle })

        // Appends to the key, acknowledged one by one (acks=all: fsynced), cut by SIGKILL.
        let acked = Mutex<[String]>([])
        let producer = client.producer(
            configuration: ProducerConfiguration(
                acks: .all, linger: .zero, retries: 0, deliveryTimeout: .seconds(5), requestTimeout: .seconds(5)))
        let writer = Task {
            for j in 0..<100_000 {
                let value = "late-\(j)"
                do {
                    _ = try await producer.send(topic: "accounts", key: Array("acct-7".utf8), value: Array(value.utf8))
                } catch {
                    return
                }
                acked.withLock { $0.append(value) }
            }
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while acked.withLock({ $0.count }) < 300 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        broker.kill9()
        await writer.value
        await producer.close()
        await client.close()
        let confirmed = acked.withLock { $0 }
        XCTAssertGreaterThanOrEqual(confirmed.count, 300)

        broker = try BrokerProcess(dataDirectory: data, port: broker.port)
        client = try await self.client(broker)
        let after = try await history(client, "accounts", "acct-7")
        let afterValues = values(after)
        // Everything acknowledged is there, in order; at most the one append in flight follows.
        XCTAssertEqual(Array(afterValues.prefix(expected.count + confirmed.count)), expected + confirmed)
        XCTAssertLessThanOrEqual(afterValues.count, expected.count + confirmed.count + 1)
        let scanned = try await scan(client, "accounts", "acct-7")
        XCTAssertEqual(after.map(\.offset), scanned.map(\.offset), "the index finds exactly what a scan finds")
        XCTAssertEqual(afterValues, values(scanned))
        // Another key is untouched by the crash.
        let other = try await history(client, "accounts", "acct-8")
        XCTAssertEqual(values(other), (0..<count).filter { $0 % 40 == 8 }.map { "event-\($0)" })

        // The CLI prints the same history.
        let printed = try tern(broker, ["consume", "accounts", "--key", "acct-7", "--print-offset"])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        let partition = after.first?.partition ?? -1
        XCTAssertEqual(
            printed.stdout.split(separator: "\n").map(String.init),
            zip(after.map(\.offset), afterValues).map { "\(partition):\($0.0)\t\($0.1)" })
        await client.close()
    }

    func testClearErrorsForAnUnindexedTopicAndBadOffsets() async throws {
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data")
        defer { broker.stop() }
        let client = try await client(broker)
        try await client.admin.createTopic(name: "plain", partitions: 1)
        try await client.admin.createTopic(name: "indexed", partitions: 1, configs: ["key.index.enable": "true"])
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        for topic in ["plain", "indexed"] {
            _ = try await producer.send(topic: topic, key: Array("k".utf8), value: Array("v".utf8))
        }
        await producer.close()

        do {
            _ = try await history(client, "plain", "k")
            XCTFail("an unindexed topic cannot answer")
        } catch let error as TernError {
            XCTAssertEqual(error.brokerError, .keyIndexDisabled, error.message)
        }
        do {
            _ = try await history(client, "indexed", "k", from: -1)
            XCTFail("a negative offset is refused")
        } catch let error as TernError {
            XCTAssertEqual(error.brokerError, .offsetOutOfRange, error.message)
        }
        do {
            _ = try await history(client, "missing", "k")
            XCTFail("no such topic")
        } catch let error as TernError {
            XCTAssertEqual(error.code, .unknownTopic, error.message)
        }
        let found = try await history(client, "indexed", "k")
        XCTAssertEqual(values(found), ["v"])
        let none = try await history(client, "indexed", "other")
        XCTAssertEqual(none.count, 0)

        let refused = try tern(broker, ["consume", "plain", "--key", "k"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("KEY_INDEX_DISABLED"), refused.stderr)

        // Enabled on a topic that holds data: the index is built from its log.
        let altered = try tern(broker, ["topic", "alter", "plain", "--config", "key.index.enable=true"])
        XCTAssertEqual(altered.status, 0, altered.stderr)
        let enabled = try await history(client, "plain", "k")
        XCTAssertEqual(values(enabled), ["v"])

        // Its memory is reported.
        let metrics = try httpGet(port: broker.adminPort ?? 0, "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertGreaterThan(try PrometheusText(metrics.text).value("tern_log_key_index_memory_bytes") ?? 0, 0)
        await client.close()
    }

    func testCompactedKeyIndexedTopicReturnsTheRetainedRecordsAndTheTrueLastOne() async throws {
        let data = directory.path + "/data"
        let broker = try BrokerProcess(
            dataDirectory: data,
            settings: ["log.cleaner.backoff.ms": "100", "log.cleaner.dedupe.buffer.size": "4194304"])
        defer { broker.stop() }
        let created = try tern(
            broker,
            [
                "topic", "create", "ledger", "--partitions", "1", "--config", "cleanup.policy=compact",
                "--config", "key.index.enable=true", "--config", "segment.bytes=16384",
                "--config", "min.cleanable.dirty.ratio=0.01",
            ])
        XCTAssertEqual(created.status, 0, created.stderr)
        let lines = (0..<20).flatMap { version in (0..<200).map { "acct-\($0),v\(version)-\($0)" } }
        let produced = try tern(
            broker, ["produce", "ledger", "--key-separator", ","], stdin: lines.joined(separator: "\n"))
        XCTAssertEqual(produced.status, 0, produced.stderr)

        // Wait (bounded) until the cleaner has compacted everything below the active segment.
        let partitionDirectory = data + "/ledger-0"
        let active =
            try FileManager.default.contentsOfDirectory(atPath: partitionDirectory)
            .filter { $0.hasSuffix(".log") }.compactMap { Int64($0.dropLast(4)) }.max() ?? -1
        XCTAssertGreaterThan(active, 0)
        func checkpoint() -> Int64 {
            let text = (try? String(contentsOfFile: data + "/cleaner-offset-checkpoint", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 3, fields[0] == "ledger", fields[1] == "0" { return Int64(fields[2]) ?? -1 }
            }
            return -1
        }
        let deadline = Date().addingTimeInterval(120)
        while checkpoint() < active && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        XCTAssertGreaterThanOrEqual(checkpoint(), active, broker.log)

        let client = try await client(broker)
        for key in ["acct-3", "acct-150"] {
            let history = try await history(client, "ledger", key)
            let scanned = try await scan(client, "ledger", key)
            XCTAssertEqual(history.map(\.offset), scanned.map(\.offset), "\(key): exactly what a scan finds")
            XCTAssertLessThan(history.count, 20, "\(key): compaction removed superseded records")
            XCTAssertEqual(values(history).last, "v19-\(key.dropFirst(5))", "\(key): the latest value is kept")
        }
        await client.close()
    }
}
