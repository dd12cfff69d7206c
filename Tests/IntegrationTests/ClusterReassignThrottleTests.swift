import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// `tern topic reassign --throttle` with three real `ternd` processes: the new replica copies the
/// partition no faster than the throttle (a lower bound on the move's duration, which holds
/// however loaded the machine), the move still completes with every record, `--list` shows the
/// throttle while it lasts and the throttle is removed when the move ends.
final class ClusterReassignThrottleTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-throttle")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: ClusterReassignTests.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    private func tern(_ nodeId: Int32, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(
            Binaries.path("tern"), ["--bootstrap", cluster.node(nodeId).bootstrap] + arguments, stdin: stdin,
            timeout: 120)
    }

    private func moves(_ nodeId: Int32) -> [ListPartitionReassignmentsResponse.Topic]? {
        cluster.send(nodeId, ListPartitionReassignmentsRequest(), timeout: 5)?.topics
    }

    private func throttleConfig(_ nodeId: Int32, _ topic: String) -> DescribeConfigsResponse.Entry? {
        cluster.send(nodeId, DescribeConfigsRequest(resources: [.init(type: .topic, name: topic)]))?
            .resources.first?.entries.first { $0.name == "replication.throttled.rate" }
    }

    func testAThrottledMoveCopiesNoFasterThanTheRateCompletesAndDropsTheThrottle() throws {
        let all: [Int32] = [1, 2, 3]
        cluster.waitForBrokers(3, askingNodes: all)
        let created = try tern(1, ["topic", "create", "slow", "--partitions", "1", "--replication-factor", "1"])
        XCTAssertEqual(created.status, 0, created.stderr)
        cluster.waitUntil(10, "every node shows the topic") {
            all.allSatisfy { cluster.metadataPartition($0, "slow") != nil }
        }
        let before = try XCTUnwrap(cluster.metadataPartition(1, "slow"))
        let old = before.leader
        let target = try XCTUnwrap(all.first { $0 != old })

        // About 3 MB: 3,000 records of 1,000 bytes.
        let padding = String(repeating: "x", count: 990)
        let records = (0..<3000).map { String(format: "%09d", $0) + padding }
        let produced = try tern(old, ["produce", "slow", "--acks", "1"], stdin: records.joined(separator: "\n") + "\n")
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let logs = try XCTUnwrap(cluster.send(old, DescribeLogDirsRequest(topics: ["slow"])))
        let size = try XCTUnwrap(logs.logDirs.flatMap(\.topics).first?.partitions.first?.sizeBytes)
        XCTAssertGreaterThan(size, 3_000_000)

        let rate: Int64 = 200_000
        let start = Date()
        let moved = try tern(
            target,
            ["topic", "reassign", "slow", "--partition", "0", "--replicas", "\(target)", "--throttle", "\(rate)"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        XCTAssertTrue(moved.stdout.contains("throttled to \(rate) B/s"), moved.stdout)

        // While it copies, --list shows the move with its throttle.
        cluster.waitUntil(10, "node \(old) lists the move") { moves(old)?.first?.name == "slow" }
        let listed = try tern(old, ["topic", "reassign", "--list", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let json = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stdout)
        XCTAssertEqual(json.first?["topic"] as? String, "slow", listed.stdout)
        XCTAssertEqual(json.first?["throttle"] as? Int, Int(rate), listed.stdout)
        let text = try tern(old, ["topic", "reassign", "--list"])
        XCTAssertTrue(text.stdout.contains("THROTTLE"), text.stdout)
        XCTAssertTrue(text.stdout.contains("\(rate)"), text.stdout)

        // The replica being added is not in sync, so acks=all does not wait for it: answered
        // while the throttled copy is still going.
        let acked = try tern(old, ["produce", "slow", "--acks", "all"], stdin: "during-the-move\n")
        XCTAssertEqual(acked.status, 0, acked.stderr)
        XCTAssertEqual(moves(old)?.first?.name, "slow", "acks=all was answered before the move ended")

        // Generous upper bound (a loaded machine); the lower bound is the behaviour under test.
        let expected = Double(size) / Double(rate)
        cluster.waitUntil(expected * 4 + 60, "every node shows the move completed onto node \(target)") {
            all.allSatisfy { node in
                cluster.metadataPartition(node, "slow")?.replicas == [target] && moves(node) == []
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        // The token bucket starts empty, banks at most one second's worth and each fetch asks for
        // at most one second's worth (plus the whole batch the leader always sends): copying
        // `size` bytes takes at least (size - 2 × rate - one batch) / rate seconds. Unthrottled,
        // the copy takes about a second.
        let lowerBound = (Double(size) - 2 * Double(rate) - 1_048_576) / Double(rate)
        XCTAssertGreaterThanOrEqual(elapsed, lowerBound, "copied \(size) bytes in \(elapsed) s at \(rate) B/s")
        print("throttled move: \(size) bytes at \(rate) B/s in \(elapsed) s (lower bound \(lowerBound) s)")

        // Kafka clears the throttle when the move ends; so does Tern.
        cluster.waitUntil(10, "the throttle is removed with the move") {
            throttleConfig(target, "slow")?.source != .topic
        }

        // The new replica's broker counted the throttled bytes it fetched.
        let metrics = try PrometheusText(try httpGet(port: cluster.node(target).adminPort, "/metrics").text)
        let fetched = try XCTUnwrap(
            metrics.value("tern_replication_throttled_bytes_total", ["direction": "follower"]), "no follower counter")
        XCTAssertGreaterThanOrEqual(fetched, Double(size) * 0.5, "most of the copy was throttled")
        // And the old leader the bytes it sent them: both ends enforce the rate.
        let leaderMetrics = try PrometheusText(try httpGet(port: cluster.node(old).adminPort, "/metrics").text)
        let sent = try XCTUnwrap(
            leaderMetrics.value("tern_replication_throttled_bytes_total", ["direction": "leader"]), "no leader counter")
        XCTAssertGreaterThanOrEqual(sent, Double(size) * 0.5, "the leader throttled what it sent")

        let consumed = try tern(
            target,
            ["consume", "slow", "--from-beginning", "--max-messages", "\(records.count + 1)", "--timeout-ms", "30000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertEqual(
            consumed.stdout.split(separator: "\n").map(String.init), records + ["during-the-move"],
            "every record, once, in order")
    }
}
