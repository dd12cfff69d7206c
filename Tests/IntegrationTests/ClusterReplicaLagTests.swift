import Foundation
import TernTestSupport
import TernWire
import XCTest

/// Follower lag as the partition leader sees it, with real `ternd` processes (two controller-only
/// nodes and three brokers, so freezing a broker leaves the metadata quorum alone): a caught-up
/// follower shows 0 records and 0 ms behind; a frozen one (SIGSTOP) shows the records appended
/// since and a time since it was caught up that keeps growing, in DescribeReplicaLag,
/// `tern topic describe`, `tern_replica_max_lag` and `tern_replica_max_lag_seconds`; resumed, it
/// is caught up again.
final class ClusterReplicaLagTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!
    let brokers: [Int32] = [3, 4, 5]

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-replica-lag")
        cluster = try ClusterProcesses(
            count: 5, directory: directory.path, settings: ClusterReplicationTests.settings,
            roles: ["controller", "controller", "broker", "broker", "broker"])
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    private func tern(_ nodeId: Int32, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(
            Binaries.path("tern"), ["--bootstrap", cluster.node(nodeId).bootstrap] + arguments, stdin: stdin,
            timeout: 60)
    }

    /// The leader's view of every replica of partition 0 of `topic`.
    private func lag(_ leader: Int32, _ topic: String) -> [Int32: DescribeReplicaLagResponse.Replica]? {
        let response = cluster.send(
            leader, DescribeReplicaLagRequest(topics: [.init(name: topic, partitions: [0])]), timeout: 5)
        guard let partition = response?.topics.first?.partitions.first, partition.errorCode == .none else { return nil }
        return Dictionary(partition.replicas.map { ($0.replicaId, $0) }, uniquingKeysWith: { first, _ in first })
    }

    private func produce(_ leader: Int32, _ topic: String, _ range: Range<Int>) throws {
        let lines = range.map { "record-\($0)" }.joined(separator: "\n") + "\n"
        let produced = try tern(leader, ["produce", topic, "--acks", "1"], stdin: lines)
        XCTAssertEqual(produced.status, 0, produced.stderr)
    }

    func testAFrozenFollowerShowsGrowingLagAndACaughtUpOneShowsNone() throws {
        cluster.waitForBrokers(3, askingNodes: [3])
        let created = try tern(3, ["topic", "create", "lagging", "--partitions", "1", "--replication-factor", "3"])
        XCTAssertEqual(created.status, 0, created.stderr)
        cluster.waitUntil(10, "every broker shows the topic with three in-sync replicas") {
            brokers.allSatisfy { cluster.metadataPartition($0, "lagging")?.isr.count == 3 }
        }
        let leader = try XCTUnwrap(cluster.metadataPartition(3, "lagging")?.leader)
        let followers = brokers.filter { $0 != leader }
        try produce(leader, "lagging", 0..<100)
        cluster.waitUntil(20, "both followers are caught up: 0 records and 0 ms behind") {
            guard let seen = lag(leader, "lagging"), seen.count == 3 else { return false }
            return followers.allSatisfy { seen[$0]?.lagRecords == 0 && seen[$0]?.caughtUpAgoMs == 0 }
                && seen[leader]?.fetchOffset == 100
        }

        let frozen = followers[0]
        let live = followers[1]
        cluster.pause(frozen)
        defer { cluster.resume(frozen) }
        try produce(leader, "lagging", 100..<150)
        cluster.waitUntil(20, "the frozen follower is 50 records behind, the live one caught up") {
            guard let seen = lag(leader, "lagging") else { return false }
            return seen[frozen]?.lagRecords == 50 && seen[frozen]?.fetchOffset == 100 && seen[live]?.lagRecords == 0
                && seen[live]?.caughtUpAgoMs == 0
        }
        let first = try XCTUnwrap(lag(leader, "lagging")?[frozen])
        XCTAssertGreaterThanOrEqual(first.caughtUpAgoMs, 0)
        try produce(leader, "lagging", 150..<250)
        // The time since it was caught up only grows while it is frozen.
        usleep(1_200_000)
        let second = try XCTUnwrap(lag(leader, "lagging")?[frozen])
        XCTAssertEqual(second.lagRecords, 150)
        XCTAssertGreaterThanOrEqual(second.caughtUpAgoMs, first.caughtUpAgoMs + 1000, "\(first) then \(second)")
        XCTAssertGreaterThanOrEqual(second.lastFetchAgoMs, 1000)

        // The CLI shows the same, per replica; the leader's gauge the largest lag.
        let described = try tern(live, ["topic", "describe", "lagging", "--json"])
        XCTAssertEqual(described.status, 0, described.stderr)
        let json = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? [String: Any], described.stdout)
        let partition = try XCTUnwrap((json["partitions"] as? [[String: Any]])?.first, described.stdout)
        let replicas = try XCTUnwrap(partition["replicaLag"] as? [[String: Any]], described.stdout)
        let byId = Dictionary(
            replicas.compactMap { r in (r["replica"] as? Int).map { ($0, r) } }, uniquingKeysWith: { first, _ in first }
        )
        XCTAssertEqual(byId[Int(frozen)]?["lagRecords"] as? Int, 150, described.stdout)
        XCTAssertEqual(byId[Int(live)]?["lagRecords"] as? Int, 0, described.stdout)
        XCTAssertEqual(byId[Int(leader)]?["lagRecords"] as? Int, 0, described.stdout)
        XCTAssertGreaterThanOrEqual(byId[Int(frozen)]?["caughtUpAgoMs"] as? Int ?? -1, 1000, described.stdout)
        let text = try tern(live, ["topic", "describe", "lagging"])
        XCTAssertTrue(text.stdout.contains("CAUGHT-UP-AGO"), text.stdout)
        let frozenRow = text.stdout.split(separator: "\n").first { line in
            let cells = line.split(separator: " ", omittingEmptySubsequences: true)
            return cells.count >= 6 && cells[0] == "0" && cells[1] == "\(frozen)"
        }
        XCTAssertNotNil(frozenRow, text.stdout)
        XCTAssertTrue(frozenRow?.contains(" 150 ") ?? false, text.stdout)

        let metrics = try PrometheusText(try httpGet(port: cluster.node(leader).adminPort, "/metrics").text)
        XCTAssertEqual(metrics.value("tern_replica_max_lag"), 150)
        // Scraped after `second` was read, on the same clock: at least that long behind.
        XCTAssertGreaterThanOrEqual(
            metrics.value("tern_replica_max_lag_seconds") ?? -1, Double(second.caughtUpAgoMs) / 1000)

        // A broker that does not lead the partition refuses to answer for it.
        let elsewhere = cluster.send(live, DescribeReplicaLagRequest(topics: [.init(name: "lagging", partitions: [0])]))
        XCTAssertEqual(elsewhere?.topics.first?.partitions.first?.errorCode, .notLeaderOrFollower)
        let unknown = cluster.send(leader, DescribeReplicaLagRequest(topics: [.init(name: "lagging", partitions: [7])]))
        XCTAssertEqual(unknown?.topics.first?.partitions.first?.errorCode, .unknownTopicOrPartition)

        cluster.resume(frozen)
        cluster.waitUntil(20, "the resumed follower catches up") {
            guard let seen = lag(leader, "lagging") else { return false }
            return seen[frozen]?.lagRecords == 0 && seen[frozen]?.caughtUpAgoMs == 0
        }
        cluster.waitUntil(10, "the gauge goes back to 0") {
            let scraped = try PrometheusText(try httpGet(port: cluster.node(leader).adminPort, "/metrics").text)
            return scraped.value("tern_replica_max_lag") == 0 && scraped.value("tern_replica_max_lag_seconds") == 0
        }
    }
}
