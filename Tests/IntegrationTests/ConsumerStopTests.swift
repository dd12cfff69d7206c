import Foundation
import TernClient
import TernTestSupport
import XCTest

/// A consumer stops, and a seek takes effect, without waiting out a fetch parked on the broker:
/// every case uses a `fetch.max.wait` far longer than the time it allows.
final class ConsumerStopTests: BrokerTestCase {
    /// Long enough that waiting it out cannot pass for a prompt stop on a loaded machine.
    private static let longWaitMs = 10_000
    /// What a prompt stop may take, process start included, on a loaded 2-core machine.
    private static let promptLimit: Duration = .seconds(3)

    private func client() async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(20)))
    }

    /// Creates `topic` (one partition) holding the values 1...count.
    private func createTopic(_ topic: String, records count: Int) async throws {
        let client = try await client()
        try await client.admin.createTopic(name: topic, partitions: 1)
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        for i in stride(from: 1, through: count, by: 1) {
            _ = try await producer.send(topic: topic, value: Array("\(i)".utf8))
        }
        await producer.close()
        await client.close()
    }

    private func timedTern(_ arguments: [String]) throws -> (CommandResult, Duration) {
        let start = ContinuousClock.now
        let result = try runCommand(Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, timeout: 60)
        return (result, ContinuousClock.now - start)
    }

    func testConsumeMaxMessagesExitsWithoutWaitingOutAParkedFetch() async throws {
        try await createTopic("ten", records: 10)
        let wait = "fetch.max.wait.ms=\(Self.longWaitMs)"
        let runs: [(String, [String])] = [
            ("plain", ["consume", "ten", "--from-beginning", "--max-messages", "10", "--property", wait]),
            // The group's leave and commit used to queue behind the parked fetch as well.
            (
                "group",
                ["consume", "ten", "--group", "g", "--from-beginning", "--max-messages", "10", "--property", wait]
            ),
        ]
        for (name, arguments) in runs {
            let (result, elapsed) = try timedTern(arguments)
            XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
            XCTAssertEqual(result.stdout, (1...10).map { "\($0)\n" }.joined(), name)
            XCTAssertLessThan(
                elapsed, Self.promptLimit, "\(name): tern consume --max-messages 10 waited out the parked fetch")
        }
    }

    func testConsumeTimeoutExitsWithoutWaitingOutAParkedFetch() async throws {
        try await createTopic("three", records: 3)
        let (result, elapsed) = try timedTern([
            "consume", "three", "--from-beginning", "--timeout-ms", "300", "--property",
            "fetch.max.wait.ms=\(Self.longWaitMs)",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "1\n2\n3\n")
        XCTAssertLessThan(elapsed, Self.promptLimit, "tern consume --timeout-ms 300 waited out the parked fetch")
    }

    /// Polls until `consumer` has a fetch parked at the log end (an empty poll after the
    /// partition's position is known).
    private func parkFetch(_ consumer: TernConsumer, _ tp: TopicPartition) async throws {
        _ = try await consumer.position(tp)
        let records = try await consumer.poll(timeout: .milliseconds(300))
        XCTAssertEqual(records.count, 0)
    }

    func testCloseReturnsWhileAFetchIsParked() async throws {
        try await createTopic("idle", records: 0)
        let client = try await client()
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(fetchMaxWait: .milliseconds(Self.longWaitMs)))
        let tp = TopicPartition(topic: "idle", partition: 0)
        try await consumer.assign([tp])
        try await parkFetch(consumer, tp)
        let start = ContinuousClock.now
        await consumer.close()
        let elapsed = ContinuousClock.now - start
        await client.close()
        XCTAssertLessThan(elapsed, .seconds(1), "close() waited for the parked fetch")
    }

    func testSeekToBeginningSupersedesAFetchParkedAtTheEnd() async throws {
        try await createTopic("history", records: 5)
        let client = try await client()
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(fetchMaxWait: .milliseconds(Self.longWaitMs), autoOffsetReset: .latest)
        )
        let tp = TopicPartition(topic: "history", partition: 0)
        try await consumer.assign([tp])
        try await parkFetch(consumer, tp)
        let parkedAt = try await consumer.position(tp)
        XCTAssertEqual(parkedAt, 5)

        let start = ContinuousClock.now
        try await consumer.seekToBeginning()
        var records: [ConsumerRecord] = []
        while records.count < 5, ContinuousClock.now - start < .seconds(Self.longWaitMs / 1000 * 2) {
            records += try await consumer.poll(timeout: .seconds(1))
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertEqual(records.map(\.offset), [0, 1, 2, 3, 4])
        XCTAssertLessThan(elapsed, Self.promptLimit, "the seek waited for the fetch parked at the old position")
        await consumer.close()
        await client.close()
    }

    func testAssignSupersedesAParkedFetch() async throws {
        try await createTopic("empty", records: 0)
        try await createTopic("full", records: 3)
        let client = try await client()
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(Self.longWaitMs), autoOffsetReset: .earliest))
        let empty = TopicPartition(topic: "empty", partition: 0)
        try await consumer.assign([empty])
        try await parkFetch(consumer, empty)

        let start = ContinuousClock.now
        try await consumer.assign([empty, TopicPartition(topic: "full", partition: 0)])
        var records: [ConsumerRecord] = []
        while records.count < 3, ContinuousClock.now - start < .seconds(Self.longWaitMs / 1000 * 2) {
            records += try await consumer.poll(timeout: .seconds(1))
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertEqual(records.map(\.value).map { $0.map { String(decoding: $0, as: UTF8.self) } }, ["1", "2", "3"])
        XCTAssertLessThan(
            elapsed, Self.promptLimit, "the new partition waited for the fetch parked on the old assignment")
        await consumer.close()
        await client.close()
    }
}
