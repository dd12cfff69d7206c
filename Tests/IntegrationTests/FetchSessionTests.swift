import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Fetch sessions (Fetch v1) against a real broker: a session answers only what changed, refuses
/// unknown sessions and stale epochs, and the SDK consumer (which always uses sessions) reads
/// everything from a topic whose partitions fill at different times.
final class FetchSessionTests: BrokerTestCase {
    private func createTopic(_ name: String, partitions: Int32) throws {
        let (_, response) = try RawConnection(port: broker.port).roundTrip(
            CreateTopicsRequest(topics: [.init(name: name, numPartitions: partitions)]))
        XCTAssertEqual(response?.topics.first?.errorCode, ErrorCode.none)
    }

    private func produce(_ count: Int, to partition: Int32, topic: String = "s") throws {
        let (_, response) = try RawConnection(port: broker.port).roundTrip(
            ProduceRequest(
                acks: 1, timeoutMs: 5000,
                topics: [.init(name: topic, partitions: [.init(partition: partition, records: makeBatch(count: count))])]))
        XCTAssertEqual(response?.topics.first?.partitions.first?.errorCode, ErrorCode.none)
    }

    private func fetch(
        _ connection: RawConnection, _ partitions: [(Int32, Int64)], sessionId: Int32, epoch: Int32,
        forgotten: [Int32] = []
    ) throws -> (status: ResponseStatus, response: FetchResponse?) {
        try connection.roundTrip(
            FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                topics: partitions.isEmpty
                    ? [] : [.init(name: "s", partitions: partitions.map { .init(partition: $0, fetchOffset: $1, maxBytes: 1 << 20) })],
                sessionId: sessionId, sessionEpoch: epoch,
                forgottenTopics: forgotten.isEmpty ? [] : [.init(name: "s", partitions: forgotten)]))
    }

    private func answered(_ response: FetchResponse?) -> [Int32: Int] {
        var out: [Int32: Int] = [:]
        for topic in response?.topics ?? [] {
            for p in topic.partitions {
                var records: [Record] = []
                _ = try? RecordBatchDecoder.decode(p.records, into: &records)
                out[p.partition] = records.count
            }
        }
        return out
    }

    func testAnIncrementalFetchNamesAndReturnsOnlyWhatChanged() throws {
        try createTopic("s", partitions: 4)
        try produce(3, to: 0)
        let connection = try RawConnection(port: broker.port)
        let all: [(Int32, Int64)] = [(0, 0), (1, 0), (2, 0), (3, 0)]
        let opened = try fetch(connection, all, sessionId: 0, epoch: FetchRequest.initialEpoch)
        let session = try XCTUnwrap(opened.response?.sessionId)
        XCTAssertNotEqual(session, 0, "a full request at epoch 0 opens a session")
        XCTAssertEqual(answered(opened.response), [0: 3, 1: 0, 2: 0, 3: 0], "the first response lists every partition")

        // The consumer moved past partition 0's records: it names only that partition's new
        // offset, and with nothing new anywhere the answer is empty.
        let idle = try fetch(connection, [(0, 3)], sessionId: session, epoch: 1)
        XCTAssertEqual(idle.status.errorCode, .none)
        XCTAssertEqual(answered(idle.response), [:])

        // Records arrive on partition 2 only: a request naming no partition gets just those.
        try produce(2, to: 2)
        let next = try fetch(connection, [], sessionId: session, epoch: 2)
        XCTAssertEqual(answered(next.response), [2: 2], "only the partition with new records is answered")

        // Forgotten partitions are no longer read.
        try produce(1, to: 3)
        let forgot = try fetch(connection, [(2, 2)], sessionId: session, epoch: 3, forgotten: [3])
        XCTAssertEqual(answered(forgot.response), [:])
    }

    func testUnknownSessionsAndStaleEpochsGetTheirErrorCodes() throws {
        try createTopic("s", partitions: 1)
        let connection = try RawConnection(port: broker.port)
        let opened = try fetch(connection, [(0, 0)], sessionId: 0, epoch: FetchRequest.initialEpoch)
        let session = try XCTUnwrap(opened.response?.sessionId)
        XCTAssertEqual(try fetch(connection, [], sessionId: session &+ 999, epoch: 1).status.errorCode, .fetchSessionIdNotFound)
        XCTAssertEqual(try fetch(connection, [], sessionId: session, epoch: 5).status.errorCode, .invalidFetchSessionEpoch)
        XCTAssertEqual(try fetch(connection, [], sessionId: session, epoch: 1).status.errorCode, .none)
        // Version 0 still works, without sessions.
        var v0 = FetchRequest(
            maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
            topics: [.init(name: "s", partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])])
        v0.version = 0
        let old = try connection.roundTrip(v0)
        XCTAssertEqual(old.response?.topics.first?.partitions.first?.errorCode, ErrorCode.none)
    }

    func testTheConsumerReadsEveryRecordAsPartitionsFillAtDifferentTimes() async throws {
        try createTopic("s", partitions: 16)
        let client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(10)))
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(fetchMaxWait: .milliseconds(50)))
        try await consumer.assign(topic: "s")
        try await consumer.seekToBeginning()
        var expected = 0
        var received = 0
        for round in 0..<8 {
            // Each round fills two partitions; the session must pick up each one's new records.
            for partition in [Int32(round), Int32(round + 8)] {
                try produce(10 + round, to: partition)
                expected += 10 + round
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while received < expected, ContinuousClock.now < deadline {
                received += try await consumer.poll(timeout: .milliseconds(200)).count
            }
            XCTAssertEqual(received, expected, "round \(round)")
        }
        await consumer.close()
        await client.close()
    }
}
