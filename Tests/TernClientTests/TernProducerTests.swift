import Synchronization
import TernWire
import XCTest

@testable import TernClient

final class TernProducerTests: XCTestCase {
    func makeClient(_ broker: FakeBroker) async throws -> TernClient {
        try await TernClient(configuration: broker.configuration())
    }

    func testAsyncSendReturnsWhereTheRecordWasStored() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 2)
        let client = try await makeClient(broker)
        let producer = client.producer()
        let first = try await producer.send(topic: "t", key: nil, value: bytes("a"), partition: 1, timestamp: 123)
        let second = try await producer.send(topic: "t", value: bytes("b"), headers: [RecordHeader(key: "h", value: [1])], partition: 1)
        XCTAssertEqual(first, RecordMetadata(topic: "t", partition: 1, offset: 0, timestamp: 123))
        XCTAssertEqual(second.offset, 1)
        let stored = try broker.records("t", 1)
        XCTAssertEqual(stored.map { string($0.value) }, ["a", "b"])
        XCTAssertEqual(stored[1].headers, [RecordHeader(key: "h", value: [1])])
        await producer.close()
        await client.close()
    }

    func testFireAndForgetDeliversEveryRecordInOrderAcrossPartitions() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 3)
        let client = try await makeClient(broker)
        let producer = client.producer(configuration: ProducerConfiguration(batchSize: 4096, linger: .milliseconds(2)))
        let collector = ResultCollector()
        let count = 20_000
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for index in 0..<count {
                producer.send(topic: "t", value: bytes("\(index)"), completion: collector.completion)
            }
            try await producer.flush()
        }
        print("20k fire-and-forget sends + flush: \(elapsed)")
        XCTAssertEqual(collector.successes.count, count)
        XCTAssertTrue(collector.failures.isEmpty, "\(collector.failures.first.map { "\($0)" } ?? "")")

        var seen = Set<Int>()
        var stored: [Int32: [Record]] = [:]
        for partition in Int32(0)..<3 {
            let records = try broker.records("t", partition)
            stored[partition] = records
            XCTAssertFalse(records.isEmpty, "null keys spread over every partition")
            XCTAssertEqual(records.map(\.offset), (0..<Int64(records.count)).map { $0 })
            let values = records.compactMap { string($0.value).flatMap { Int($0) } }
            XCTAssertEqual(values, values.sorted(), "partition \(partition) in send order")
            seen.formUnion(values)
        }
        XCTAssertEqual(seen.count, count)

        // Reported offsets match the stored ones.
        for metadata in collector.successes.prefix(500) {
            XCTAssertEqual(stored[metadata.partition]?[Int(metadata.offset)].offset, metadata.offset)
        }
        let requests = broker.requestCount(.produce)
        XCTAssertLessThan(requests, count / 20, "records travel in batches")
        await producer.close()
        await client.close()
    }

    func testKeyedRecordsLandOnTheirMurmur2Partition() async throws {
        let broker = FakeBroker()
        broker.createTopic("keyed", partitions: 4)
        let client = try await makeClient(broker)
        let producer = client.producer(configuration: ProducerConfiguration(linger: .zero))
        for index in 0..<40 {
            let key = bytes("customer-\(index % 8)")
            let metadata = try await producer.send(topic: "keyed", key: key, value: bytes("event-\(index)"))
            XCTAssertEqual(metadata.partition, Murmur2.partition(forKey: key, partitionCount: 4))
        }
        await producer.close()
        await client.close()
    }

    func testAcksNoneSucceedsWithoutOffsets() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        let client = try await makeClient(broker)
        let producer = client.producer(configuration: ProducerConfiguration(acks: .none))
        let metadata = try await producer.send(topic: "t", value: bytes("x"))
        XCTAssertEqual(metadata.offset, -1)
        XCTAssertEqual(try broker.records("t", 0).count, 1)
        await producer.close()
        await client.close()
    }

    func testRetriableErrorIsRetriedAndOrderKept() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        let tp = TopicPartition(topic: "t", partition: 0)
        broker.state.withLock { $0.produceErrors[tp] = [.notLeaderOrFollower, .notEnoughReplicas] }
        let client = try await makeClient(broker)
        let producer = client.producer(configuration: ProducerConfiguration(retryBackoff: .milliseconds(10)))
        let collector = ResultCollector()
        for index in 0..<50 { producer.send(topic: "t", value: bytes("\(index)"), completion: collector.completion) }
        try await producer.flush()
        XCTAssertEqual(collector.successes.count, 50)
        XCTAssertEqual(try broker.records("t", 0).compactMap { string($0.value) }, (0..<50).map { "\($0)" })
        XCTAssertGreaterThanOrEqual(broker.requestCount(.produce), 3)
        await producer.close()
        await client.close()
    }

    func testNonRetriableErrorFailsTheRecords() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        broker.state.withLock { $0.produceErrors[TopicPartition(topic: "t", partition: 0)] = [.messageTooLarge] }
        let client = try await makeClient(broker)
        let producer = client.producer()
        let error = await assertThrowsTernError(.broker) { try await producer.send(topic: "t", value: bytes("x")) }
        XCTAssertEqual(error?.brokerError, .messageTooLarge)
        XCTAssertTrue(error?.message.contains("t-0") ?? false, error?.message ?? "")
        await producer.close()
        await client.close()
    }

    func testUnknownTopicFailsAfterMetadataWait() async throws {
        let broker = FakeBroker()
        let client = try await makeClient(broker)
        let producer = client.producer(configuration: ProducerConfiguration(metadataWait: .milliseconds(200)))
        let error = await assertThrowsTernError(.unknownTopic) { try await producer.send(topic: "missing", value: bytes("x")) }
        XCTAssertTrue(error?.message.contains("missing") ?? false)
        await producer.close()
        await client.close()
    }

    func testRecordsForATopicCreatedMeanwhileAreDelivered() async throws {
        let broker = FakeBroker()
        let client = try await makeClient(broker)
        let producer = client.producer()
        let collector = ResultCollector()
        producer.send(topic: "later", value: bytes("x"), completion: collector.completion)
        broker.createTopic("later", partitions: 1)
        try await producer.flush()
        XCTAssertEqual(collector.successes.map(\.offset), [0])
        await producer.close()
        await client.close()
    }

    func testRequestTimeoutIsRetriedUntilDeliveryTimeout() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        broker.state.withLock { $0.swallowProduce = true }
        let client = try await TernClient(configuration: broker.configuration(requestTimeout: .milliseconds(100)))
        let producer = client.producer(
            configuration: ProducerConfiguration(
                retryBackoff: .milliseconds(10), deliveryTimeout: .milliseconds(1500), requestTimeout: .milliseconds(50)))
        let error = await assertThrowsTernError(.timedOut) { try await producer.send(topic: "t", value: bytes("x")) }
        XCTAssertTrue(error?.message.contains("t-0") ?? false, error?.message ?? "")
        XCTAssertGreaterThanOrEqual(broker.requestCount(.produce), 2)
        await producer.close()
        await client.close()
    }

    func testSendAfterCloseFails() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        let client = try await makeClient(broker)
        let producer = client.producer()
        await producer.close()
        await assertThrowsTernError(.closed) { try await producer.send(topic: "t", value: bytes("x")) }
        await client.close()
    }
}
