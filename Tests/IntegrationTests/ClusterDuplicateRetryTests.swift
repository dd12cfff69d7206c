import Foundation
import TernTestSupport
import TernWire
import XCTest

/// An idempotent producer's retry of a batch the partition leader already stored is answered
/// with the original offsets — for `acks=all`, as soon as the high watermark has passed them.
/// Real processes: two controller-only nodes and three brokers, a topic with replication factor
/// 3 and `min.insync.replicas=2`.
///
/// The retry's offsets lie below the high watermark from the start, so no later advance of the
/// high watermark is on its way to answer it. Before the fix the produce parked until its
/// `timeoutMs` (REQUEST_TIMED_OUT) unless another append moved the high watermark — which after
/// a failover never came, since the producer sends nothing else to the partition while its retry
/// is in flight: `scripts/bench-failover.sh` saw the producer stall 42–127 s after a `kill -9`.
final class ClusterDuplicateRetryTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!
    let topic = "retried"

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-duplicate-retry")
        cluster = try ClusterProcesses(
            count: 5, directory: directory.path,
            settings: ["broker.heartbeat.interval.ms": "300", "controller.quorum.election.timeout.ms": "500"],
            roles: ["controller", "controller", "broker", "broker", "broker"])
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    func testAcksAllRetryOfAStoredBatchIsAnsweredWithItsOffsetsAtOnce() throws {
        cluster.waitForBrokers(3, askingNodes: [3])
        var leader: Int32 = -1
        cluster.waitUntil(60, "the topic exists with a leader and three in-sync replicas") {
            _ = cluster.send(
                3,
                CreateTopicsRequest(topics: [
                    .init(
                        name: topic, numPartitions: 1, replicationFactor: 3,
                        configs: [.init(name: "min.insync.replicas", value: "2")])
                ]), timeout: 5)
            guard let p = cluster.metadata(3, [topic])?.topics.first?.partitions.first, p.leader > 0, p.isr.count == 3
            else { return false }
            leader = p.leader
            return true
        }
        var producer: InitProducerIdResponse?
        cluster.waitUntil(30, "a producer id") {
            producer = cluster.send(3, InitProducerIdRequest(), timeout: 5)
            return producer?.errorCode == ErrorCode.none
        }
        let id = try XCTUnwrap(producer)
        let batch = makeBatch(
            records: testRecords(count: 3), producerId: id.producerId, producerEpoch: id.producerEpoch, baseSequence: 0)

        /// One acks=all produce of `batch` to the leader: its error and base offset.
        func produce(timeoutMs: Int32) -> (ErrorCode, Int64)? {
            let request = ProduceRequest(
                acks: -1, timeoutMs: timeoutMs,
                topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])])
            guard
                let p = cluster.send(leader, request, timeout: Double(timeoutMs) / 1000 + 10)?.topics.first?.partitions
                    .first
            else { return nil }
            return (p.errorCode, p.baseOffset)
        }

        // The leader may still be starting its replica machine (NOT_LEADER_OR_FOLLOWER): retried.
        var first: (ErrorCode, Int64)?
        cluster.waitUntil(30, "the first send is acknowledged") {
            first = produce(timeoutMs: 10_000)
            return first?.0 == ErrorCode.none
        }
        let stored = try XCTUnwrap(first).1

        // The same batch again, as a producer retries one whose answer it lost. Nothing else is
        // appended, so only the high watermark it already passed can answer it.
        let started = Date()
        let retry = try XCTUnwrap(produce(timeoutMs: 15_000), "the retry got no answer\n\(cluster.logs)")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(retry.0, ErrorCode.none, "the retry after \(elapsed) s\n\(cluster.logs)")
        XCTAssertEqual(retry.1, stored, "a duplicate is answered with the offsets it was stored at")
        // Answered without waiting for its 15 s timeout (a loaded machine still answers in well
        // under that; the bug answered at the timeout, with REQUEST_TIMED_OUT).
        XCTAssertLessThan(elapsed, 10, "the retry waited for its timeout")
        // Stored once.
        let fetched = cluster.send(
            leader,
            FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                topics: [.init(name: topic, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])]),
            timeout: 5)
        let records = try decodeRecords(try XCTUnwrap(fetched?.topics.first?.partitions.first?.records))
        XCTAssertEqual(records.count, 3, "the retry was not stored a second time")
    }
}
