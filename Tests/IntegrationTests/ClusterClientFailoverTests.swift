import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// The SDK through a partition leader's `kill -9` on three real `ternd` processes: the producer
/// and the consumer refresh their metadata, find the new leader and go on there (the producer's
/// idempotent numbering restarting on a leader that never saw it, so nothing is lost or doubled
/// on the way); the consumer validates its position with the new leader (KIP-320) and, when the
/// new leader's log does not hold what it read (partition data not replicated yet), reports the
/// truncation and resumes at the diverging offset rather than waiting at its old position (with
/// replicated partitions it reads on with nothing reported); a client bootstraps with its first
/// bootstrap broker dead.
final class ClusterClientFailoverTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-failover")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: ClusterQuorumTests.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    private var all: [Int32] { [1, 2, 3] }

    private func string(_ bytes: ArraySlice<UInt8>?) -> String {
        bytes.map { String(decoding: $0, as: UTF8.self) } ?? "nil"
    }

    /// Polls until `count` records arrived or `seconds` passed.
    private func poll(_ consumer: TernConsumer, count: Int, seconds: Double) async throws -> [ConsumerRecord] {
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(seconds)
        while records.count < count, ContinuousClock.now < deadline {
            records += try await consumer.poll(timeout: .milliseconds(500))
        }
        return records
    }

    func testProducerAndConsumerFollowTheNewLeaderAfterKill9() async throws {
        cluster.waitUntil(60, "3 brokers") {
            all.allSatisfy { id in
                (try? RawConnection(port: cluster.node(id).clientPort, timeout: 5).roundTrip(
                    MetadataRequest(topics: [])))?
                    .response?.brokers.count == 3
            }
        }
        let client = try await TernClient(
            configuration: ClientConfiguration(
                bootstrap: all.map { cluster.node($0).bootstrap }, requestTimeout: .seconds(10)))
        try await client.admin.createTopic(name: "failover", partitions: 1, replicationFactor: 3)
        var first: MetadataResponse.Partition?
        cluster.waitUntil(20, "a leader for failover-0") {
            first = cluster.metadataPartition(1, "failover")
            return (first?.leader ?? -1) > 0
        }
        let oldLeader = try XCTUnwrap(first).leader
        let tp = TopicPartition(topic: "failover", partition: 0)

        let producer = client.producer(configuration: ProducerConfiguration(acks: .all, deliveryTimeout: .seconds(60)))
        for i in 0..<5 {
            let stored = try await producer.send(topic: "failover", value: Array("before-\(i)".utf8), partition: 0)
            XCTAssertEqual(stored.offset, Int64(i))
        }
        let truncations = Mutex<[LogTruncation]>([])
        var consumerConfiguration = ConsumerConfiguration(autoOffsetReset: .earliest)
        consumerConfiguration.onLogTruncation = { truncation in truncations.withLock { $0.append(truncation) } }
        let consumer = client.consumer(configuration: consumerConfiguration)
        try await consumer.assign([tp])
        let before = try await poll(consumer, count: 5, seconds: 20)
        XCTAssertEqual(before.map { string($0.value) }, (0..<5).map { "before-\($0)" })

        // kill -9 of the leader. The producer's next record goes to it, fails, and follows the
        // metadata to the new leader once the controller fenced the dead one (3 s session).
        cluster.kill9(oldLeader)
        let stored = try await producer.send(topic: "failover", value: Array("after-0".utf8), partition: 0)
        let moved = try XCTUnwrap(cluster.metadataPartition(all.first { $0 != oldLeader }!, "failover"))
        XCTAssertNotEqual(moved.leader, oldLeader)
        XCTAssertEqual(moved.leaderEpoch, 1)
        // Either the new leader holds the five acknowledged records (replicated partitions) and
        // the record follows them, or it never stored them (partition data not replicated yet):
        // then the producer's numbering restarted there instead of failing with
        // UNKNOWN_PRODUCER_ID, and the record is stored once, at the start of the new log.
        let base = stored.offset
        XCTAssertTrue(base == 0 || base == 5, "stored at \(base)")
        let replicated = base == 5
        for i in 1..<3 {
            let next = try await producer.send(topic: "failover", value: Array("after-\(i)".utf8), partition: 0)
            XCTAssertEqual(next.offset, base + Int64(i))
        }

        // The consumer validated its position with the new leader. Replicated: its position is
        // in the new log and it reads on. Not replicated: the log there diverges at 0 (epoch 0
        // ends at 0), below the 5 records it returned; it says so and resumes at 0.
        let after = try await poll(consumer, count: 3, seconds: 30)
        XCTAssertEqual(after.map { string($0.value) }, ["after-0", "after-1", "after-2"])
        XCTAssertEqual(after.map(\.offset), [base, base + 1, base + 2])
        let reported = truncations.withLock { $0 }
        if replicated {
            XCTAssertEqual(reported, [], "nothing was truncated")
        } else {
            XCTAssertEqual(reported.count, 1, "\(reported)")
            let truncation = try XCTUnwrap(reported.first)
            XCTAssertEqual(truncation.topicPartition, tp)
            XCTAssertEqual(truncation.divergingOffset, 0)
            XCTAssertEqual(truncation.divergingEpoch, 0)
            XCTAssertEqual(truncation.lastFetchedEpoch, 0)
            XCTAssertEqual(truncation.position, 5)
            XCTAssertEqual(truncation.returnedRecordsLost, 5)
            XCTAssertEqual(truncation.resumeOffset, 0)
        }
        let position = try await consumer.position(tp)
        XCTAssertEqual(position, base + 3)

        // A new client bootstraps with its first bootstrap broker dead, and finds the new leader.
        let late = try await TernClient(
            configuration: ClientConfiguration(
                bootstrap: [cluster.node(oldLeader).bootstrap]
                    + all.filter { $0 != oldLeader }.map { cluster.node($0).bootstrap },
                requestTimeout: .seconds(10)))
        let lateProducer = late.producer()
        let lateRecord = try await lateProducer.send(topic: "failover", value: Array("late".utf8), partition: 0)
        XCTAssertEqual(lateRecord.offset, base + 3)
        let lateRecords = try await poll(consumer, count: 1, seconds: 20)
        XCTAssertEqual(lateRecords.map { string($0.value) }, ["late"])

        // The CLI is the SDK: with the dead broker first in its bootstrap list it produces to and
        // consumes from the new leader.
        let bootstrap = ([oldLeader] + all.filter { $0 != oldLeader }).map { cluster.node($0).bootstrap }
            .joined(separator: ",")
        let produced = try runCommand(
            Binaries.path("tern"), ["--bootstrap", bootstrap, "produce", "failover", "--partition", "0"],
            stdin: "cli\n", timeout: 30)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let consumed = try runCommand(
            Binaries.path("tern"),
            [
                "--bootstrap", bootstrap, "consume", "failover", "--partition", "0", "--from-beginning",
                "--max-messages", "\(base + 5)", "--timeout-ms", "20000",
            ], timeout: 30)
        let earlier = replicated ? (0..<5).map { "before-\($0)\n" }.joined() : ""
        XCTAssertEqual(consumed.stdout, earlier + "after-0\nafter-1\nafter-2\nlate\ncli\n", consumed.stderr)

        await consumer.close()
        await producer.close()
        await lateProducer.close()
        await late.close()
        await client.close()
    }
}
