import Foundation
import TernTestSupport
import TernWire
import XCTest

/// A partition with one replica on a cluster follows the single-node rules (docs/cluster.md,
/// "Partitions with one replica"): consumers read up to the log end at once, `acks=all` is
/// answered after the fsync, `min.insync.replicas` above 1 refuses `acks=all` with nothing
/// appended, and a `kill -9` of its broker takes back nothing a consumer saw.
final class ClusterSingleReplicaTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-single-replica")
        cluster = try ClusterProcesses(
            count: 3, directory: directory.path,
            settings: [
                "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "300",
                "controller.quorum.election.timeout.ms": "500", "controller.quorum.fetch.timeout.ms": "1000",
            ])
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    private func leader(_ topic: String) -> Int32? {
        guard
            let p = cluster.metadata(1, [topic], timeout: 3)?.topics.first(where: { $0.name == topic })?
                .partitions.first, p.errorCode == .none, p.leader > 0
        else { return nil }
        return p.leader
    }

    private func produce(_ nodeId: Int32, _ topic: String, _ values: [String], acks: Int16) -> (ErrorCode, Int64)? {
        let batch = makeBatch(records: values.map { TestRecord(key: nil, value: $0) })
        let p = cluster.send(
            nodeId,
            ProduceRequest(
                acks: acks, timeoutMs: 10_000,
                topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])]),
            timeout: 15)?.topics.first?.partitions.first
        return p.map { ($0.errorCode, $0.baseOffset) }
    }

    /// Every value a consumer reads from offset 0, with the high watermark it was told.
    private func consume(_ nodeId: Int32, _ topic: String) -> (values: [String], highWatermark: Int64)? {
        guard
            let p = cluster.send(
                nodeId,
                FetchRequest(
                    maxWaitMs: 0, minBytes: 0, maxBytes: 4 << 20,
                    topics: [.init(name: topic, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 4 << 20)])]),
                timeout: 5)?.topics.first?.partitions.first, p.errorCode == .none,
            let records = try? decodeRecords(p.records)
        else { return nil }
        return (records.map { String(decoding: $0.value ?? [], as: UTF8.self) }, p.highWatermark)
    }

    private func createTopic(_ name: String, minIsr: String) {
        var created = false
        cluster.waitUntil(30, "topic \(name) is created") {
            if !created,
                let answer = cluster.send(
                    1,
                    CreateTopicsRequest(topics: [
                        .init(
                            name: name, numPartitions: 1, replicationFactor: 1,
                            configs: [.init(name: "min.insync.replicas", value: minIsr)])
                    ]), timeout: 5)
            {
                created = [ErrorCode.none, .topicAlreadyExists].contains(answer.topics.first?.errorCode)
            }
            return created
        }
    }

    func testSingleReplicaPartitionFollowsTheSingleNodeRules() throws {
        cluster.waitForBrokers(3, askingNodes: [1])
        createTopic("single", minIsr: "1")
        createTopic("strict", minIsr: "2")
        var node: Int32 = -1
        cluster.waitUntil(30, "the single-replica partition is served") {
            node = leader("single") ?? -1
            return node > 0 && consume(node, "single") != nil
        }
        // acks=1 and acks=all: visible at once, up to the log end.
        XCTAssertEqual(produce(node, "single", ["a1"], acks: 1)?.0, ErrorCode.none)
        let afterAcks1 = try XCTUnwrap(consume(node, "single"))
        XCTAssertEqual(afterAcks1.values, ["a1"], "an acks=1 record is visible as soon as it is answered")
        XCTAssertEqual(afterAcks1.highWatermark, 1)
        XCTAssertEqual(produce(node, "single", ["all1", "all2"], acks: -1)?.0, ErrorCode.none)
        XCTAssertEqual(consume(node, "single")?.values, ["a1", "all1", "all2"])

        // min.insync.replicas=2 cannot be met by one replica: acks=all refused, nothing appended.
        var strictNode: Int32 = -1
        cluster.waitUntil(30, "the strict partition is served") {
            strictNode = leader("strict") ?? -1
            return strictNode > 0 && consume(strictNode, "strict") != nil
        }
        XCTAssertEqual(produce(strictNode, "strict", ["refused"], acks: -1)?.0, .notEnoughReplicas)
        XCTAssertEqual(produce(strictNode, "strict", ["accepted"], acks: 1)?.0, ErrorCode.none)
        XCTAssertEqual(consume(strictNode, "strict")?.values, ["accepted"], "the refused batch was not appended")

        // A crash of its broker takes back nothing a consumer saw (the page cache keeps it and
        // recovery fsyncs it before the broker serves again).
        XCTAssertEqual(produce(node, "single", ["a2"], acks: 1)?.0, ErrorCode.none)
        let seen = try XCTUnwrap(consume(node, "single")).values
        XCTAssertEqual(seen, ["a1", "all1", "all2", "a2"])
        cluster.kill9(node)
        try cluster.start(node)
        cluster.waitUntil(60, "the restarted broker serves its partition again with every record") {
            consume(node, "single")?.values == seen
        }
    }
}
