import TernWire
import XCTest

@testable import TernClient

final class TernConsumerTests: XCTestCase {
    func produce(_ client: TernClient, topic: String, count: Int, partitions: Int32) async throws {
        let producer = client.producer()
        let collector = ResultCollector()
        for index in 0..<count {
            producer.send(
                topic: topic, value: bytes("\(index)"), partition: Int32(index) % partitions, completion: collector.completion)
        }
        try await producer.flush()
        await producer.close()
        XCTAssertEqual(collector.successes.count, count)
    }

    func pollAll(_ consumer: TernConsumer, count: Int) async throws -> [ConsumerRecord] {
        var records: [ConsumerRecord] = []
        while records.count < count {
            let batch = try await consumer.poll(timeout: .seconds(5))
            if batch.isEmpty { break }
            records += batch
        }
        return records
    }

    func testConsumesEveryPartitionFromTheBeginningInOrder() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 3)
        let client = try await TernClient(configuration: broker.configuration())
        try await produce(client, topic: "t", count: 3000, partitions: 3)

        let consumer = client.consumer(configuration: ConsumerConfiguration(maxPartitionFetchBytes: 4096))
        try await consumer.assign(topic: "t")
        XCTAssertEqual(consumer.assignment.map(\.partition), [0, 1, 2])
        try await consumer.seekToBeginning()
        let records = try await pollAll(consumer, count: 3000)
        XCTAssertEqual(records.count, 3000)
        for partition in Int32(0)..<3 {
            let offsets = records.filter { $0.partition == partition }.map(\.offset)
            XCTAssertEqual(offsets, (0..<1000).map { Int64($0) })
            let tp = TopicPartition(topic: "t", partition: partition)
            let position = try await consumer.position(tp)
            XCTAssertEqual(position, 1000)
        }
        XCTAssertEqual(Set(records.compactMap { string($0.value) }).count, 3000)

        let nothing = try await consumer.poll(timeout: .milliseconds(50))
        XCTAssertTrue(nothing.isEmpty)
        await consumer.close()
        await assertThrowsTernError(.closed) { try await consumer.poll(timeout: .zero) }
        await client.close()
    }

    func testDefaultStartsAtTheEndAndSeesNewRecords() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        let client = try await TernClient(configuration: broker.configuration())
        try await produce(client, topic: "t", count: 5, partitions: 1)
        let consumer = client.consumer()
        let tp = TopicPartition(topic: "t", partition: 0)
        try await consumer.assign([tp])
        let start = try await consumer.position(tp)
        XCTAssertEqual(start, 5)
        try await produce(client, topic: "t", count: 2, partitions: 1)
        let records = try await pollAll(consumer, count: 2)
        XCTAssertEqual(records.map(\.offset), [5, 6])
        await consumer.close()
        await client.close()
    }

    func testSeekToOffsetAndTimestamp() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        let client = try await TernClient(configuration: broker.configuration())
        try await produce(client, topic: "t", count: 10, partitions: 1)
        let consumer = client.consumer()
        let tp = TopicPartition(topic: "t", partition: 0)
        try await consumer.assign([tp])
        try await consumer.seek(tp, to: .offset(7))
        let records = try await pollAll(consumer, count: 3)
        XCTAssertEqual(records.map(\.offset), [7, 8, 9])
        XCTAssertEqual(records.map { string($0.value) }, ["7", "8", "9"])

        try await consumer.seek(tp, to: .timestamp(0))
        let fromTime = try await pollAll(consumer, count: 10)
        XCTAssertEqual(fromTime.first?.offset, 0)

        await assertThrowsTernError(.invalidArgument) {
            try await consumer.seek(TopicPartition(topic: "t", partition: 9), to: .offset(0))
        }
        await consumer.close()
        await client.close()
    }

    func testOutOfRangePositionResetsPerPolicy() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        let client = try await TernClient(configuration: broker.configuration())
        try await produce(client, topic: "t", count: 4, partitions: 1)
        let tp = TopicPartition(topic: "t", partition: 0)

        let resetting = client.consumer(configuration: ConsumerConfiguration(autoOffsetReset: .earliest))
        try await resetting.assign([tp])
        try await resetting.seek(tp, to: .offset(100))
        let records = try await pollAll(resetting, count: 4)
        XCTAssertEqual(records.map(\.offset), [0, 1, 2, 3])
        await resetting.close()

        let strict = client.consumer(configuration: ConsumerConfiguration(autoOffsetReset: .none))
        try await strict.assign([tp])
        try await strict.seek(tp, to: .offset(100))
        let error = await assertThrowsTernError(.offsetOutOfRange) { try await strict.poll(timeout: .seconds(5)) }
        XCTAssertTrue(error?.message.contains("t-0") ?? false, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("100") ?? false, error?.message ?? "")
        await strict.close()
        await client.close()
    }

    func testAssignUnknownTopicFails() async throws {
        let broker = FakeBroker()
        let client = try await TernClient(configuration: broker.configuration())
        let consumer = client.consumer()
        await assertThrowsTernError(.unknownTopic) { try await consumer.assign(topic: "nope") }
        await consumer.close()
        await client.close()
    }

    func testRecordsSequenceEndsWhenClosed() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 2)
        let client = try await TernClient(configuration: broker.configuration())
        try await produce(client, topic: "t", count: 10, partitions: 2)
        let consumer = client.consumer(configuration: ConsumerConfiguration(autoOffsetReset: .earliest))
        try await consumer.assign(topic: "t")
        var seen = 0
        for try await record in consumer.records {
            XCTAssertEqual(record.topic, "t")
            seen += 1
            if seen == 10 { await consumer.close() }
        }
        XCTAssertEqual(seen, 10)
        await client.close()
    }

    func testFetchedPartitionSkipsRecordsBelowTheFetchOffsetAndAPartialBatch() throws {
        var first = RecordBatchBuilder(baseTimestamp: 1)
        for value in ["a", "b", "c"] { first.append(key: nil, value: bytes(value)) }
        var batch1 = first.finish()
        var second = RecordBatchBuilder(baseTimestamp: 1)
        second.append(key: nil, value: bytes("d"))
        var batch2 = second.finish()
        batch1.withUnsafeMutableBytes { RecordBatchHeader.assign(baseOffset: 10, partitionLeaderEpoch: 0, in: $0, at: 0) }
        batch2.withUnsafeMutableBytes { RecordBatchHeader.assign(baseOffset: 13, partitionLeaderEpoch: 0, in: $0, at: 0) }
        let partial = Array(batch2.prefix(batch2.count - 3))
        let partition = FetchResponse.Partition(partition: 0, highWatermark: 14, records: batch1 + partial)
        guard case .records(let records, let next, _, _) = FetchedPartition.decode(partition, topic: "t", fetchOffset: 11, peer: "b")
        else { return XCTFail() }
        XCTAssertEqual(records.map(\.offset), [11, 12])
        XCTAssertEqual(records.map { string($0.value) }, ["b", "c"])
        XCTAssertEqual(next, 13, "the next fetch starts after the last complete batch")
    }
}
