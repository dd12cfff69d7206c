import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// The idempotent producer (on by default) against a real `ternd`: responses lost on the way
/// back (a proxy cuts the connection after the broker stored the batch) are retried and answered
/// with the original offsets, `kill -9` of the broker mid-stream loses and doubles nothing, and a
/// producer id used with an older epoch is fenced.
final class IdempotentProducerTests: XCTestCase {
    /// A count shared with callbacks and threads.
    final class Counter: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func add(_ n: Int) { count.withLock { $0 += n } }
    }

    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-idempotence") }
    override func tearDown() { directory.remove() }

    private func client(_ port: Int, requestTimeout: Duration = .seconds(10)) async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(bootstrap: ["127.0.0.1:\(port)"], requestTimeout: requestTimeout))
    }

    /// Every record of `topic` partition 0 from the beginning to its end offset, with offsets.
    private func consumeAll(_ client: TernClient, topic: String) async throws -> [ConsumerRecord] {
        let description = try await client.admin.describeTopic(name: topic)
        var remaining = description.partitions.reduce(0) { $0 + Int($1.logEndOffset - $1.logStartOffset) }
        let consumer = client.consumer()
        try await consumer.assign(topic: topic)
        try await consumer.seekToBeginning()
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while remaining > 0 && ContinuousClock.now < deadline {
            let batch = try await consumer.poll(timeout: .seconds(1))
            records += batch
            remaining -= batch.count
        }
        await consumer.close()
        return records
    }

    /// Sends `values` in order through `producer`, without waiting for each, and returns the
    /// offset each got (failures as -1 with the error kept).
    private func sendAll(
        _ producer: TernProducer, topic: String, _ values: [String], during: ((Int) -> Void)? = nil
    ) async throws -> (offsets: [Int64], errors: [String]) {
        let results = Mutex<[Int: Result<RecordMetadata, TernError>]>([:])
        for (i, value) in values.enumerated() {
            await producer.waitForCapacity()
            producer.send(topic: topic, value: Array(value.utf8), partition: 0) { result in
                results.withLock { $0[i] = result }
            }
            during?(i)
        }
        try await producer.flush()
        let all = results.withLock { $0 }
        XCTAssertEqual(all.count, values.count, "every send completed")
        var offsets: [Int64] = []
        var errors: [String] = []
        for i in values.indices {
            switch all[i] {
            case .success(let metadata): offsets.append(metadata.offset)
            case .failure(let error):
                offsets.append(-1)
                errors.append("\(i): \(error)")
            case nil: offsets.append(-1)
            }
        }
        return (offsets, errors)
    }

    private func assertExactlyOnceInOrder(
        _ records: [ConsumerRecord], _ values: [String], offsets: [Int64], file: StaticString = #filePath,
        line: UInt = #line
    ) {
        let stored = records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
        XCTAssertEqual(stored.count, values.count, "no record lost or doubled", file: file, line: line)
        XCTAssertEqual(Set(stored).count, stored.count, "no duplicate", file: file, line: line)
        XCTAssertEqual(stored, values, "in send order", file: file, line: line)
        // Each send was told the offset its record really has.
        let byOffset = Dictionary(records.map { ($0.offset, String(decoding: $0.value ?? [], as: UTF8.self)) }) {
            a, _ in a
        }
        for (i, offset) in offsets.enumerated() where byOffset[offset] != values[i] {
            XCTFail(
                "send \(i) was acknowledged at \(offset), which holds \(byOffset[offset] ?? "nothing")", file: file,
                line: line)
            break
        }
    }

    /// The proxy cuts the connection each time a Produce response comes back (the batch is
    /// stored, the answer lost): the SDK retries the same numbered batches and the broker
    /// answers with the original offsets, so every record is stored once, in order.
    func testLostProduceResponsesAreRetriedWithoutDuplicates() async throws {
        let brokerPort = freeLoopbackPort()
        let proxy = try LoopbackProxy(upstreamPort: brokerPort)
        defer { proxy.stop() }
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", port: brokerPort,
            settings: ["advertised.listeners": "PLAINTEXT://127.0.0.1:\(proxy.port)"])
        defer { _ = broker.stop() }
        let client = try await client(proxy.port)
        try await client.admin.createTopic(name: "lost", partitions: 1)
        let producer = client.producer(
            configuration: ProducerConfiguration(acks: .all, batchSize: 2048, retryBackoff: .milliseconds(20)))
        let values = (0..<20_000).map { "record-\($0)" }
        let (offsets, errors) = try await sendAll(producer, topic: "lost", values) { i in
            if i % 2000 == 500 { proxy.cutResponses(toApi: ApiKey.produce.rawValue, count: 1) }
        }
        await producer.close()
        XCTAssertEqual(errors, [], "retries succeed")
        XCTAssertGreaterThanOrEqual(proxy.responsesCut, 5, "responses were really lost")
        let records = try await consumeAll(client, topic: "lost")
        assertExactlyOnceInOrder(records, values, offsets: offsets)
        await client.close()
    }

    /// The same with idempotence off: the lost answers make the retries store records twice.
    /// (What the idempotent producer prevents; if this stops doubling, the test above proves nothing.)
    func testWithoutIdempotenceLostResponsesDuplicate() async throws {
        let brokerPort = freeLoopbackPort()
        let proxy = try LoopbackProxy(upstreamPort: brokerPort)
        defer { proxy.stop() }
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", port: brokerPort,
            settings: ["advertised.listeners": "PLAINTEXT://127.0.0.1:\(proxy.port)"])
        defer { _ = broker.stop() }
        let client = try await client(proxy.port)
        try await client.admin.createTopic(name: "dup", partitions: 1)
        let producer = client.producer(
            configuration: ProducerConfiguration(
                acks: .all, batchSize: 2048, retryBackoff: .milliseconds(20), enableIdempotence: false))
        let values = (0..<5_000).map { "record-\($0)" }
        _ = try await sendAll(producer, topic: "dup", values) { i in
            if i % 1000 == 500 { proxy.cutResponses(toApi: ApiKey.produce.rawValue, count: 1) }
        }
        await producer.close()
        XCTAssertGreaterThan(proxy.responsesCut, 0)
        let records = try await consumeAll(client, topic: "dup")
        XCTAssertGreaterThan(records.count, values.count, "lost answers without idempotence store records twice")
        await client.close()
    }

    /// `kill -9` of the broker in the middle of an acks=all stream, then a restart on the same
    /// port: the producer retries what was not acknowledged, the restarted broker's producer
    /// state (rebuilt from the log) recognises what it already had, and every record is present
    /// exactly once, in order.
    func testKillNineMidStreamNeitherLosesNorDuplicates() async throws {
        let data = directory.path + "/data"
        let first = try BrokerProcess(dataDirectory: data)
        let port = first.port
        let client = try await client(port, requestTimeout: .seconds(5))
        try await client.admin.createTopic(name: "crash", partitions: 1)
        let producer = client.producer(
            configuration: ProducerConfiguration(
                acks: .all, batchSize: 1024, retryBackoff: .milliseconds(50), deliveryTimeout: .seconds(120)))
        let values = (0..<30_000).map { "event-\($0)" }
        let acknowledged = Counter()
        let killedAt = Counter()
        // Kill once a third of the stream is acknowledged: requests are in flight (appended and
        // waiting for their fsync, or on the wire), so some are stored without an answer.
        let watcher = Thread {
            let deadline = Date().addingTimeInterval(60)
            while acknowledged.value < 10_000, Date() < deadline { usleep(200) }
            first.kill9()
            killedAt.add(acknowledged.value)
        }
        watcher.start()
        var restarted: BrokerProcess?
        let results = Mutex<[Int: Result<RecordMetadata, TernError>]>([:])
        for (i, value) in values.enumerated() {
            producer.send(topic: "crash", value: Array(value.utf8), partition: 0) { result in
                results.withLock { $0[i] = result }
                if case .success = result { acknowledged.add(1) }
            }
            if i % 100 == 99 { try await Task.sleep(for: .milliseconds(1)) }  // a stream, not one burst
            if restarted == nil, killedAt.value > 0 {
                try await Task.sleep(for: .milliseconds(300))
                restarted = try BrokerProcess(dataDirectory: data, port: port)
            }
        }
        while restarted == nil {
            guard killedAt.value > 0 else {
                try await Task.sleep(for: .milliseconds(10))
                continue
            }
            restarted = try BrokerProcess(dataDirectory: data, port: port)
        }
        let broker = try XCTUnwrap(restarted)
        defer { _ = broker.stop() }
        try await producer.flush()
        await producer.close()
        XCTAssertGreaterThan(killedAt.value, 0)
        XCTAssertLessThan(killedAt.value, values.count, "killed mid-stream")
        let all = results.withLock { $0 }
        var offsets: [Int64] = []
        var errors: [String] = []
        for i in values.indices {
            switch all[i] {
            case .success(let metadata): offsets.append(metadata.offset)
            case .failure(let error): errors.append("\(i): \(error)")
            case nil: errors.append("\(i): no outcome")
            }
        }
        XCTAssertEqual(errors.prefix(5), [], "every record acknowledged after the restart")
        let records = try await consumeAll(client, topic: "crash")
        assertExactlyOnceInOrder(records, values, offsets: offsets)
        await client.close()
    }

    /// A producer id used again with an older epoch (a zombie of a producer that moved on) is
    /// refused with INVALID_PRODUCER_EPOCH, and the SDK reports it as fatal.
    func testOlderEpochIsFenced() async throws {
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data")
        defer { _ = broker.stop() }
        let client = try await client(broker.port)
        try await client.admin.createTopic(name: "fence", partitions: 1)
        let init1 = try await client.sendToAnyBroker(InitProducerIdRequest())
        let init2 = try await client.sendToAnyBroker(InitProducerIdRequest())
        XCTAssertEqual(init1.errorCode, .none)
        XCTAssertNotEqual(init1.producerId, init2.producerId, "each InitProducerId gets its own id")
        let id = init1.producerId

        func produce(epoch: Int16, sequence: Int32, _ value: String) async throws -> ProduceResponse.Partition {
            let batch = makeBatch(
                records: [TestRecord(key: nil, value: Array(value.utf8))], producerId: id, producerEpoch: epoch,
                baseSequence: sequence)
            let response = try await client.send(
                ProduceRequest(
                    acks: -1, timeoutMs: 5000,
                    topics: [.init(name: "fence", partitions: [.init(partition: 0, records: batch)])]), to: 0)
            return try XCTUnwrap(response.topics.first?.partitions.first)
        }
        let first = try await produce(epoch: 0, sequence: 0, "a")
        XCTAssertEqual(first.errorCode, .none)
        let again = try await produce(epoch: 0, sequence: 0, "a")
        XCTAssertEqual(again.errorCode, .none)
        XCTAssertEqual(again.baseOffset, first.baseOffset, "a retry gets the original offset")
        let gap = try await produce(epoch: 0, sequence: 5, "gap")
        XCTAssertEqual(gap.errorCode, .outOfOrderSequenceNumber)
        let bumped = try await produce(epoch: 1, sequence: 0, "b")
        XCTAssertEqual(bumped.errorCode, .none, "a new epoch takes over")
        let zombie = try await produce(epoch: 0, sequence: 1, "zombie")
        XCTAssertEqual(zombie.errorCode, .invalidProducerEpoch)
        let records = try await consumeAll(client, topic: "fence")
        XCTAssertEqual(records.map { String(decoding: $0.value ?? [], as: UTF8.self) }, ["a", "b"])
        let transactional = try await client.sendToAnyBroker(InitProducerIdRequest(transactionalId: "tx"))
        XCTAssertEqual(transactional.errorCode, .invalidRequest)
        await client.close()
    }

    /// Producer ids come from blocks committed to the metadata log: after a restart the broker
    /// hands out ids it never gave before.
    func testProducerIdsAreNotReusedAfterRestart() async throws {
        let data = directory.path + "/data"
        var broker = try BrokerProcess(dataDirectory: data)
        var client = try await client(broker.port)
        let before = try await client.sendToAnyBroker(InitProducerIdRequest()).producerId
        await client.close()
        broker.kill9()
        broker = try BrokerProcess(dataDirectory: data, port: broker.port)
        defer { _ = broker.stop() }
        client = try await self.client(broker.port)
        var after: Int64 = -1
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let response = try await client.sendToAnyBroker(InitProducerIdRequest())
            if response.errorCode == .none {
                after = response.producerId
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertGreaterThan(after, before, "a new block, past every id handed out before the restart")
        await client.close()
    }
}
