import Foundation
import TernTestSupport
import TernWire
import XCTest

/// Under-replicated and offline partitions on three real processes, as an operator sees them:
/// `tern topic describe`, `tern cluster health`, the metrics, `/v1/cluster` and `/health/ready`.
/// A broker is killed: once it is fenced, the replicated topic's partition is under-replicated
/// (counted by its leader) and a single-replica partition it held is offline (counted by every
/// node). It comes back: the single-replica partition leads again, and once its leader lets it
/// back into the ISR (AlterPartition, sent here as that leader) every count is 0 again.
final class ClusterPartitionHealthTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!
    let all: [Int32] = [1, 2, 3]

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-partition-health")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: ClusterQuorumTests.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    private func tern(_ nodeId: Int32, _ arguments: [String]) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", cluster.node(nodeId).bootstrap] + arguments, timeout: 30)
    }

    /// One gauge's value in `nodeId`'s `/metrics`; nil when absent or unreadable.
    private func gauge(_ nodeId: Int32, _ name: String) -> Double? {
        guard let response = try? httpGet(port: cluster.node(nodeId).adminPort, "/metrics"),
            let text = try? PrometheusText(String(decoding: response.body, as: UTF8.self))
        else { return nil }
        return text.samples.first { $0.name == name && $0.labels.isEmpty }?.value
    }

    /// `nodeId`'s `/v1/cluster` as JSON.
    private func summary(_ nodeId: Int32) throws -> [String: Any] {
        let body = try httpGet(port: cluster.node(nodeId).adminPort, "/v1/cluster").body
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }

    /// Partition 0 of `topic` from `tern topic describe --json` on `nodeId`.
    private func described(_ nodeId: Int32, _ topic: String) throws -> [String: Any] {
        let result = try tern(nodeId, ["topic", "describe", topic, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let partitions = try XCTUnwrap(json["partitions"] as? [[String: Any]])
        return try XCTUnwrap(partitions.first { $0["partition"] as? Int == 0 })
    }

    private func create(_ topic: String, replicationFactor: Int16, on nodeId: Int32) {
        cluster.waitUntil(60, "topic \(topic) created", every: 200_000) {
            let connection = try RawConnection(port: cluster.node(nodeId).clientPort, timeout: 20)
            let (_, created) = try connection.roundTrip(
                CreateTopicsRequest(
                    topics: [.init(name: topic, numPartitions: 3, replicationFactor: replicationFactor)]))
            let code = created?.topics.first?.errorCode
            return code == ErrorCode.none || code == .topicAlreadyExists
        }
    }

    // MARK: Tests

    func testAKilledBrokerLeavesPartitionsUnderReplicatedAndOfflineUntilItIsBack() throws {
        cluster.waitUntil(60, "three unfenced brokers", every: 200_000) {
            all.allSatisfy { id in
                (try? summary(id)["brokers"] as? [[String: Any]])??.filter { $0["fenced"] as? Bool == false }.count == 3
            }
        }
        create("replicated", replicationFactor: 3, on: 1)
        create("solo", replicationFactor: 1, on: 1)
        cluster.waitUntil(60, "every node sees both topics fully in sync", every: 200_000) {
            all.allSatisfy { id in
                cluster.metadataPartition(id, "replicated")?.isr.count == 3
                    && cluster.metadataPartition(id, "solo")?.isr.count == 1
            }
        }
        for id in all {
            XCTAssertEqual(gauge(id, "tern_under_replicated_partitions"), 0, "node \(id)")
            XCTAssertEqual(gauge(id, "tern_offline_partitions"), 0, "node \(id)")
        }
        let healthy = try tern(1, ["cluster", "health"])
        XCTAssertEqual(healthy.status, 0, healthy.stderr)
        XCTAssertTrue(healthy.stdout.contains("0 under-replicated, 0 offline partitions"), healthy.stdout)
        let before = try described(1, "replicated")
        XCTAssertEqual(before["underReplicated"] as? Bool, false)
        let initialEpoch = try XCTUnwrap(before["leaderEpoch"] as? Int)

        // The victim holds solo-0 (its only replica) and is a replica of replicated-0 (all are).
        let victim = try XCTUnwrap(cluster.metadataPartition(1, "solo")?.replicas.first)
        let survivors = all.filter { $0 != victim }
        cluster.kill9(victim)
        var replicated: MetadataResponse.Partition?
        cluster.waitUntil(60, "the victim leaves replicated-0's ISR once fenced", every: 200_000) {
            replicated = cluster.metadataPartition(survivors[0], "replicated")
            return replicated.map { !$0.isr.contains(victim) && $0.leader >= 0 && $0.leader != victim } ?? false
        }
        let leader = try XCTUnwrap(replicated?.leader)
        let follower = try XCTUnwrap(survivors.first { $0 != leader })
        // Each survivor counts the under-replicated partitions it leads — summed, each of
        // replicated's 3 partitions once — and every survivor counts the offline ones.
        cluster.waitUntil(30, "the survivors' counts", every: 200_000) {
            var sum = 0.0
            for id in survivors {
                let led = try (0..<3).filter {
                    try XCTUnwrap(cluster.metadataPartition(id, "replicated", Int32($0))).leader == id
                }.count
                let count = try XCTUnwrap(gauge(id, "tern_under_replicated_partitions"))
                guard count == Double(led), try XCTUnwrap(gauge(id, "tern_offline_partitions")) >= 1 else {
                    return false
                }
                sum += count
            }
            return sum == 3 && gauge(leader, "tern_under_replicated_partitions") ?? 0 >= 1
        }

        let unhealthy = try tern(follower, ["cluster", "health"])
        XCTAssertNotEqual(unhealthy.status, 0)
        XCTAssertTrue(unhealthy.stderr.contains("under-replicated partition"), unhealthy.stderr)
        XCTAssertTrue(unhealthy.stderr.contains("replicated-0"), unhealthy.stderr)
        XCTAssertTrue(unhealthy.stderr.contains("offline partition"), unhealthy.stderr)
        XCTAssertTrue(unhealthy.stderr.contains("solo-0"), unhealthy.stderr)

        let after = try described(follower, "replicated")
        XCTAssertEqual(after["underReplicated"] as? Bool, true)
        XCTAssertEqual((after["isr"] as? [Int])?.contains(Int(victim)), false)
        XCTAssertEqual((after["replicas"] as? [Int])?.count, 3)
        let text = try tern(follower, ["topic", "describe", "replicated"])
        XCTAssertTrue(text.stdout.contains("LEADER-EPOCH"), text.stdout)
        XCTAssertTrue(text.stdout.contains("(under-replicated)"), text.stdout)
        let solo = try described(follower, "solo")
        XCTAssertNil(solo["leader"] as? Int, "an offline partition has no leader: \(solo)")

        let view = try summary(leader)
        XCTAssertGreaterThanOrEqual(view["underReplicatedPartitions"] as? Int ?? 0, 1)
        XCTAssertEqual(view["clusterUnderReplicatedPartitions"] as? Int, 3)
        XCTAssertGreaterThanOrEqual(view["offlinePartitions"] as? Int ?? 0, 1)
        // Readiness is the process's own: still 200, the body reporting the partitions.
        let ready = try httpGet(port: cluster.node(leader).adminPort, "/health/ready")
        XCTAssertEqual(ready.status, 200, ready.text)
        XCTAssertTrue(ready.text.hasPrefix("ready; "), ready.text)
        XCTAssertTrue(ready.text.contains("3 under-replicated in the cluster"), ready.text)

        // The victim returns: solo-0 leads again once it is unfenced (its last in-sync replica).
        try cluster.start(victim)
        cluster.waitUntil(60, "solo-0 online again and no offline partition on any node", every: 200_000) {
            cluster.metadataPartition(follower, "solo")?.leader == victim
                && all.allSatisfy { gauge($0, "tern_offline_partitions") == 0 }
        }
        // It is back in no ISR until each leader lets it in: do what the leader does.
        let epochs = try cluster.brokerEpochs(askingNode: follower)
        for p in Int32(0)..<3 {
            let current = try XCTUnwrap(cluster.metadataPartition(follower, "replicated", p))
            guard !current.isr.contains(victim) else { continue }
            let id = try XCTUnwrap(cluster.topicId(current.leader, "replicated"))
            func grow(partitionEpoch: Int32) -> AlterPartitionResponse.Partition? {
                cluster.alterPartition(
                    AlterPartitionRequest(
                        brokerId: current.leader, brokerEpoch: epochs[current.leader] ?? -1,
                        partitions: [
                            .init(
                                topicId: id, partition: p, leaderEpoch: current.leaderEpoch,
                                partitionEpoch: partitionEpoch, newIsr: current.isr + [victim])
                        ]), askingNodes: all)?.partitions.first
            }
            // Metadata has no partition epoch; a stale one is answered with the committed state.
            var answer = try XCTUnwrap(grow(partitionEpoch: -1))
            if answer.errorCode == .invalidUpdateVersion {
                answer = try XCTUnwrap(grow(partitionEpoch: answer.partitionEpoch))
            }
            XCTAssertEqual(answer.errorCode, ErrorCode.none, answer.errorMessage ?? "")
        }
        cluster.waitUntil(60, "every count back to 0 on every node", every: 200_000) {
            all.allSatisfy {
                gauge($0, "tern_under_replicated_partitions") == 0 && gauge($0, "tern_offline_partitions") == 0
            }
        }
        let healed = try tern(victim, ["cluster", "health"])
        XCTAssertEqual(healed.status, 0, healed.stderr)
        let final = try described(victim, "replicated")
        XCTAssertEqual(final["underReplicated"] as? Bool, false)
        XCTAssertGreaterThanOrEqual(final["leaderEpoch"] as? Int ?? -1, initialEpoch)
        let readyAgain = try httpGet(port: cluster.node(leader).adminPort, "/health/ready").text
        XCTAssertEqual(readyAgain.trimmingCharacters(in: .whitespacesAndNewlines), "ready", "nothing to report")
    }
}
