import Foundation
import TernTestSupport
import TernWire
import XCTest

/// An idempotent producer's `acks=all` retry of a batch a replicated partition already committed
/// (its first answer was lost) is answered with the original offsets at once — from the leader
/// that stored it and, after a kill -9, from the new leader — and the record is stored once.
///
/// The acks=all waiters of a replicated partition are woken when the high watermark moves; a
/// retry whose batch is already below it waits for nothing, so it must be checked when parked.
/// Before that check, on a partition nobody else produced to, the retry waited out its whole
/// timeout and failed with REQUEST_TIMED_OUT (the producer, retrying until its delivery timeout,
/// then reported a committed record as not delivered).
final class ClusterIdempotentRetryTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!
    let topic = "retried"

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-idempotent-retry")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: ClusterReplicationTests.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    /// The partition's leader as any of `asking` reports it (-1 when none answers with one).
    private func leader(asking: [Int32]) -> Int32 {
        for nodeId in asking {
            if let t = cluster.metadata(nodeId, [topic], timeout: 3)?.topics.first(where: { $0.name == topic }),
                let p = t.partitions.first(where: { $0.partition == 0 }), p.leader > 0, p.isr.count >= 2
            {
                return p.leader
            }
        }
        return -1
    }

    private func produce(_ nodeId: Int32, _ batch: [UInt8], timeoutMs: Int32) -> ProduceResponse.Partition? {
        cluster.send(
            nodeId,
            ProduceRequest(
                acks: -1, timeoutMs: timeoutMs,
                topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])]
            ), timeout: Double(timeoutMs) / 1000 + 10
        )?.topics.first?.partitions.first
    }

    /// The values a consumer reads from `nodeId` from offset 0 up to the high watermark.
    private func visibleValues(_ nodeId: Int32) -> [String]? {
        guard
            let p = cluster.send(
                nodeId,
                FetchRequest(
                    maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                    topics: [.init(name: topic, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])]),
                timeout: 5)?.topics.first?.partitions.first, p.errorCode == .none,
            let records = try? decodeRecords(p.records)
        else { return nil }
        return records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
    }

    func testRetryOfCommittedBatchIsAnsweredAtOnceBeforeAndAfterFailover() throws {
        cluster.waitForBrokers(3, askingNodes: [1])
        cluster.waitUntil(30, "the RF=3 topic is created") {
            let answer = cluster.send(
                1,
                CreateTopicsRequest(topics: [
                    .init(
                        name: topic, numPartitions: 1, replicationFactor: 3,
                        configs: [.init(name: "min.insync.replicas", value: "2")])
                ]))
            return [ErrorCode.none, .topicAlreadyExists].contains(answer?.topics.first?.errorCode)
        }
        var first: Int32 = -1
        cluster.waitUntil(30, "the partition has a leader with all three replicas in sync") {
            guard let t = cluster.metadata(1, [topic], timeout: 3)?.topics.first(where: { $0.name == topic }),
                let p = t.partitions.first, p.leader > 0, p.isr.count == 3
            else { return false }
            first = p.leader
            return true
        }
        let id = try XCTUnwrap(cluster.send(first, InitProducerIdRequest())?.producerId)
        let batch = makeBatch(
            records: [TestRecord(key: nil, value: "once")], producerId: id, producerEpoch: 0, baseSequence: 0)

        // The first send, repeated (it is idempotent) until the leader serves the partition.
        var original: ProduceResponse.Partition?
        cluster.waitUntil(30, "the first acks=all produce is acknowledged") {
            original = produce(first, batch, timeoutMs: 10_000)
            return original?.errorCode == ErrorCode.none
        }
        let offset = try XCTUnwrap(original?.baseOffset)

        // The same batch again: its answer was "lost". Nothing else is produced to the partition,
        // so its high watermark does not move again; the retry must not wait for it to.
        let started = Date()
        let retry = try XCTUnwrap(produce(first, batch, timeoutMs: 30_000), "no answer to the retry\n\(cluster.logs)")
        XCTAssertEqual(
            retry.errorCode, .none, "retry of a committed batch: \(retry.errorMessage ?? "")\n\(cluster.logs)")
        XCTAssertEqual(retry.baseOffset, offset, "the retry is answered with the original offset")
        XCTAssertLessThan(Date().timeIntervalSince(started), 25, "answered well before its 30 s timeout")

        // kill -9 the leader; the new leader got the batch (and its producer state) by replication.
        cluster.kill9(first)
        let others = [Int32(1), 2, 3].filter { $0 != first }
        var second: Int32 = -1
        cluster.waitUntil(60, "another broker leads the partition") {
            second = leader(asking: others)
            return second > 0 && second != first
        }
        var afterFailover: ProduceResponse.Partition?
        cluster.waitUntil(60, "the retry is acknowledged by the new leader") {
            // NOT_LEADER_OR_FOLLOWER until its replica machine runs: retried, as a producer would.
            afterFailover = produce(second, batch, timeoutMs: 30_000)
            return afterFailover?.errorCode != .notLeaderOrFollower && afterFailover != nil
        }
        XCTAssertEqual(
            afterFailover?.errorCode, ErrorCode.none,
            "retry on the new leader: \(afterFailover?.errorMessage ?? "")\n\(cluster.logs)")
        XCTAssertEqual(afterFailover?.baseOffset, offset, "the new leader answers with the original offset")
        var values: [String]?
        cluster.waitUntil(30, "the new leader serves the partition") {
            values = visibleValues(second)
            return values != nil
        }
        XCTAssertEqual(values, ["once"], "the record is stored once")
    }
}
