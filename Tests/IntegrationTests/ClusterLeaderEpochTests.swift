import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Leader epochs from the metadata image on three real `ternd` processes (KIP-320): the leader
/// stamps the batches it appends with the partition's leader epoch from the image; after a
/// `kill -9` of the leader the controller elects another replica with the epoch bumped, whose
/// batches carry the new epoch; Fetch, ListOffsets and OffsetForLeaderEpoch refuse an older
/// current leader epoch with FENCED_LEADER_EPOCH and a newer one with UNKNOWN_LEADER_EPOCH, and
/// OffsetForLeaderEpoch answers from the new leader's history.
///
/// Until partition data is replicated the new leader's log holds only what was written to it; the
/// assertions hold either way.
final class ClusterLeaderEpochTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-epochs")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: ClusterQuorumTests.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    private func produce(_ nodeId: Int32, _ topic: String, count: Int) -> ProduceResponse.Partition? {
        cluster.send(
            nodeId,
            ProduceRequest(
                acks: -1, timeoutMs: 5000,
                topics: [.init(name: topic, partitions: [.init(partition: 0, records: makeBatch(count: count))])])
        )?.topics.first?.partitions.first
    }

    private func fetch(_ nodeId: Int32, _ topic: String, offset: Int64, current: Int32) -> FetchResponse.Partition? {
        cluster.send(
            nodeId,
            FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                topics: [
                    .init(
                        name: topic,
                        partitions: [
                            .init(partition: 0, fetchOffset: offset, maxBytes: 1 << 20, currentLeaderEpoch: current)
                        ])
                ])
        )?.topics.first?.partitions.first
    }

    private func batchEpochs(_ records: [UInt8]) -> [Int32] {
        var epochs: [Int32] = []
        var position = 0
        while let header = RecordBatchHeader(records, at: position), header.totalSize <= records.count - position {
            epochs.append(header.partitionLeaderEpoch)
            position += header.totalSize
        }
        return epochs
    }

    private func endOffset(_ nodeId: Int32, _ topic: String, epoch: Int32, current: Int32)
        -> OffsetForLeaderEpochResponse.Partition?
    {
        cluster.send(
            nodeId,
            OffsetForLeaderEpochRequest(topics: [
                .init(name: topic, partitions: [.init(partition: 0, currentLeaderEpoch: current, leaderEpoch: epoch)])
            ])
        )?.topics.first?.partitions.first
    }

    private func listLatest(_ nodeId: Int32, _ topic: String, current: Int32) -> ListOffsetsResponse.Partition? {
        cluster.send(
            nodeId,
            ListOffsetsRequest(topics: [
                .init(name: topic, partitions: [.init(partition: 0, timestamp: -1, currentLeaderEpoch: current)])
            ])
        )?.topics.first?.partitions.first
    }

    // MARK: Tests

    func testBatchesCarryTheImagesLeaderEpochAndStaleEpochsAreFencedAfterFailover() throws {
        cluster.waitUntil(60, "node 1 sees 3 brokers") {
            cluster.send(1, MetadataRequest(topics: []))?.brokers.count == 3
        }
        let created = cluster.send(
            1, CreateTopicsRequest(topics: [.init(name: "epochs", numPartitions: 1, replicationFactor: 3)]), timeout: 20
        )
        XCTAssertEqual(created?.topics.map(\.errorCode), [ErrorCode.none])
        var first: MetadataResponse.Partition?
        cluster.waitUntil(20, "a leader for epochs-0") {
            first = cluster.metadataPartition(1, "epochs")
            return (first?.leader ?? -1) > 0
        }
        let before = try XCTUnwrap(first)
        XCTAssertEqual(before.leaderEpoch, 0)
        let oldLeader = before.leader
        cluster.waitUntil(20, "the leader accepts records") {
            produce(oldLeader, "epochs", count: 2)?.errorCode == ErrorCode.none
        }
        let read = try XCTUnwrap(fetch(oldLeader, "epochs", offset: 0, current: 0))
        XCTAssertEqual(read.errorCode, ErrorCode.none)
        XCTAssertEqual(batchEpochs(read.records), [0])

        // kill -9 of the leader: once fenced, another in-sync replica leads with the epoch bumped.
        cluster.kill9(oldLeader)
        let survivor = [Int32(1), 2, 3].first { $0 != oldLeader }!
        var after: MetadataResponse.Partition?
        cluster.waitUntil(30, "a new leader for epochs-0") {
            after = cluster.metadataPartition(survivor, "epochs")
            return after.map { $0.leader > 0 && $0.leader != oldLeader } ?? false
        }
        let moved = try XCTUnwrap(after)
        XCTAssertEqual(moved.leaderEpoch, 1, "a new leader bumps the leader epoch")
        let newLeader = moved.leader

        // The new leader stamps what it appends with the image's epoch, 1.
        cluster.waitUntil(20, "the new leader accepts records") {
            produce(newLeader, "epochs", count: 3)?.errorCode == ErrorCode.none
        }
        let current = try XCTUnwrap(fetch(newLeader, "epochs", offset: 0, current: 1))
        XCTAssertEqual(current.errorCode, ErrorCode.none)
        // Its log holds the old leader's batch (epoch 0) only once partition data is replicated.
        let epochs = batchEpochs(current.records)
        XCTAssertTrue(epochs == [1] || epochs == [0, 1], "batches carry the leader epoch of the image: \(epochs)")
        let oldEnd: Int64 = epochs.first == 0 ? 2 : 0

        // KIP-320 on Fetch, ListOffsets and OffsetForLeaderEpoch: older is fenced, newer unknown.
        XCTAssertEqual(fetch(newLeader, "epochs", offset: 0, current: 0)?.errorCode, .fencedLeaderEpoch)
        XCTAssertEqual(fetch(newLeader, "epochs", offset: 0, current: 2)?.errorCode, .unknownLeaderEpoch)
        XCTAssertEqual(listLatest(newLeader, "epochs", current: 0)?.errorCode, .fencedLeaderEpoch)
        XCTAssertEqual(listLatest(newLeader, "epochs", current: 2)?.errorCode, .unknownLeaderEpoch)
        let latest = try XCTUnwrap(listLatest(newLeader, "epochs", current: 1))
        XCTAssertEqual(latest.errorCode, ErrorCode.none)
        XCTAssertEqual(latest.offset, oldEnd + 3)
        XCTAssertEqual(endOffset(newLeader, "epochs", epoch: 0, current: 0)?.errorCode, .fencedLeaderEpoch)
        XCTAssertEqual(endOffset(newLeader, "epochs", epoch: 0, current: 2)?.errorCode, .unknownLeaderEpoch)

        // The new leader's history: epoch 1 starts where its log ended when it took over — at 0
        // while partition data is not replicated, so a consumer that read epoch 0 up to offset 2
        // learns its position diverged at 0.
        let old = try XCTUnwrap(endOffset(newLeader, "epochs", epoch: 0, current: 1))
        XCTAssertEqual(old.errorCode, ErrorCode.none)
        XCTAssertEqual(old.leaderEpoch, 0)
        XCTAssertEqual(old.endOffset, oldEnd)
        let now = try XCTUnwrap(endOffset(newLeader, "epochs", epoch: 1, current: 1))
        XCTAssertEqual(now.leaderEpoch, 1)
        XCTAssertEqual(now.endOffset, oldEnd + 3)
        // A replica that does not lead does not answer for the partition.
        if let follower = [Int32(1), 2, 3].first(where: { $0 != oldLeader && $0 != newLeader }) {
            XCTAssertEqual(endOffset(follower, "epochs", epoch: 0, current: 1)?.errorCode, .notLeaderOrFollower)
        }
    }
}
