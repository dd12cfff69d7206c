import Foundation
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A follower that was down while retention deleted the leader's old segments comes back with a
/// fetch offset below the leader's log start: the leader answers OFFSET_OUT_OF_RANGE with its log
/// start, the follower empties its log and starts there (Kafka's `truncateFullyAndStartAt`),
/// catches up and rejoins the in-sync set — and every record it then holds is the leader's.
/// Real processes: three brokers (each a voter), a topic with replication factor 3,
/// `min.insync.replicas=2`, 1 KiB segments and 3 KiB retention checked every 300 ms.
final class ClusterFollowerLogStartTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!
    let topic = "retained"

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-follower-log-start")
        cluster = try ClusterProcesses(
            count: 3, directory: directory.path,
            settings: [
                "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "300",
                "controller.quorum.election.timeout.ms": "500", "controller.quorum.fetch.timeout.ms": "1000",
                "log.retention.check.interval.ms": "300",
            ])
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    private func partitionState(asking nodeId: Int32) -> (leader: Int32, isr: [Int32])? {
        guard
            let p = cluster.metadata(nodeId, [topic], timeout: 3)?.topics.first(where: { $0.name == topic })?
                .partitions.first(where: { $0.partition == 0 })
        else { return nil }
        return (p.leader, p.isr)
    }

    /// An acks=all produce of `values` to `nodeId`: its error and base offset.
    private func produce(_ nodeId: Int32, _ values: [String]) -> (ErrorCode, Int64)? {
        let batch = makeBatch(records: values.map { TestRecord(key: nil, value: $0) })
        let p = cluster.send(
            nodeId,
            ProduceRequest(
                acks: -1, timeoutMs: 10_000,
                topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])]),
            timeout: 15)?.topics.first?.partitions.first
        return p.map { ($0.errorCode, $0.baseOffset) }
    }

    /// The partition's log end on `nodeId` (DescribeLogDirs).
    private func logEnd(_ nodeId: Int32) -> Int64? {
        cluster.send(nodeId, DescribeLogDirsRequest(topics: [topic]), timeout: 3)?.logDirs.flatMap(\.topics)
            .first { $0.name == topic }?.partitions.first { $0.partition == 0 }?.logEndOffset
    }

    /// The leader's log start (ListOffsets earliest).
    private func logStart(_ leader: Int32) -> Int64? {
        let answer = cluster.send(
            leader, ListOffsetsRequest(topics: [.init(name: topic, partitions: [.init(partition: 0, timestamp: -2)])]),
            timeout: 3)?.topics.first?.partitions.first
        guard let answer, answer.errorCode == .none else { return nil }
        return answer.offset
    }

    /// Every record in a stopped broker's log directory for the partition: offset and value.
    private func recordsOnDisk(_ nodeId: Int32) throws -> [(offset: Int64, value: String)] {
        try TernTestSupport.recordsOnDisk(partitionDirectory: cluster.node(nodeId).dataDirectory + "/\(topic)-0")
    }

    func testFollowerBelowTheLeadersLogStartStartsOverAndRejoins() throws {
        cluster.waitForBrokers(3, askingNodes: [1])
        var created = false
        cluster.waitUntil(30, "the topic is created") {
            if !created,
                let answer = cluster.send(
                    1,
                    CreateTopicsRequest(topics: [
                        .init(
                            name: topic, numPartitions: 1, replicationFactor: 3,
                            configs: [
                                .init(name: "min.insync.replicas", value: "2"),
                                .init(name: "segment.bytes", value: "1024"),
                                .init(name: "retention.bytes", value: "3072"),
                            ])
                    ]), timeout: 5)
            {
                created = [ErrorCode.none, .topicAlreadyExists].contains(answer.topics.first?.errorCode)
            }
            return created
        }
        var leader: Int32 = -1
        cluster.waitUntil(30, "a leader with all three replicas in sync") {
            guard let state = partitionState(asking: 1), state.leader > 0, state.isr.count == 3 else { return false }
            leader = state.leader
            return true
        }
        // What the producer was told each offset holds.
        var produced: [Int64: String] = [:]
        func produceBatches(_ prefix: String, _ count: Int) {
            for b in 0..<count {
                let values = (0..<10).map { "\(prefix)-\(b)-\($0)-" + String(repeating: "x", count: 60) }
                var answer: (ErrorCode, Int64)?
                cluster.waitUntil(20, "acks=all batch \(prefix)-\(b) is acknowledged") {
                    answer = produce(leader, values)
                    return answer?.0 == ErrorCode.none
                }
                guard let base = answer?.1 else { return }
                for (i, v) in values.enumerated() { produced[base + Int64(i)] = v }
            }
        }
        produceBatches("early", 3)
        let follower = try XCTUnwrap([Int32(1), 2, 3].first { $0 != leader })
        let end = Int64(produced.count)
        cluster.waitUntil(20, "follower \(follower) has the early records") { logEnd(follower) == end }

        cluster.kill9(follower)
        cluster.waitUntil(30, "the ISR drops the killed follower") {
            guard let isr = partitionState(asking: leader)?.isr else { return false }
            return isr.count == 2 && !isr.contains(follower)
        }
        // Enough acks=all batches (the leader and the other follower) that retention deletes
        // every segment the killed follower's log reaches into.
        produceBatches("later", 20)
        cluster.waitUntil(30, "retention moves the leader's log start past the follower's log end \(end)") {
            (logStart(leader) ?? 0) > end
        }

        try cluster.start(follower)
        let leaderEnd = Int64(produced.count)
        cluster.waitUntil(60, "the follower starts over at the leader's log start and catches up") {
            logEnd(follower) == leaderEnd
        }
        XCTAssertTrue(
            cluster.log(follower).contains("starting over there"),
            "the follower emptied its log on OFFSET_OUT_OF_RANGE\n\(cluster.log(follower))")
        cluster.waitUntil(40, "the follower rejoins the ISR") { partitionState(asking: leader)?.isr.count == 3 }
        produceBatches("after", 2)
        let finalEnd = Int64(produced.count)
        cluster.waitUntil(20, "the follower copies the records produced after it rejoined") {
            logEnd(follower) == finalEnd
        }

        cluster.stop(follower)
        let onDisk = try recordsOnDisk(follower)
        let first = try XCTUnwrap(onDisk.first?.offset)
        XCTAssertGreaterThan(first, end, "nothing of its old log is left")
        XCTAssertEqual(onDisk.map(\.offset), Array(first..<finalEnd), "a gapless copy up to the leader's log end")
        let mismatched = onDisk.filter { produced[$0.offset] != $0.value }.map(\.offset)
        XCTAssertEqual(mismatched, [], "every record the follower holds is the one the leader acknowledged there")
    }
}
