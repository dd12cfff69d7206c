import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Partition reassignment with three real `ternd` processes: `tern topic reassign` starts a move
/// through any node, every node's image shows the adding and removing replicas, the new
/// replicas' brokers create the partition's log, `--list` shows the move, and `--cancel` puts
/// the partition back (dropping the logs it had added). `__consumer_offsets` is created as wide
/// as the live brokers allow and widened when a broker joins.
///
/// A move to replicas already in sync completes at once, with leadership moved and the old
/// replicas' logs dropped; a move to new replicas completes by itself once they copied the
/// leader's log and the leader brought them into the ISR, with every record on the new leader.
final class ClusterReassignTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    static let settings = ClusterQuorumTests.settings.merging(["offsets.topic.num.partitions": "3"]) { $1 }

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-reassign")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: Self.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    /// Partition 0 of `topic` once every node's Metadata shows it (the CLI's creation went to the
    /// controller, which other nodes apply a moment later).
    private func visiblePartition(_ topic: String) throws -> MetadataResponse.Partition {
        cluster.waitUntil(10, "every node shows \(topic)") {
            [Int32(1), 2, 3].allSatisfy { cluster.metadataPartition($0, topic) != nil }
        }
        return try XCTUnwrap(cluster.metadataPartition(1, topic))
    }

    private func moves(_ nodeId: Int32) -> [ListPartitionReassignmentsResponse.Topic]? {
        cluster.send(nodeId, ListPartitionReassignmentsRequest(), timeout: 5)?.topics
    }

    private func tern(_ nodeId: Int32, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(
            Binaries.path("tern"), ["--bootstrap", cluster.node(nodeId).bootstrap] + arguments, stdin: stdin,
            timeout: 60)
    }

    private func hasLog(_ nodeId: Int32, _ directoryName: String) -> Bool {
        FileManager.default.fileExists(atPath: cluster.node(nodeId).dataDirectory + "/" + directoryName)
    }

    // MARK: Tests

    func testReassignStartsEverywhereIsListedAndCancels() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        let created = try tern(1, ["topic", "create", "moving", "--partitions", "1", "--replication-factor", "1"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let before = try visiblePartition("moving")
        let old = try XCTUnwrap(before.replicas.first)
        let target = [Int32(1), 2, 3].filter { $0 != old }
        let other = target[0]

        // Refused targets: a broker that does not exist, a repeated one.
        let unknown = try tern(other, ["topic", "reassign", "moving", "--partition", "0", "--replicas", "\(old),9"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("INVALID_REPLICA_ASSIGNMENT"), unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("broker 9"), unknown.stderr)
        let repeated = try tern(other, ["topic", "reassign", "moving", "--partition", "0", "--replicas", "2,2"])
        XCTAssertNotEqual(repeated.status, 0)
        XCTAssertEqual(try XCTUnwrap(moves(1)), [], "nothing started")

        // One target replica is frozen so that it cannot catch up: the move stays in progress
        // (the other target may join the ISR; completion needs both). It is neither the old
        // replica nor the active controller, so the quorum keeps a majority.
        let controller = try XCTUnwrap(cluster.send(other, MetadataRequest(topics: []), timeout: 5)?.controllerId)
        let frozen = try XCTUnwrap(target.first { $0 != controller })
        cluster.pause(frozen)
        defer { cluster.resume(frozen) }
        let asked = target.first { $0 != frozen } ?? old

        // Started through a node that is neither the replica nor (necessarily) the controller.
        let started = try tern(
            asked,
            [
                "topic", "reassign", "moving", "--partition", "0", "--replicas",
                target.map(String.init).joined(separator: ","),
                "--throttle", "1048576",
            ])
        XCTAssertEqual(started.status, 0, started.stderr)
        XCTAssertTrue(started.stdout.contains("Reassigning moving-0"), started.stdout)

        let expected = ListPartitionReassignmentsResponse.Topic(
            name: "moving",
            partitions: [
                .init(partition: 0, replicas: target + [old], addingReplicas: target, removingReplicas: [old])
            ])
        let live = [Int32(1), 2, 3].filter { $0 != frozen }
        cluster.waitUntil(10, "every live node's image shows the move") {
            live.allSatisfy { moves($0) == [expected] }
        }
        for id in live {
            let seen = try XCTUnwrap(cluster.metadataPartition(id, "moving"))
            XCTAssertEqual(seen.replicas, target + [old], "node \(id)")
            XCTAssertFalse(seen.isr.contains(frozen), "the frozen replica cannot be in sync")
            XCTAssertEqual(seen.leader, old, "leadership stays until the target is in sync")
            XCTAssertEqual(seen.leaderEpoch, before.leaderEpoch)
        }
        cluster.waitUntil(10, "the live new replica's broker creates the partition's log") {
            target.allSatisfy { $0 == frozen || hasLog($0, "moving-0") } && hasLog(old, "moving-0")
        }

        // --list, as text and JSON.
        let listed = try tern(asked, ["topic", "reassign", "--list", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let json = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stdout)
        XCTAssertEqual(json.count, 1)
        XCTAssertEqual(json.first?["topic"] as? String, "moving")
        XCTAssertEqual(json.first?["addingReplicas"] as? [Int], target.map(Int.init))
        XCTAssertEqual(json.first?["removingReplicas"] as? [Int], [Int(old)])
        XCTAssertEqual(json.first?["targetReplicas"] as? [Int], target.map(Int.init))
        let text = try tern(asked, ["topic", "reassign", "--list"])
        XCTAssertTrue(text.stdout.contains("moving"), text.stdout)
        XCTAssertTrue(text.stdout.contains("ADDING"), text.stdout)

        // The throttle is a topic config for the move.
        let configs = cluster.send(asked, DescribeConfigsRequest(resources: [.init(type: .topic, name: "moving")]))
        XCTAssertEqual(
            configs?.resources.first?.entries.first { $0.name == "replication.throttled.rate" }?.value, "1048576")

        // Cancelled: back to the old replica, the added logs dropped, the throttle gone.
        let cancelled = try tern(asked, ["topic", "reassign", "moving", "--partition", "0", "--cancel"])
        XCTAssertEqual(cancelled.status, 0, cancelled.stderr)
        cluster.waitUntil(10, "every live node's image shows the partition back on its replica") {
            live.allSatisfy { moves($0) == [] && cluster.metadataPartition($0, "moving")?.replicas == [old] }
        }
        cluster.resume(frozen)
        cluster.waitUntil(20, "the added replicas' logs are removed") { target.allSatisfy { !hasLog($0, "moving-0") } }
        XCTAssertTrue(hasLog(old, "moving-0"))
        let after = cluster.send(asked, DescribeConfigsRequest(resources: [.init(type: .topic, name: "moving")]))
        XCTAssertNotEqual(
            after?.resources.first?.entries.first { $0.name == "replication.throttled.rate" }?.source, .topic,
            "the throttle went with the move")
        let again = try tern(asked, ["topic", "reassign", "moving", "--partition", "0", "--cancel"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("NO_REASSIGNMENT_IN_PROGRESS"), again.stderr)
        let empty = try tern(asked, ["topic", "reassign", "--list"])
        XCTAssertTrue(empty.stdout.contains("No reassignments in progress."), empty.stdout)
    }

    func testAMoveToReplicasAlreadyInSyncCompletesWithTheLeaderMovedAndTheOldReplicasDropped() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        let created = try tern(1, ["topic", "create", "shrinking", "--partitions", "1", "--replication-factor", "3"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let before = try visiblePartition("shrinking")
        XCTAssertEqual(Set(before.isr), [1, 2, 3])
        cluster.waitUntil(10, "every replica has the log") {
            [Int32(1), 2, 3].allSatisfy { hasLog($0, "shrinking-0") }
        }
        // The leader is not in the target: completion must move leadership.
        let target = before.replicas.filter { $0 != before.leader }.prefix(1).map { $0 }
        let moved = try tern(2, ["topic", "reassign", "shrinking", "--partition", "0", "--replicas", "\(target[0])"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        cluster.waitUntil(10, "every node shows the partition on its one new replica, leading at the next epoch") {
            [Int32(1), 2, 3].allSatisfy { id in
                guard let seen = cluster.metadataPartition(id, "shrinking") else { return false }
                return seen.replicas == target && seen.isr == target && seen.leader == target[0]
                    && seen.leaderEpoch == before.leaderEpoch + 1 && moves(id) == []
            }
        }
        let dropped = [Int32(1), 2, 3].filter { $0 != target[0] }
        cluster.waitUntil(10, "the removed replicas' brokers drop the log") {
            dropped.allSatisfy { !hasLog($0, "shrinking-0") }
        }
        XCTAssertTrue(hasLog(target[0], "shrinking-0"))
    }

    /// A move to new replicas completes by itself: they copy the leader's log, the leader adds
    /// them to the ISR (AlterPartition) once caught up, and the controller then completes the
    /// move, moving leadership and dropping the old replica; every record is on the new leader.
    func testAMoveToNewReplicasCompletesOnceTheyCaughtUpWithTheRecords() throws {
        let all: [Int32] = [1, 2, 3]
        cluster.waitForBrokers(3, askingNodes: all)
        let created = try tern(1, ["topic", "create", "growing", "--partitions", "1", "--replication-factor", "1"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let before = try visiblePartition("growing")
        let old = before.leader
        let target = all.filter { $0 != old }
        let records = (0..<200).map { "record-\($0)" }
        let produced = try tern(
            old, ["produce", "growing", "--acks", "all"], stdin: records.joined(separator: "\n") + "\n")
        XCTAssertEqual(produced.status, 0, produced.stderr)

        let moved = try tern(
            target[0],
            [
                "topic", "reassign", "growing", "--partition", "0", "--replicas",
                target.map(String.init).joined(separator: ","),
            ])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        cluster.waitUntil(
            30, "every node shows the move completed, led by the target's first replica at the next epoch"
        ) {
            all.allSatisfy { node in
                guard let seen = cluster.metadataPartition(node, "growing") else { return false }
                return seen.replicas == target && Set(seen.isr) == Set(target) && seen.leader == target[0]
                    && seen.leaderEpoch == before.leaderEpoch + 1 && moves(node) == []
            }
        }
        cluster.waitUntil(10, "the old replica's broker drops the log") { !hasLog(old, "growing-0") }
        XCTAssertTrue(target.allSatisfy { hasLog($0, "growing-0") })
        let consumed = try tern(
            target[1],
            ["consume", "growing", "--from-beginning", "--max-messages", "\(records.count)", "--timeout-ms", "20000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertEqual(consumed.stdout.split(separator: "\n").map(String.init), records, "every record, once, in order")
    }

    func testTheOffsetsTopicIsAsWideAsTheLiveBrokersAndWidensWhenOneJoins() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        cluster.kill9(3)
        // Fenced once its session (3 s) expires.
        cluster.waitForBrokers(2, askingNodes: [1])
        let found = cluster.send(1, FindCoordinatorRequest(key: "g1"))
        XCTAssertEqual(found?.errorCode, ErrorCode.none, "\(String(describing: found))")
        cluster.waitUntil(10, "__consumer_offsets exists with two replicas per partition") {
            let topic = cluster.send(1, MetadataRequest(topics: ["__consumer_offsets"]), timeout: 5)?.topics.first
            return topic?.partitions.count == 3
                && topic?.partitions.allSatisfy { Set($0.replicas) == [1, 2] } == true
        }

        try cluster.start(3)
        cluster.waitForBrokers(3, askingNodes: [1])
        // Widened by reassignment: node 3 is added to every partition, which it then replicates.
        // The move is short-lived (empty logs: node 3 is in sync within one fetch, ~100 ms on a
        // quiet machine, and the controller completes it), so polling may miss it; whenever a
        // move of the topic is seen, it only adds node 3. The end state is checked below.
        var seenInProgress = false
        cluster.waitUntil(20, "every __consumer_offsets partition is widened to node 3 (a move seen, or done)") {
            guard let listed = moves(1) else { return false }
            if let topic = listed.first(where: { $0.name == "__consumer_offsets" }) {
                XCTAssertTrue(
                    topic.partitions.allSatisfy { $0.addingReplicas == [3] && $0.removingReplicas == [] },
                    "\(topic)")
                seenInProgress = true
                return topic.partitions.count == 3
            }
            return (0..<3).allSatisfy { index in
                cluster.metadataPartition(1, "__consumer_offsets", Int32(index)).map { Set($0.replicas) } == [1, 2, 3]
            }
        }
        print("__consumer_offsets widening to node 3 seen in progress: \(seenInProgress)")
        cluster.waitUntil(10, "node 3 creates the logs of the partitions it joins") {
            (0..<3).allSatisfy { hasLog(3, "__consumer_offsets-\($0)") }
        }
        cluster.waitUntil(20, "every node shows node 3 among every partition's replicas and in sync, no move left") {
            [Int32(1), 2, 3].allSatisfy { node in
                moves(node) == []
                    && (0..<3).allSatisfy { index in
                        guard let seen = cluster.metadataPartition(node, "__consumer_offsets", Int32(index)) else {
                            return false
                        }
                        return Set(seen.replicas) == [1, 2, 3] && Set(seen.isr) == [1, 2, 3]
                    }
            }
        }
    }
}
