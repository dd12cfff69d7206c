import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// The SDK against real `ternd` processes: round trips, restarts, `kill -9` and damaged logs.
final class SDKTests: XCTestCase {
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-sdk") }
    override func tearDown() { directory.remove() }

    private func client(_ broker: BrokerProcess) async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(10)))
    }

    /// Reads every record of `topic` from the beginning up to the current end offsets.
    private func consumeAll(_ client: TernClient, topic: String) async throws -> [ConsumerRecord] {
        let description = try await client.admin.describeTopic(name: topic)
        var remaining = description.partitions.reduce(0) { $0 + Int($1.logEndOffset - $1.logStartOffset) }
        let consumer = client.consumer()
        try await consumer.assign(topic: topic)
        try await consumer.seekToBeginning()
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while remaining > 0 && ContinuousClock.now < deadline {
            let batch = try await consumer.poll(timeout: .seconds(1))
            records += batch
            remaining -= batch.count
        }
        await consumer.close()
        return records
    }

    func testProduceAndConsumeRoundTripKeepsKeysHeadersAndOrder() async throws {
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data")
        defer { broker.stop() }
        let client = try await client(broker)
        try await client.admin.createTopic(name: "events", partitions: 4)
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        var sent: [String: RecordMetadata] = [:]
        try await withThrowingTaskGroup(of: (String, RecordMetadata).self) { group in
            for i in 0..<2000 {
                group.addTask {
                    let value = "event-\(i)"
                    let metadata = try await producer.send(
                        topic: "events", key: Array("entity-\(i % 13)".utf8), value: Array(value.utf8),
                        headers: [RecordHeader(key: "type", value: Array("Created".utf8))])
                    return (value, metadata)
                }
            }
            for try await (value, metadata) in group { sent[value] = metadata }
        }
        try await producer.flush()
        await producer.close()

        let records = try await consumeAll(client, topic: "events")
        XCTAssertEqual(records.count, 2000)
        for record in records {
            let value = String(decoding: record.value ?? [], as: UTF8.self)
            let metadata = try XCTUnwrap(sent[value], value)
            XCTAssertEqual(metadata.partition, record.partition)
            XCTAssertEqual(metadata.offset, record.offset)
            XCTAssertEqual(record.headers, [RecordHeader(key: "type", value: Array("Created".utf8))])
        }
        // The same key always went to the same partition.
        var partitionOfKey: [[UInt8]: Int32] = [:]
        for record in records {
            let key = Array(try XCTUnwrap(record.key))
            XCTAssertEqual(partitionOfKey[key, default: record.partition], record.partition)
            partitionOfKey[key] = record.partition
            XCTAssertEqual(
                record.partition, Murmur2.partition(forKey: key, partitionCount: 4), "murmur2 placement as in Kafka")
        }
        await client.close()
    }

    func testLongPollFetchReturnsWhenDataArrives() async throws {
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data")
        defer { broker.stop() }
        try await {
            let client = try await client(broker)
            try await client.admin.createTopic(name: "wait", partitions: 1)
            await client.close()
        }()
        // A raw fetch that waits up to 20 s for 1 byte is answered by the produce that follows.
        let connection = try RawConnection(port: broker.port, timeout: 30)
        try connection.write(
            Frame.request(
                FetchRequest(
                    maxWaitMs: 20_000, minBytes: 1, maxBytes: 1 << 20,
                    topics: [.init(name: "wait", partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])]),
                correlationId: 42, clientId: "long-poll"))
        let producerConnection = try RawConnection(port: broker.port)
        let produced = try producerConnection.roundTrip(
            ProduceRequest(
                acks: 1, timeoutMs: 5000,
                topics: [.init(name: "wait", partitions: [.init(partition: 0, records: makeBatch(count: 3))])]))
        XCTAssertEqual(produced.response?.topics.first?.partitions.first?.errorCode, ErrorCode.none)
        var reader = ByteReader(try XCTUnwrap(connection.readFrame()))
        XCTAssertEqual(try Frame.readResponseHead(&reader).correlationId, 42)
        let response = try FetchResponse(from: &reader, version: FetchRequest.apiVersion)
        var records: [Record] = []
        try RecordBatchDecoder.decode(try XCTUnwrap(response.topics.first?.partitions.first).records, into: &records)
        XCTAssertEqual(records.map(\.offset), [0, 1, 2], "the parked fetch must carry the new records")
    }


    /// A segment tail cut mid-batch, or overwritten with garbage, while the broker was down is cut
    /// back to the last good batch, with a warning naming the file and offset.
    func testDamagedSegmentTailIsTruncatedOnRestart() async throws {
        for damage in ["cut", "garbage"] {
            let data = directory.path + "/data-\(damage)"
            var broker = try BrokerProcess(dataDirectory: data)
            let port = broker.port
            let client = try await client(broker)
            try await client.admin.createTopic(name: "audit", partitions: 1)
            let producer = client.producer(configuration: ProducerConfiguration(acks: .all, linger: .zero))
            for i in 0..<20 {
                // One record per batch: each send is flushed before the next.
                try await producer.send(topic: "audit", value: Array("entry-\(i)".utf8))
            }
            await producer.close()
            await client.close()
            broker.kill9()

            let segment = data + "/audit-0/00000000000000000000.log"
            let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: segment))
            let size = try handle.seekToEnd()
            if damage == "cut" {
                try handle.truncate(atOffset: size - 5)
            } else {
                try handle.seek(toOffset: size - 20)
                var generator = SeededGenerator(seed: 99)
                try handle.write(contentsOf: Data(generator.bytes(500)))
            }
            try handle.close()

            broker = try BrokerProcess(dataDirectory: data, port: port)
            defer { broker.stop() }
            XCTAssertTrue(broker.log.contains("truncating \(segment)"), broker.log)
            XCTAssertTrue(broker.log.contains("offset 19"), broker.log)
            let restarted = try await self.client(broker)
            let records = try await consumeAll(restarted, topic: "audit")
            XCTAssertEqual(records.map(\.offset), (0..<19).map { Int64($0) })
            XCTAssertEqual(records.last.map { String(decoding: $0.value ?? [], as: UTF8.self) }, "entry-18")
            let producer2 = restarted.producer(configuration: ProducerConfiguration(acks: .all))
            let next = try await producer2.send(topic: "audit", value: Array("entry-new".utf8))
            XCTAssertEqual(next.offset, 19)
            await producer2.close()
            await restarted.close()
        }
    }

    /// What a producer stream interrupted by a broker stop left behind.
    private struct InterruptedStream {
        var data: String
        var port: Int
        var acknowledged: [String: RecordMetadata]
        var stopStatus: Int32
    }

    /// Streams acks=all records (keyed, fire-and-forget) into a new topic until `acknowledgements`
    /// are acknowledged, then calls `stop` on the broker and waits until every send completed.
    private func produceUntilStopped(
        topic: String, partitions: Int, acknowledgements: Int, stop: (BrokerProcess) -> Int32
    ) async throws -> InterruptedStream {
        let data = directory.path + "/data"
        let broker = try BrokerProcess(dataDirectory: data)
        let client = try await client(broker)
        try await client.admin.createTopic(name: topic, partitions: partitions)
        let producer = client.producer(
            configuration: ProducerConfiguration(
                acks: .all, linger: .milliseconds(1), retries: 0, deliveryTimeout: .seconds(5), requestTimeout: .seconds(5)))
        let acknowledged = Mutex<[String: RecordMetadata]>([:])
        let completed = Atomic<Int>(0)
        var sent = 0
        var status: Int32?
        let start = ContinuousClock.now
        while status == nil && ContinuousClock.now - start < .seconds(60) {
            let value = "\(topic)-\(sent)"
            producer.send(topic: topic, key: Array("key-\(sent % 11)".utf8), value: Array(value.utf8)) { result in
                if case .success(let metadata) = result { acknowledged.withLock { $0[value] = metadata } }
                completed.add(1, ordering: .relaxed)
            }
            sent += 1
            if sent % 500 == 0 { await producer.waitForCapacity(); try await Task.sleep(for: .milliseconds(1)) }
            if acknowledged.withLock({ $0.count }) >= acknowledgements { status = stop(broker) }
        }
        let stopStatus = try XCTUnwrap(status, "\(acknowledgements) records were not acknowledged within 60 s")
        let deadline = ContinuousClock.now + .seconds(30)
        while completed.load(ordering: .relaxed) < sent && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(completed.load(ordering: .relaxed), sent, "every send completes, acknowledged or failed")
        await producer.close()
        await client.close()
        return InterruptedStream(
            data: data, port: broker.port, acknowledged: acknowledged.withLock { $0 }, stopStatus: stopStatus)
    }

    /// Every acknowledged record is stored exactly once at its acknowledged partition and offset,
    /// and each partition's offsets ascend. Returns the last offset per partition.
    @discardableResult
    private func assertAcknowledgedRecordsSurvive(_ stream: InterruptedStream, records: [ConsumerRecord]) -> [Int32: Int64] {
        var stored: [String: (Int32, Int64)] = [:]
        var lastOffset: [Int32: Int64] = [:]
        for record in records {
            let value = String(decoding: record.value ?? [], as: UTF8.self)
            XCTAssertNil(stored[value], "\(value) stored twice")
            stored[value] = (record.partition, record.offset)
            if let last = lastOffset[record.partition] { XCTAssertGreaterThan(record.offset, last) }
            lastOffset[record.partition] = record.offset
        }
        for (value, metadata) in stream.acknowledged {
            guard let position = stored[value] else {
                XCTFail("acknowledged \(value) at \(metadata.partition):\(metadata.offset) is missing")
                continue
            }
            XCTAssertEqual(position.0, metadata.partition, value)
            XCTAssertEqual(position.1, metadata.offset, value)
        }
        return lastOffset
    }

    /// `kill -9` during a stream of acks=all produces: after restart every acknowledged record is
    /// there, at its acknowledged offset, exactly once, and the log takes new appends.
    func testKillDashNineLosesNoAcknowledgedRecord() async throws {
        let stream = try await produceUntilStopped(topic: "ledger", partitions: 2, acknowledgements: 3000) { broker in
            broker.kill9()
            return 0
        }
        let broker = try BrokerProcess(dataDirectory: stream.data, port: stream.port)
        defer { broker.stop() }
        let client = try await client(broker)
        let lastOffset = assertAcknowledgedRecordsSurvive(stream, records: try await consumeAll(client, topic: "ledger"))
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        let next = try await producer.send(topic: "ledger", value: Array("after-restart".utf8), partition: 0)
        XCTAssertEqual(next.offset, (lastOffset[0] ?? -1) + 1, "the log takes new appends after the last record")
        await producer.close()
        await client.close()
    }

    /// SIGTERM while producers stream acks=all records: the broker exits 0, every acknowledged
    /// record is there after restart, and the restart skips recovery (clean-shutdown marker).
    func testSigtermDuringHeavyProduceKeepsEveryAcknowledgedRecordAndNeedsNoRecovery() async throws {
        let stream = try await produceUntilStopped(topic: "orders", partitions: 3, acknowledgements: 5000) { $0.stop() }
        XCTAssertEqual(stream.stopStatus, 0, "SIGTERM must stop ternd cleanly")
        let broker = try BrokerProcess(dataDirectory: stream.data, port: stream.port)
        defer { broker.stop() }
        XCTAssertFalse(broker.log.contains("not shut down cleanly"), broker.log)
        XCTAssertFalse(broker.log.contains("truncating"), broker.log)
        let client = try await client(broker)
        assertAcknowledgedRecordsSurvive(stream, records: try await consumeAll(client, topic: "orders"))
        await client.close()
    }
}
