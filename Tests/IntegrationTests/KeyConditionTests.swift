import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Key conditions (Produce v1, condition 2) on topics with `key.index.enable=true`, against a
/// real `ternd`: exact per key, one winner per expected offset across clients, idempotent
/// retries, the key's true last offset after compaction and after `kill -9`.
final class KeyConditionTests: BrokerTestCase {
    override class var brokerSettings: [String: String] {
        ["log.cleaner.backoff.ms": "100", "log.cleaner.dedupe.buffer.size": "4194304", "log.cleaner.threads": "1"]
    }

    private func client() async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(30)))
    }

    /// Creates `name` with the key index on (and `configs`).
    private func indexedTopic(_ name: String, partitions: Int = 1, configs: [String: String] = [:]) async throws {
        let client = try await client()
        do {
            try await client.admin.createTopic(
                name: name, partitions: partitions, configs: configs.merging(["key.index.enable": "true"]) { a, _ in a }
            )
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    private func value(_ record: Record) -> String { String(decoding: record.value ?? [], as: UTF8.self) }

    func testKeyConditionsAreExactPerKeyAndRefuseBadBatches() async throws {
        try await indexedTopic("orders")
        let port = broker.port
        func send(_ records: [TestRecord], _ condition: ProduceCondition?, appendId: [UInt8]? = nil) throws
            -> ProduceResponse.Partition
        {
            try ConditionalProduce.send(
                port: port, topic: "orders", records: ConditionalProduce.batch(records, appendId: appendId),
                condition: condition, appendId: appendId)
        }
        let created = try send([TestRecord(key: "o-1", value: "created")], .keyLastOffset(-1))
        XCTAssertEqual(created.errorCode, .none, created.errorMessage ?? "")
        XCTAssertEqual(created.baseOffset, 0)
        let other = try send([TestRecord(key: "o-2", value: "created")], .keyLastOffset(-1))
        XCTAssertEqual(other.errorCode, .none, "another key is independent")
        let again = try send([TestRecord(key: "o-1", value: "created again")], .keyLastOffset(-1))
        XCTAssertEqual(again.errorCode, .conditionFailed)
        XCTAssertEqual(again.actualOffset, 0)
        let wrong = try send([TestRecord(key: "o-1", value: "paid")], .keyLastOffset(1))
        XCTAssertEqual(wrong.errorCode, .conditionFailed, "offset 1 is o-2's")
        XCTAssertEqual(wrong.actualOffset, 0)
        let paid = try send(
            [TestRecord(key: "o-1", value: "paid"), TestRecord(key: "o-1", value: "shipped")], .keyLastOffset(0))
        XCTAssertEqual(paid.errorCode, .none, paid.errorMessage ?? "")
        XCTAssertEqual(paid.baseOffset, 2)

        let mixed = try send(
            [TestRecord(key: "o-1", value: "a"), TestRecord(key: "o-2", value: "b")], .keyLastOffset(3))
        XCTAssertEqual(mixed.errorCode, .invalidRequest)
        XCTAssertTrue(mixed.errorMessage?.contains("same key") ?? false, mixed.errorMessage ?? "")
        let keyless = try send([TestRecord(key: nil as String?, value: "a")], .keyLastOffset(-1))
        XCTAssertEqual(keyless.errorCode, .invalidRequest)
        // Compressed batches: their keys are read from the inflated records.
        let mixedGzip = try ConditionalProduce.send(
            port: port, topic: "orders",
            records: ConditionalProduce.batch(
                [TestRecord(key: "o-1", value: "a"), TestRecord(key: "o-9", value: "b")], gzip: true),
            condition: .keyLastOffset(3))
        XCTAssertEqual(mixedGzip.errorCode, .invalidRequest)
        let staleGzip = try ConditionalProduce.send(
            port: port, topic: "orders",
            records: ConditionalProduce.batch([TestRecord(key: "o-2", value: "x")], gzip: true),
            condition: .keyLastOffset(-1))
        XCTAssertEqual(staleGzip.errorCode, .conditionFailed)
        XCTAssertEqual(staleGzip.actualOffset, 1)
        let future = try send([TestRecord(key: "o-1", value: "a")], .keyLastOffset(40))
        XCTAssertEqual(future.errorCode, .offsetOutOfRange)
        XCTAssertEqual(future.actualOffset, 3)
        XCTAssertEqual(try ConditionalProduce.endOffset(port: port, topic: "orders"), 4, "nothing more appended")

        // A retry of a landed key batch is recognised even after the key moved on again.
        let id: [UInt8] = Array(repeating: 0x5A, count: 16)
        let cancel = [TestRecord(key: "o-1", value: "cancelled")]
        let landed = try send(cancel, .keyLastOffset(3), appendId: id)
        XCTAssertEqual(landed.baseOffset, 4)
        let later = try send([TestRecord(key: "o-1", value: "refunded")], .keyLastOffset(4))
        XCTAssertEqual(later.baseOffset, 5)
        let retry = try send(cancel, .keyLastOffset(3), appendId: id)
        XCTAssertEqual(retry.errorCode, .none, retry.errorMessage ?? "")
        XCTAssertEqual(retry.baseOffset, 4)
        XCTAssertEqual(
            try ConditionalProduce.records(port: port, topic: "orders").map(value),
            ["created", "created", "paid", "shipped", "cancelled", "refunded"])
    }

    /// A key condition for a partition the topic does not have is refused with a clear error,
    /// through the wire and through the SDK, and appends nothing anywhere.
    func testKeyConditionOnAnUnknownPartitionIsRefused() async throws {
        try await indexedTopic("orders", partitions: 2)
        let port = broker.port
        let batch = ConditionalProduce.batch([TestRecord(key: "o-1", value: "created")])
        for condition: ProduceCondition in [.keyLastOffset(-1), .keyLastOffset(0)] {
            let answer = try ConditionalProduce.send(
                port: port, topic: "orders", partition: 7, records: batch, condition: condition)
            XCTAssertEqual(answer.errorCode, .unknownTopicOrPartition, "\(condition)")
        }
        let client = try await client()
        let producer = client.producer()
        do {
            try await producer.send(
                topic: "orders", key: Array("o-1".utf8), value: Array("created".utf8), partition: 7,
                condition: .keyAbsent)
            XCTFail("partition 7 does not exist")
        } catch let error as TernError {
            XCTAssertEqual(error.code, .invalidArgument, error.message)
            XCTAssertTrue(error.message.contains("partition 7 does not exist"), error.message)
        }
        await producer.close()
        await client.close()
        for partition: Int32 in [0, 1] {
            XCTAssertEqual(try ConditionalProduce.endOffset(port: port, topic: "orders", partition: partition), 0)
        }
    }

    /// Many clients race on one key, each appending on top of the key's offset it last saw:
    /// one winner per expected offset; the key's history is one chain with no gaps or forks.
    func testConcurrentKeyConditionsFromManyClients() async throws {
        try await indexedTopic("accounts", partitions: 2)
        let writers = 6
        let perWriter = 10
        let bootstrap = broker.bootstrap
        let wins = try await withThrowingTaskGroup(of: [(expected: Int64, offset: Int64)].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let client = try await TernClient(
                        configuration: ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(30)))
                    let producer = client.producer()
                    var seen: Int64 = -1
                    var won: [(Int64, Int64)] = []
                    for _ in 0..<10_000 where won.count < perWriter {
                        do {
                            let stored = try await producer.send(
                                topic: "accounts", key: Array("acct-1".utf8), value: Array("w\(writer)@\(seen)".utf8),
                                condition: seen < 0 ? .keyAbsent : .keyLastOffset(seen))
                            won.append((seen, stored.offset))
                            seen = stored.offset
                        } catch let error as TernError where error.code == .conditionFailed {
                            seen = try XCTUnwrap(error.actualOffset)
                        }
                    }
                    await producer.close()
                    await client.close()
                    return won
                }
            }
            var all: [(expected: Int64, offset: Int64)] = []
            for try await won in group { all += won }
            return all
        }
        let chain = wins.sorted { $0.offset < $1.offset }
        XCTAssertEqual(chain.count, writers * perWriter)
        XCTAssertEqual(chain.first?.expected, -1)
        for (previous, next) in zip(chain, chain.dropFirst()) {
            XCTAssertEqual(next.expected, previous.offset, "each win stands on the previous one")
        }
        // The key's history in the log is exactly the wins: nothing refused was appended.
        let client = try await client()
        var logged: [Int64] = []
        for try await record in client.records(topic: "accounts", key: "acct-1") { logged.append(record.offset) }
        await client.close()
        XCTAssertEqual(logged, chain.map(\.offset))
    }

    /// Compaction removes superseded records of the key; conditions still use its true last offset.
    func testKeyConditionsAfterCompaction() async throws {
        try await indexedTopic(
            "table",
            configs: ["cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0"])
        let port = broker.port
        var last: Int64 = -1
        for i in 0..<200 {
            let key = i % 4 == 0 ? "hot" : "cold-\(i % 7)"
            let condition: ProduceCondition = key == "hot" ? .keyLastOffset(last) : .endOffset(Int64(i))
            let answer = try ConditionalProduce.send(
                port: port, topic: "table", records: ConditionalProduce.batch([TestRecord(key: key, value: "v\(i)")]),
                condition: condition)
            XCTAssertEqual(answer.errorCode, .none, answer.errorMessage ?? "")
            if key == "hot" { last = answer.baseOffset }
        }
        // Wait (bounded) until the cleaner removed some superseded "hot" records.
        let deadline = Date().addingTimeInterval(90)
        var retained: [Int64] = []
        repeat {
            retained = try ConditionalProduce.records(port: port, topic: "table").filter { $0.key == Array("hot".utf8) }
                .map(\.offset)
            if retained.count < 50 { break }
            usleep(200_000)
        } while Date() < deadline
        XCTAssertLessThan(retained.count, 50, "the cleaner removed superseded records: \(broker.log)")
        XCTAssertEqual(retained.last, last, "the key's latest record is retained")
        // Reads by key (FetchKey through the index, and `tern consume --key`) return exactly the
        // retained records; plain fetches are the reference. A cleaner pass can only remove
        // records, so when the plain reads before and after the key read agree, none ran between.
        let client = try await client()
        var byKey: [Int64] = []
        var reference: [Int64] = []
        for _ in 0..<50 {
            let before = try ConditionalProduce.records(port: port, topic: "table")
                .filter { $0.key == Array("hot".utf8) }.map(\.offset)
            byKey = []
            for try await record in client.records(topic: "table", key: "hot") { byKey.append(record.offset) }
            reference = try ConditionalProduce.records(port: port, topic: "table")
                .filter { $0.key == Array("hot".utf8) }.map(\.offset)
            if before == reference { break }
        }
        await client.close()
        XCTAssertEqual(byKey, reference, "FetchKey returns the retained records of the key")
        XCTAssertEqual(byKey.last, last)
        let printed = try runCommand(
            Binaries.path("tern"),
            ["consume", "table", "--key", "hot", "--print-offset", "--bootstrap", broker.bootstrap], timeout: 60)
        XCTAssertEqual(printed.status, 0, printed.stderr)
        let printedOffsets = printed.stdout.split(separator: "\n").compactMap {
            $0.split(separator: "\t").first?.split(separator: ":").last.flatMap { Int64($0) }
        }
        XCTAssertEqual(printedOffsets.last, last)
        XCTAssertTrue(Set(printedOffsets).isSubset(of: Set(byKey)), "tern consume --key prints only retained records")
        let stale = try ConditionalProduce.send(
            port: port, topic: "table", records: ConditionalProduce.batch([TestRecord(key: "hot", value: "stale")]),
            condition: .keyLastOffset(last - 4))
        XCTAssertEqual(stale.errorCode, .conditionFailed)
        XCTAssertEqual(stale.actualOffset, last)
        let fresh = try ConditionalProduce.send(
            port: port, topic: "table", records: ConditionalProduce.batch([TestRecord(key: "hot", value: "fresh")]),
            condition: .keyLastOffset(last))
        XCTAssertEqual(fresh.errorCode, .none, fresh.errorMessage ?? "")
    }

    /// `kill -9` during key-conditional appends: after the restart the key's last offset comes
    /// from the recovered log, so a condition that held before an acknowledged append fails.
    func testKeyConditionsAfterKill9() async throws {
        try await indexedTopic("crash")
        let bootstrap = broker.bootstrap
        let acknowledged = Mutex<[Int64]>([])
        let writer = Task {
            let client = try await TernClient(
                configuration: ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(5)))
            let producer = client.producer(configuration: ProducerConfiguration(deliveryTimeout: .seconds(3)))
            var seen: Int64 = -1
            for i in 0..<100_000 {
                do {
                    let stored = try await producer.send(
                        topic: "crash", key: Array("k".utf8), value: Array("\(i)".utf8),
                        condition: seen < 0 ? .keyAbsent : .keyLastOffset(seen))
                    acknowledged.withLock { $0.append(stored.offset) }
                    seen = stored.offset
                } catch let error as TernError where error.code == .conditionFailed {
                    seen = error.actualOffset ?? seen
                } catch {
                    break
                }
            }
            await client.close()
        }
        let deadline = Date().addingTimeInterval(60)
        while acknowledged.withLock({ $0.count }) < 30 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        broker.kill9()
        _ = await writer.result
        let acked = acknowledged.withLock { $0 }
        let lastAcked = try XCTUnwrap(acked.last)
        broker = try BrokerProcess(
            dataDirectory: broker.dataDirectory, port: broker.port, settings: Self.brokerSettings)
        let port = broker.port
        let end = try ConditionalProduce.endOffset(port: port, topic: "crash")
        XCTAssertGreaterThan(end, lastAcked)
        let previous = acked.count >= 2 ? acked[acked.count - 2] : -1
        let stale = try ConditionalProduce.send(
            port: port, topic: "crash", records: ConditionalProduce.batch([TestRecord(key: "k", value: "stale")]),
            condition: .keyLastOffset(previous))
        XCTAssertEqual(stale.errorCode, .conditionFailed)
        XCTAssertEqual(stale.actualOffset, end - 1, "the key's last offset is the recovered log's last record")
        let fresh = try ConditionalProduce.send(
            port: port, topic: "crash", records: ConditionalProduce.batch([TestRecord(key: "k", value: "fresh")]),
            condition: .keyLastOffset(end - 1))
        XCTAssertEqual(fresh.errorCode, .none, fresh.errorMessage ?? "")
    }

    func testCLIKeyConditionExitsThreeOnConflict() async throws {
        try await indexedTopic("cli")
        func tern(_ arguments: [String], stdin: String) throws -> CommandResult {
            try runCommand(
                Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin, timeout: 60)
        }
        let ok = try tern(["produce", "cli", "--key-separator", ":", "--if-key-offset", "-1"], stdin: "a:1\na:2\n")
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let conflict = try tern(["produce", "cli", "--key-separator", ":", "--if-key-offset", "-1"], stdin: "a:3\n")
        XCTAssertEqual(conflict.status, 3, conflict.stderr)
        XCTAssertTrue(conflict.stderr.contains("tern: error: condition failed:"), conflict.stderr)
        XCTAssertTrue(conflict.stderr.contains("actual offset 1"), conflict.stderr)
        let next = try tern(["produce", "cli", "--key-separator", ":", "--if-key-offset", "1"], stdin: "a:3\n")
        XCTAssertEqual(next.status, 0, next.stderr)
        let mixed = try tern(["produce", "cli", "--key-separator", ":", "--if-key-offset", "2"], stdin: "a:4\nb:5\n")
        XCTAssertEqual(mixed.status, 1, mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("same key"), mixed.stderr)
    }
}
