import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Topics through the metadata log with three real `ternd` processes: any node takes topic
/// requests and forwards them to the active controller; every node answers Metadata from the
/// same committed image and makes the logs of the partitions it replicates; the controller's
/// loss is survived and a lost majority fails requests clearly, without a hang.
final class ClusterTopicsTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-topics")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: ClusterQuorumTests.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    private func partitionDirectories(_ nodeId: Int32, _ topic: String) -> Set<String> {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: cluster.node(nodeId).dataDirectory)) ?? []
        return Set(entries.filter { $0.hasPrefix(topic + "-") && !$0.contains(".") })
    }

    // MARK: Tests

    func testTopicRequestsOnAnyNodeReachEveryNode() throws {
        let controller = cluster.waitForBrokers(3, askingNodes: [1])
        for id in [Int32(2), 3] { cluster.waitForBrokers(3, askingNodes: [id]) }
        let other = [Int32(1), 2, 3].first { $0 != controller }!

        // validateOnly is decided by the controller against the cluster's metadata, creating
        // nothing.
        let checked = cluster.send(
            other,
            CreateTopicsRequest(
                topics: [
                    .init(name: "orders", numPartitions: 3, replicationFactor: 2),
                    .init(name: "too-wide", numPartitions: 1, replicationFactor: 4),
                ], validateOnly: true))
        XCTAssertEqual(checked?.topics.map(\.errorCode), [ErrorCode.none, .invalidReplicationFactor])
        XCTAssertEqual(cluster.metadata(other, ["orders"])?.topics.first?.errorCode, .unknownTopicOrPartition)

        // Created through a node that is not the controller: forwarded, and applied by that node
        // before it answers, so its Metadata shows the topic at once.
        let created = cluster.send(
            other, CreateTopicsRequest(topics: [.init(name: "orders", numPartitions: 3, replicationFactor: 2)]))
        XCTAssertEqual(created?.topics.map(\.errorCode), [ErrorCode.none], "\(String(describing: created))")
        let seen = try XCTUnwrap(cluster.metadata(other, ["orders"]))
        XCTAssertFalse(seen.clusterId.isEmpty)
        XCTAssertEqual(seen.clusterId == "tern-single-node", false)
        XCTAssertEqual(Set(seen.brokers.map(\.nodeId)), [1, 2, 3])
        XCTAssertEqual(
            Set(seen.brokers.map(\.port)), Set([Int32(1), 2, 3].map { Int32(cluster.node($0).clientPort) }))
        let topic = try XCTUnwrap(seen.topics.first)
        XCTAssertEqual(topic.errorCode, .none)
        XCTAssertEqual(topic.partitions.count, 3)
        for partition in topic.partitions {
            XCTAssertEqual(partition.replicas.count, 2)
            XCTAssertTrue(Set(partition.replicas).isSubset(of: [1, 2, 3]))
            XCTAssertEqual(partition.leader, partition.replicas.first)
            XCTAssertEqual(Set(partition.isr), Set(partition.replicas))
        }
        // Every node answers from the same committed image, and each replica has its log.
        cluster.waitUntil(10, "every node lists orders with the same assignment") {
            [Int32(1), 2, 3].allSatisfy {
                cluster.metadata($0, ["orders"])?.topics.first?.partitions == topic.partitions
            }
        }
        cluster.waitUntil(10, "each replica broker has the logs of its partitions") {
            [Int32(1), 2, 3].allSatisfy { id in
                partitionDirectories(id, "orders")
                    == Set(topic.partitions.filter { $0.replicas.contains(id) }.map { "orders-\($0.partition)" })
            }
        }

        // Records go to the leader (the SDK follows Metadata) and come back.
        let produced = try runCommand(
            Binaries.path("tern"),
            ["--bootstrap", cluster.node(other).bootstrap, "produce", "orders", "--partition", "0"],
            stdin: "first\n", timeout: 30)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let consumed = try runCommand(
            Binaries.path("tern"),
            [
                "--bootstrap", cluster.node(controller).bootstrap, "consume", "orders", "--partition", "0",
                "--from-beginning", "--max-messages", "1", "--timeout-ms", "10000",
            ], timeout: 30)
        XCTAssertEqual(consumed.stdout, "first\n", consumed.stderr)
        // A follower refuses: only the leader serves (follower fetching is issue 12).
        let leader = topic.partitions[0].leader
        if let follower = topic.partitions[0].replicas.first(where: { $0 != leader }) {
            let fetch = cluster.send(
                follower,
                FetchRequest(
                    maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                    topics: [
                        .init(name: "orders", partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])
                    ]))
            XCTAssertEqual(fetch?.topics.first?.partitions.first?.errorCode, .notLeaderOrFollower)
            // Nor does a follower's (empty) log answer ListOffsets: a consumer asking it for the
            // latest offset would start at 0 instead of 1.
            let latest = ListOffsetsRequest(topics: [
                .init(name: "orders", partitions: [.init(partition: 0, timestamp: -1)])
            ])
            XCTAssertEqual(
                cluster.send(follower, latest)?.topics.first?.partitions.first?.errorCode, .notLeaderOrFollower)
            let fromLeader = cluster.send(leader, latest)?.topics.first?.partitions.first
            XCTAssertEqual(fromLeader?.errorCode, ErrorCode.none)
            XCTAssertEqual(fromLeader?.offset, 1)
        }

        // Configs altered through a non-controller are seen by every node.
        let altered = cluster.send(
            other,
            AlterConfigsRequest(
                resources: [.init(type: .topic, name: "orders", entries: [.init(name: "retention.ms", value: "1234")])])
        )
        XCTAssertEqual(altered?.resources.map(\.errorCode), [ErrorCode.none])
        cluster.waitUntil(10, "every node describes retention.ms=1234") {
            [Int32(1), 2, 3].allSatisfy { id in
                let described = cluster.send(
                    id,
                    DescribeConfigsRequest(resources: [.init(type: .topic, name: "orders", keys: ["retention.ms"])]),
                    timeout: 5)
                return described?.resources.first?.entries.first?.value == "1234"
            }
        }

        // Replication factor 3 needs three live brokers: with one stopped and fenced, refused.
        let stopped = [Int32(1), 2, 3].first { $0 != controller && $0 != other }!
        cluster.kill9(stopped)
        cluster.waitForBrokers(2, askingNodes: [other], seconds: 30)
        let tooMany = cluster.send(
            other, CreateTopicsRequest(topics: [.init(name: "wide", numPartitions: 1, replicationFactor: 3)]))
        XCTAssertEqual(tooMany?.topics.first?.errorCode, .invalidReplicationFactor)
        XCTAssertTrue(
            tooMany?.topics.first?.errorMessage?.contains("2 are alive") == true, "\(String(describing: tooMany))")
        try cluster.start(stopped)
        cluster.waitForBrokers(3, askingNodes: [stopped])

        // Deleted through a non-controller: gone from every node's Metadata and disk, the
        // restarted node included (it reconciles from the image).
        let deleted = cluster.send(other, DeleteTopicsRequest(names: ["orders"]))
        XCTAssertEqual(deleted?.topics.map(\.errorCode), [ErrorCode.none])
        XCTAssertEqual(cluster.metadata(other, ["orders"])?.topics.first?.errorCode, .unknownTopicOrPartition)
        cluster.waitUntil(10, "every node forgot orders and removed its logs") {
            [Int32(1), 2, 3].allSatisfy { id in
                cluster.metadata(id, ["orders"])?.topics.first?.errorCode == .unknownTopicOrPartition
                    && partitionDirectories(id, "orders").isEmpty
            }
        }
    }

    func testControllerLossAndMajorityLoss() throws {
        let controller = cluster.waitForBrokers(3, askingNodes: [1])
        let survivors = [Int32(1), 2, 3].filter { $0 != controller }

        // kill -9 of the active controller: a surviving node creates topics again once another
        // controller is elected (bounded; the forwarding broker retries the new one).
        cluster.kill9(controller)
        let killedAt = Date()
        var created = false
        while !created && Date().timeIntervalSince(killedAt) < 30 {
            let answer = cluster.send(
                survivors[0],
                CreateTopicsRequest(topics: [.init(name: "after-failover", numPartitions: 1)], timeoutMs: 3000))
            created =
                answer?.topics.first?.errorCode == ErrorCode.none
                || answer?.topics.first?.errorCode == .topicAlreadyExists
            if !created { usleep(100_000) }
        }
        XCTAssertTrue(created, "no topic creation within 30 s of the controller's kill -9\n\(cluster.logs)")

        // Two of three down: no metadata quorum. Create, alter and delete fail within their
        // timeout naming the lost quorum; nothing hangs.
        cluster.kill9(survivors[1])
        let last = survivors[0]
        func checkRefused<R>(_ what: String, _ started: Date, _ code: ErrorCode?, _ message: String?, _ response: R?) {
            let elapsed = Date().timeIntervalSince(started)
            XCTAssertNotNil(response, "\(what): no answer")
            XCTAssertTrue(code == .requestTimedOut || code == .notController, "\(what): \(String(describing: code))")
            XCTAssertTrue(message?.contains("no metadata quorum") == true, "\(what): \(message ?? "nil")")
            XCTAssertLessThan(elapsed, 15, "\(what) took \(elapsed) s")
        }
        var started = Date()
        let create = cluster.send(
            last, CreateTopicsRequest(topics: [.init(name: "lost", numPartitions: 1)], timeoutMs: 4000), timeout: 30)
        checkRefused("create", started, create?.topics.first?.errorCode, create?.topics.first?.errorMessage, create)
        started = Date()
        let alter = cluster.send(
            last,
            AlterConfigsRequest(
                resources: [
                    .init(type: .topic, name: "after-failover", entries: [.init(name: "retention.ms", value: "5")])
                ]), timeout: 60)
        checkRefused(
            "alter", started, alter?.resources.first?.errorCode, alter?.resources.first?.errorMessage, alter)
        started = Date()
        let delete = cluster.send(last, DeleteTopicsRequest(names: ["after-failover"], timeoutMs: 4000), timeout: 30)
        checkRefused("delete", started, delete?.topics.first?.errorCode, delete?.topics.first?.errorMessage, delete)

        // Quorum back: the same requests work.
        try cluster.start(controller)
        try cluster.start(survivors[1])
        var recovered = false
        let deadline = Date().addingTimeInterval(60)
        while !recovered && Date() < deadline {
            let answer = cluster.send(
                last, CreateTopicsRequest(topics: [.init(name: "lost", numPartitions: 1)], timeoutMs: 3000))
            recovered =
                answer?.topics.first?.errorCode == ErrorCode.none
                || answer?.topics.first?.errorCode == .topicAlreadyExists
            if !recovered { usleep(200_000) }
        }
        XCTAssertTrue(recovered, "no topic creation within 60 s of the quorum's return\n\(cluster.logs)")
        let deleted = cluster.send(last, DeleteTopicsRequest(names: ["after-failover"]))
        XCTAssertEqual(deleted?.topics.first?.errorCode, ErrorCode.none)
    }
}
