import Foundation
import TernTestSupport
import TernWire
import XCTest

/// AlterPartition (key 56) on three real processes, over the active controller's controller
/// listener, as a partition leader sends it: the current leader shrinks its ISR and grows it back
/// (each change committed and seen in every node's metadata), while a follower, a stale
/// partition epoch, a stale broker epoch and — after the leader is killed and replaced — the old
/// leader are refused with Kafka's codes and change nothing.
final class ClusterAlterPartitionTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-alter-partition")
        // A session long enough that the follower frozen during the ISR requests is not fenced.
        cluster = try ClusterProcesses(
            count: 3, directory: directory.path,
            settings: ClusterQuorumTests.settings.merging(["broker.session.timeout.ms": "10000"]) { $1 })
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    private func alter(_ request: AlterPartitionRequest, askingNodes nodes: [Int32]) -> AlterPartitionResponse? {
        guard let response = cluster.alterPartition(request, askingNodes: nodes) else {
            XCTFail("no active controller answered AlterPartition\n\(cluster.logs)")
            return nil
        }
        return response
    }

    // MARK: Tests

    func testTheLeaderShrinksAndGrowsItsIsrAndStaleSendersAreRefused() throws {
        let all: [Int32] = [1, 2, 3]
        cluster.waitUntil(60, "three unfenced brokers and a controller") {
            guard let answer = cluster.metadata(1) else { return false }
            return answer.brokers.count == 3 && answer.controllerId >= 0
        }
        cluster.waitUntil(60, "the topic is created") {
            guard let connection = try? RawConnection(port: cluster.node(1).clientPort, timeout: 20),
                let (_, created) = try? connection.roundTrip(
                    CreateTopicsRequest(topics: [.init(name: "isr", numPartitions: 1, replicationFactor: 3)]))
            else { return false }
            let code = created?.topics.first?.errorCode
            return code == ErrorCode.none || code == .topicAlreadyExists
        }
        cluster.waitUntil(60, "every node sees isr-0 with three in-sync replicas") {
            all.allSatisfy { cluster.metadataPartition($0, "isr")?.isr.count == 3 }
        }
        let initial = try XCTUnwrap(cluster.metadataPartition(1, "isr"))
        let leader = initial.leader
        let follower = try XCTUnwrap(initial.replicas.first { $0 != leader })
        var id: MetadataUUID?
        cluster.waitUntil(30, "the leader records the topic id") {
            id = cluster.topicId(leader, "isr")
            return id != nil
        }
        let topic = try XCTUnwrap(id)
        let epochs = try cluster.brokerEpochs(askingNode: leader)
        let leaderEpoch = try XCTUnwrap(epochs[leader])
        let shrunkIsr = initial.replicas.filter { $0 != follower }
        // The leader replicates for real: it adds a caught-up follower back to the ISR when that
        // follower fetches. Frozen, the follower does not fetch, so the ISR stays as these
        // requests make it until it runs again.
        cluster.pause(follower)
        defer { cluster.resume(follower) }
        // The frozen node answers nothing (it is also a voter: the other two keep the quorum).
        let running = all.filter { $0 != follower }

        // A stale broker epoch: the whole request is refused.
        let staleBroker = alter(
            AlterPartitionRequest(
                brokerId: leader, brokerEpoch: leaderEpoch - 1,
                partitions: [
                    .init(
                        topicId: topic, partition: 0, leaderEpoch: initial.leaderEpoch, partitionEpoch: 0,
                        newIsr: shrunkIsr)
                ]), askingNodes: running)
        XCTAssertEqual(staleBroker?.errorCode, .staleBrokerEpoch, "\(String(describing: staleBroker))")
        XCTAssertEqual(staleBroker?.partitions, [])

        // The current leader shrinks the ISR. The partition epoch is not in Metadata: a refusal
        // for a stale one names the committed one.
        func shrink(partitionEpoch: Int32) -> AlterPartitionResponse? {
            alter(
                AlterPartitionRequest(
                    brokerId: leader, brokerEpoch: leaderEpoch,
                    partitions: [
                        .init(
                            topicId: topic, partition: 0, leaderEpoch: initial.leaderEpoch,
                            partitionEpoch: partitionEpoch, newIsr: shrunkIsr)
                    ]), askingNodes: running)
        }
        var shrinkAnswer = try XCTUnwrap(shrink(partitionEpoch: 0)?.partitions.first)
        if shrinkAnswer.errorCode == .invalidUpdateVersion {
            shrinkAnswer = try XCTUnwrap(shrink(partitionEpoch: shrinkAnswer.partitionEpoch)?.partitions.first)
        }
        XCTAssertEqual(shrinkAnswer.errorCode, ErrorCode.none, shrinkAnswer.errorMessage ?? "")
        XCTAssertEqual(shrinkAnswer.isr, shrunkIsr)
        XCTAssertEqual(shrinkAnswer.leader, leader)
        XCTAssertEqual(shrinkAnswer.leaderEpoch, initial.leaderEpoch, "an ISR change keeps the leader epoch")
        let shrunkEpoch = shrinkAnswer.partitionEpoch
        cluster.waitUntil(30, "every node's metadata shows the shrunk ISR") {
            running.allSatisfy { cluster.metadataPartition($0, "isr")?.isr == shrunkIsr }
        }

        // A follower cannot change the ISR, nor can the leader from a stale partition epoch.
        let fromFollower = alter(
            AlterPartitionRequest(
                brokerId: follower, brokerEpoch: try XCTUnwrap(epochs[follower]),
                partitions: [
                    .init(
                        topicId: topic, partition: 0, leaderEpoch: initial.leaderEpoch, partitionEpoch: shrunkEpoch,
                        newIsr: [follower])
                ]), askingNodes: running)?.partitions.first
        XCTAssertEqual(fromFollower?.errorCode, .notLeaderOrFollower, fromFollower?.errorMessage ?? "")
        XCTAssertEqual(fromFollower?.leader, leader, "the refusal names the committed state")
        XCTAssertEqual(fromFollower?.isr, shrunkIsr)
        let staleVersion = try XCTUnwrap(shrink(partitionEpoch: shrunkEpoch - 1)?.partitions.first)
        XCTAssertEqual(staleVersion.errorCode, .invalidUpdateVersion, staleVersion.errorMessage ?? "")
        XCTAssertEqual(staleVersion.partitionEpoch, shrunkEpoch)

        // The leader grows it back.
        let grow = try XCTUnwrap(
            alter(
                AlterPartitionRequest(
                    brokerId: leader, brokerEpoch: leaderEpoch,
                    partitions: [
                        .init(
                            topicId: topic, partition: 0, leaderEpoch: initial.leaderEpoch,
                            partitionEpoch: shrunkEpoch, newIsr: shrunkIsr + [follower])
                    ]), askingNodes: running)?.partitions.first)
        XCTAssertEqual(grow.errorCode, ErrorCode.none, grow.errorMessage ?? "")
        XCTAssertEqual(grow.isr, initial.replicas, "replica order")
        XCTAssertEqual(grow.partitionEpoch, shrunkEpoch + 1)
        cluster.waitUntil(30, "every node's metadata shows the full ISR again") {
            running.allSatisfy { cluster.metadataPartition($0, "isr")?.isr == initial.replicas }
        }
        cluster.resume(follower)

        // The leader dies; once fenced, another in-sync replica leads at the next leader epoch.
        // The old leader's change (its registration is still the current one) is refused.
        cluster.kill9(leader)
        let survivors = all.filter { $0 != leader }
        var successor: MetadataResponse.Partition?
        cluster.waitUntil(60, "a survivor leads isr-0 at the next leader epoch") {
            successor = cluster.metadataPartition(survivors[0], "isr")
            return successor.map { $0.leader != leader && $0.leader >= 0 } ?? false
        }
        let current = try XCTUnwrap(successor)
        XCTAssertEqual(current.leaderEpoch, initial.leaderEpoch + 1)
        let staleLeader = try XCTUnwrap(
            alter(
                AlterPartitionRequest(
                    brokerId: leader, brokerEpoch: leaderEpoch,
                    partitions: [
                        .init(
                            topicId: topic, partition: 0, leaderEpoch: initial.leaderEpoch,
                            partitionEpoch: grow.partitionEpoch, newIsr: initial.replicas)
                    ]), askingNodes: survivors)?.partitions.first)
        XCTAssertEqual(staleLeader.errorCode, .fencedLeaderEpoch, staleLeader.errorMessage ?? "")
        XCTAssertEqual(staleLeader.leader, current.leader)
        XCTAssertEqual(staleLeader.leaderEpoch, current.leaderEpoch)
        XCTAssertFalse(staleLeader.isr.contains(leader), "the fenced leader left the ISR")
        cluster.waitUntil(30, "the survivors' metadata: the new leader, and the refused request changed nothing") {
            survivors.allSatisfy {
                guard let seen = cluster.metadataPartition($0, "isr") else { return false }
                return seen.leader == current.leader && seen.leaderEpoch == current.leaderEpoch
                    && seen.isr == staleLeader.isr
            }
        }
    }
}
