import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Conditional append (Produce v1) against a real `ternd`: the condition is checked with the
/// append, refused appends leave nothing, a retry of a landed append answers its offset, and the
/// SDK and CLI report conflicts with the actual offset.
final class ConditionalAppendTests: BrokerTestCase {
    private func client() async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(30)))
    }

    private func createTopic(_ name: String, partitions: Int = 1, configs: [String: String] = [:]) async throws {
        let client = try await client()
        try await client.admin.createTopic(name: name, partitions: partitions, configs: configs)
        await client.close()
    }

    private func value(_ record: Record) -> String { String(decoding: record.value ?? [], as: UTF8.self) }

    // MARK: End-offset condition

    func testEndOffsetConditionAppendsOnlyWhenItHolds() async throws {
        try await createTopic("orders")
        let port = broker.port
        let first = try ConditionalProduce.send(
            port: port, topic: "orders", records: ConditionalProduce.batch([TestRecord(key: "o-1", value: "created")]),
            condition: .endOffset(0))
        XCTAssertEqual(first.errorCode, .none, first.errorMessage ?? "")
        XCTAssertEqual(first.baseOffset, 0)

        // Same expectation again: the log end moved on, so this is a conflict naming the actual end.
        let stale = try ConditionalProduce.send(
            port: port, topic: "orders",
            records: ConditionalProduce.batch([
                TestRecord(key: "o-1", value: "paid"), TestRecord(key: "o-1", value: "x"),
            ]),
            condition: .endOffset(0))
        XCTAssertEqual(stale.errorCode, .conditionFailed)
        XCTAssertEqual(stale.actualOffset, 1)
        XCTAssertEqual(stale.baseOffset, -1)
        XCTAssertTrue(stale.errorMessage?.contains("actual offset 1") ?? false, stale.errorMessage ?? "")

        // A gzip batch takes the ValidationPool path; the condition is still checked at append time.
        let compressed = try ConditionalProduce.send(
            port: port, topic: "orders",
            records: ConditionalProduce.batch(
                [TestRecord(key: "o-1", value: "paid"), TestRecord(key: "o-1", value: "shipped")], gzip: true),
            condition: .endOffset(1))
        XCTAssertEqual(compressed.errorCode, .none, compressed.errorMessage ?? "")
        XCTAssertEqual(compressed.baseOffset, 1)
        let compressedStale = try ConditionalProduce.send(
            port: port, topic: "orders",
            records: ConditionalProduce.batch([TestRecord(key: "o-1", value: "lost")], gzip: true),
            condition: .endOffset(1))
        XCTAssertEqual(compressedStale.errorCode, .conditionFailed)
        XCTAssertEqual(compressedStale.actualOffset, 3)

        XCTAssertEqual(
            try ConditionalProduce.records(port: port, topic: "orders").map(value), ["created", "paid", "shipped"])
    }

    func testBadConditionsAreRefusedAndAppendNothing() async throws {
        try await createTopic("acct")
        let port = broker.port
        let records = ConditionalProduce.batch([TestRecord(key: "a", value: "v")])
        XCTAssertEqual(
            try ConditionalProduce.send(port: port, topic: "acct", records: records, condition: nil).errorCode, .none)

        let negative = try ConditionalProduce.send(
            port: port, topic: "acct", records: records, condition: .endOffset(-1))
        XCTAssertEqual(negative.errorCode, .invalidRequest)
        XCTAssertTrue(negative.errorMessage?.contains("negative") ?? false, negative.errorMessage ?? "")

        let negativeKey = try ConditionalProduce.send(
            port: port, topic: "acct", records: records, condition: .keyLastOffset(-2))
        XCTAssertEqual(negativeKey.errorCode, .invalidRequest)
        XCTAssertTrue(negativeKey.errorMessage?.contains("-1 means") ?? false, negativeKey.errorMessage ?? "")

        let future = try ConditionalProduce.send(port: port, topic: "acct", records: records, condition: .endOffset(5))
        XCTAssertEqual(future.errorCode, .offsetOutOfRange)
        XCTAssertEqual(future.actualOffset, 1)
        XCTAssertTrue(future.errorMessage?.contains("past the log end offset 1") ?? false, future.errorMessage ?? "")

        let unknown = try ConditionalProduce.send(
            port: port, topic: "acct", partition: 3, records: records, condition: .endOffset(1))
        XCTAssertEqual(unknown.errorCode, .unknownTopicOrPartition)

        let longId = try ConditionalProduce.send(
            port: port, topic: "acct", records: records, condition: .endOffset(1),
            appendId: Array(repeating: 7, count: 65))
        XCTAssertEqual(longId.errorCode, .invalidRequest)

        let noIndex = try ConditionalProduce.send(
            port: port, topic: "acct", records: records, condition: .keyLastOffset(0))
        XCTAssertEqual(noIndex.errorCode, .keyIndexDisabled)
        XCTAssertTrue(
            noIndex.errorMessage?.contains("key conditions need key.index.enable=true on the topic") ?? false,
            noIndex.errorMessage ?? "")

        let corrupt = { () -> [UInt8] in
            var bytes = records
            bytes[bytes.count - 1] ^= 0xFF
            return bytes
        }()
        let invalid = try ConditionalProduce.send(port: port, topic: "acct", records: corrupt, condition: .endOffset(1))
        XCTAssertEqual(invalid.errorCode, .corruptMessage)

        XCTAssertEqual(try ConditionalProduce.endOffset(port: port, topic: "acct"), 1, "nothing appended")
        XCTAssertEqual(try ConditionalProduce.records(port: port, topic: "acct").count, 1)
    }

    // MARK: Idempotent retries

    func testRetryOfALandedConditionalAppendAnswersItsOffset() async throws {
        try await createTopic("ledger")
        let port = broker.port
        _ = try ConditionalProduce.send(
            port: port, topic: "ledger", records: ConditionalProduce.batch([TestRecord(key: "k", value: "opened")]),
            condition: .endOffset(0))

        let appendId: [UInt8] = Array("append-0001-abcdef".utf8)
        let records = ConditionalProduce.batch(
            [TestRecord(key: "k", value: "deposit 10"), TestRecord(key: "k", value: "fee 1")], appendId: appendId)
        // Send, then close the connection without reading the answer (the answer is lost).
        do {
            let connection = try RawConnection(port: port)
            try connection.write(
                Frame.request(
                    ConditionalProduce.request(
                        topic: "ledger", records: records, condition: .endOffset(1), appendId: appendId),
                    correlationId: 9, clientId: "lost-answer"))
        }
        let deadline = Date().addingTimeInterval(30)
        while try ConditionalProduce.endOffset(port: port, topic: "ledger") < 3 {
            XCTAssertLessThan(Date(), deadline, "the first attempt never landed")
            if Date() >= deadline { return }
            usleep(20_000)
        }

        // The retry (same bytes, same id, same condition) is not a conflict: it answers the offset
        // the batch got, and appends nothing.
        let retry = try ConditionalProduce.send(
            port: port, topic: "ledger", records: records, condition: .endOffset(1), appendId: appendId)
        XCTAssertEqual(retry.errorCode, .none, retry.errorMessage ?? "")
        XCTAssertEqual(retry.baseOffset, 1)

        // Another writer's batch with the same condition but its own id is a conflict.
        let other = try ConditionalProduce.send(
            port: port, topic: "ledger",
            records: ConditionalProduce.batch([TestRecord(key: "k", value: "withdraw 5")], appendId: [1, 2, 3]),
            condition: .endOffset(1), appendId: [1, 2, 3])
        XCTAssertEqual(other.errorCode, .conditionFailed)
        XCTAssertEqual(other.actualOffset, 3)

        // Without an id a retry cannot be recognised: a conflict, as documented.
        let anonymous = try ConditionalProduce.send(
            port: port, topic: "ledger", records: records, condition: .endOffset(1))
        XCTAssertEqual(anonymous.errorCode, .conditionFailed)

        XCTAssertEqual(
            try ConditionalProduce.records(port: port, topic: "ledger").map(value), ["opened", "deposit 10", "fee 1"],
            "one copy of the retried batch")
    }

    // MARK: SDK

    func testSDKConditionalSendsAndTypedConflict() async throws {
        try await createTopic("bank", partitions: 3)
        let client = try await client()
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all, linger: .milliseconds(50)))
        let tp = Int32(1)
        let stored = try await producer.sendAtomically(
            topic: "bank",
            records: [
                ProducerRecord(key: Array("acct-7".utf8), value: Array("opened".utf8)),
                ProducerRecord(key: Array("acct-7".utf8), value: Array("deposit 100".utf8)),
            ], partition: tp, condition: .endOffset(0))
        XCTAssertEqual(stored.map(\.offset), [0, 1])
        XCTAssertEqual(stored.map(\.partition), [tp, tp])

        // A plain record sent before a conditional one (the callback send queues it before it
        // returns) is stored before it, in its own batch: endOffset(2) then no longer holds.
        let plain = Mutex<Result<RecordMetadata, TernError>?>(nil)
        producer.send(topic: "bank", key: Array("x".utf8), value: Array("plain".utf8), partition: tp) { result in
            plain.withLock { $0 = result }
        }
        do {
            try await producer.send(
                topic: "bank", key: Array("acct-7".utf8), value: Array("withdraw 500".utf8), partition: tp,
                condition: .endOffset(2))
            XCTFail("the plain record took offset 2, so endOffset(2) cannot have held")
        } catch let error as TernError {
            XCTAssertEqual(error.code, .conditionFailed, error.message)
            XCTAssertEqual(error.actualOffset, 3)
            XCTAssertEqual(error.brokerError, .conditionFailed)
        }
        try await producer.flush()
        XCTAssertEqual(try plain.withLock { $0 }?.get().offset, 2)

        let next = try await producer.send(
            topic: "bank", key: Array("acct-7".utf8), value: Array("withdraw 50".utf8), partition: tp,
            condition: .endOffset(3))
        XCTAssertEqual(next.offset, 3)

        do {
            try await producer.send(
                topic: "bank", key: Array("acct-7".utf8), value: Array("v".utf8), partition: tp, condition: .keyAbsent)
            XCTFail("key conditions are refused without a key index")
        } catch let error as TernError {
            XCTAssertEqual(error.brokerError, .keyIndexDisabled)
            XCTAssertTrue(error.message.contains("key.index.enable=true"), error.message)
        }
        await producer.close()
        await client.close()
        XCTAssertEqual(
            try ConditionalProduce.records(port: broker.port, topic: "bank", partition: tp).map(value),
            ["opened", "deposit 100", "plain", "withdraw 50"])
    }

    /// Many clients race on one partition, each appending only at the offset it last saw:
    /// exactly one append wins per offset, and the history has no gaps and no forks.
    func testConcurrentConditionalAppendsOneWinnerPerOffset() async throws {
        try await createTopic("race")
        let writers = 6
        let perWriter = 15
        let bootstrap = broker.bootstrap
        let wins = try await withThrowingTaskGroup(of: [(Int64, String)].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let client = try await TernClient(
                        configuration: ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(30)))
                    let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
                    var seen: Int64 = 0
                    var won: [(Int64, String)] = []
                    var attempts = 0
                    while won.count < perWriter && attempts < 10_000 {
                        attempts += 1
                        let value = "w\(writer)-\(won.count)@\(seen)"
                        do {
                            let metadata = try await producer.send(
                                topic: "race", key: Array("agg".utf8), value: Array(value.utf8), partition: 0,
                                condition: .endOffset(seen))
                            XCTAssertEqual(metadata.offset, seen, "a win lands exactly at the expected offset")
                            won.append((metadata.offset, value))
                            seen = metadata.offset + 1
                        } catch let error as TernError where error.code == .conditionFailed {
                            let actual = try XCTUnwrap(error.actualOffset)
                            XCTAssertGreaterThan(actual, seen, "a conflict reports an end past the expectation")
                            seen = actual
                        }
                    }
                    await producer.close()
                    await client.close()
                    return won
                }
            }
            var all: [(Int64, String)] = []
            for try await won in group { all += won }
            return all
        }
        let total = writers * perWriter
        XCTAssertEqual(wins.count, total)
        XCTAssertEqual(Set(wins.map(\.0)).count, total, "no offset was won twice")
        XCTAssertEqual(wins.map(\.0).sorted(), (0..<Int64(total)).map { $0 }, "no gaps")
        let log = try ConditionalProduce.records(port: broker.port, topic: "race")
        XCTAssertEqual(log.map(\.offset), (0..<Int64(total)).map { $0 })
        let byOffset = Dictionary(uniqueKeysWithValues: wins.map { ($0.0, $0.1) })
        for record in log {
            // Each record is the one its winner was told about, and it expected its own offset.
            XCTAssertEqual(value(record), byOffset[record.offset])
            XCTAssertTrue(value(record).hasSuffix("@\(record.offset)"), value(record))
        }
    }

    // MARK: Crash

    /// Conditional appends while the broker is killed: after the restart, conditions are checked
    /// against the recovered log — a condition that held before an acknowledged append no longer does.
    func testConditionsAfterKill9AreCheckedAgainstTheRecoveredLog() async throws {
        try await createTopic("crash")
        let bootstrap = broker.bootstrap
        let acknowledged = Mutex<[Int64]>([])
        let writer = Task {
            let client = try await TernClient(
                configuration: ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(5)))
            let producer = client.producer(
                configuration: ProducerConfiguration(acks: .all, deliveryTimeout: .seconds(3)))
            var seen: Int64 = 0
            for _ in 0..<100_000 {
                do {
                    let metadata = try await producer.send(
                        topic: "crash", key: Array("k".utf8), value: Array("at \(seen)".utf8), partition: 0,
                        condition: .endOffset(seen))
                    acknowledged.withLock { $0.append(metadata.offset) }
                    seen = metadata.offset + 1
                } catch let error as TernError where error.code == .conditionFailed {
                    seen = error.actualOffset ?? seen
                } catch {
                    break
                }
            }
            await client.close()
        }
        let deadline = Date().addingTimeInterval(60)
        while acknowledged.withLock({ $0.count }) < 50 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        broker.kill9()
        _ = await writer.result
        let acked = acknowledged.withLock { $0 }
        let lastAcked = try XCTUnwrap(acked.last, "some appends were acknowledged before the kill")
        XCTAssertEqual(acked, (0...lastAcked).map { $0 }, "acknowledged offsets are consecutive")

        broker = try BrokerProcess(dataDirectory: broker.dataDirectory, port: broker.port)
        let port = broker.port
        let end = try ConditionalProduce.endOffset(port: port, topic: "crash")
        XCTAssertGreaterThan(end, lastAcked, "acks=all appends survive kill -9")
        // The condition that held before the last acknowledged append landed is false now.
        let stale = try ConditionalProduce.send(
            port: port, topic: "crash", records: ConditionalProduce.batch([TestRecord(key: "k", value: "stale")]),
            condition: .endOffset(lastAcked))
        XCTAssertEqual(stale.errorCode, .conditionFailed)
        XCTAssertEqual(stale.actualOffset, end)
        let fresh = try ConditionalProduce.send(
            port: port, topic: "crash", records: ConditionalProduce.batch([TestRecord(key: "k", value: "fresh")]),
            condition: .endOffset(end))
        XCTAssertEqual(fresh.errorCode, .none, fresh.errorMessage ?? "")
        XCTAssertEqual(fresh.baseOffset, end)
        let log = try ConditionalProduce.records(port: port, topic: "crash")
        XCTAssertEqual(log.map(\.offset), (0...end).map { $0 }, "no gaps")
        for record in log.dropLast() { XCTAssertEqual(value(record), "at \(record.offset)") }
    }

    // MARK: CLI

    func testCLIConditionalProduceExitsThreeOnConflict() async throws {
        try await createTopic("cli", partitions: 2)
        func tern(_ arguments: [String], stdin: String) throws -> CommandResult {
            try runCommand(
                Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin, timeout: 60)
        }
        let ok = try tern(["produce", "cli", "--partition", "1", "--if-end-offset", "0"], stdin: "a\nb\nc\n")
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.contains("produced: 3 acknowledged, 0 failed"), ok.stderr)

        let conflict = try tern(["produce", "cli", "--partition", "1", "--if-end-offset", "0"], stdin: "d\ne\n")
        XCTAssertEqual(conflict.status, 3, conflict.stderr)
        XCTAssertTrue(
            conflict.stderr.contains("tern: error: condition failed: expected end offset 0"), conflict.stderr)
        XCTAssertTrue(conflict.stderr.contains("actual offset 3"), conflict.stderr)

        let missingPartition = try tern(["produce", "cli", "--if-end-offset", "0"], stdin: "x\n")
        XCTAssertNotEqual(missingPartition.status, 0)
        XCTAssertTrue(missingPartition.stderr.contains("--if-end-offset needs --partition"), missingPartition.stderr)

        let noIndex = try tern(
            ["produce", "cli", "--key-separator", ":", "--if-key-offset", "-1"], stdin: "k:1\nk:2\n")
        XCTAssertEqual(noIndex.status, 1, noIndex.stderr)
        XCTAssertTrue(noIndex.stderr.contains("key.index.enable=true"), noIndex.stderr)

        XCTAssertEqual(
            try ConditionalProduce.records(port: broker.port, topic: "cli", partition: 1).map(value), ["a", "b", "c"])
        XCTAssertEqual(try ConditionalProduce.endOffset(port: broker.port, topic: "cli", partition: 0), 0)
    }
}

/// The SDK's retry of a conditional append whose answer was lost: the broker appended, the
/// connection closed before the answer arrived, the producer sent the same batch again — and got
/// success with the original offset, not a conflict; the log holds one copy.
final class ConditionalRetryTests: XCTestCase {
    func testSDKRetryAfterALostAnswerGetsTheOriginalOffset() async throws {
        let directory = TemporaryDirectory("tern-cond-retry")
        defer { directory.remove() }
        let brokerPort = freeLoopbackPort()
        let proxy = try LoopbackProxy(upstreamPort: brokerPort)
        defer { proxy.stop() }
        // Clients learn the broker's address from Metadata: advertise the proxy, so that every
        // connection of the SDK goes through it.
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", port: brokerPort,
            settings: ["advertised.listeners": "PLAINTEXT://127.0.0.1:\(proxy.port)"])
        defer { broker.stop() }

        let client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: ["127.0.0.1:\(proxy.port)"], requestTimeout: .seconds(30)))
        try await client.admin.createTopic(name: "ledger", partitions: 1)
        let producer = client.producer(
            configuration: ProducerConfiguration(acks: .all, retryBackoff: .milliseconds(50)))
        // The broker appends the first conditional batch; its answer is lost with the connection.
        proxy.cutResponses(toApi: ApiKey.produce.rawValue, count: 1)
        let first = try await producer.send(
            topic: "ledger", key: Array("acct".utf8), value: Array("opened".utf8), partition: 0,
            condition: .endOffset(0))
        XCTAssertEqual(first.offset, 0)
        XCTAssertEqual(proxy.responsesCut, 1, "the first conditional answer was lost on the way")
        let second = try await producer.send(
            topic: "ledger", key: Array("acct".utf8), value: Array("deposit".utf8), partition: 0,
            condition: .endOffset(1))
        XCTAssertEqual(second.offset, 1)
        await producer.close()
        await client.close()
        let records = try ConditionalProduce.records(port: broker.port, topic: "ledger")
        XCTAssertEqual(records.map { String(decoding: $0.value ?? [], as: UTF8.self) }, ["opened", "deposit"])
    }
}
