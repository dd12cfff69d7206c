import TernStorage
import TernWire
import XCTest

@testable import TernBroker

/// The replication machine driven by hand: the cases the simulator finds by chance, pinned.
final class PartitionReplicaTests: XCTestCase {
    func state(leader: Int32, epoch: Int32, partitionEpoch: Int32, isr: [Int32]) -> MetadataImage.Partition {
        MetadataImage.Partition(
            partition: 0, replicas: [1, 2, 3], isr: isr, leader: leader, leaderEpoch: epoch,
            partitionEpoch: partitionEpoch)
    }

    func replica(
        _ id: Int32, minIsr: Int = 2, logEnd: Int64 = 0, durableEnd: Int64? = nil, history: LeaderEpochCache = .init()
    ) -> PartitionReplica {
        PartitionReplica(
            config: .init(replicaId: id, minInSyncReplicas: minIsr, replicaLagTimeMaxMs: 1000), incarnation: 1,
            logEnd: logEnd, durableEnd: durableEnd ?? logEnd, history: history)
    }

    func fetch(_ offset: Int64, lastEpoch: Int32, durable: Int64, epoch: Int32 = 1) -> ReplicaFetch {
        ReplicaFetch(
            leaderEpoch: epoch, fetchOffset: offset, lastFetchedEpoch: lastEpoch, durableOffset: durable,
            incarnation: 9, sequence: 1)
    }

    /// acks=all completes only when every ISR member reported the batch *durable*, the leader's
    /// own fsync included; the follower's fetch position alone is not enough.
    func testAcksAllWaitsForDurableOffsetsOfTheIsr() {
        var leader = replica(1)
        _ = leader.step(.partitionState(state(leader: 1, epoch: 1, partitionEpoch: 1, isr: [1, 2])), now: 0)
        let appended = leader.step(.produce(id: 7, recordCount: 3, acks: .all, leaderEpoch: 1), now: 1)
        XCTAssertEqual(appended, [.append(produceId: 7, baseOffset: 0, recordCount: 3, leaderEpoch: 1)])
        // Follower 2 fetched everything but fsynced nothing: no progress.
        var out = leader.step(.fetch(from: 2, fetch(3, lastEpoch: 1, durable: 0)), now: 2)
        XCTAssertFalse(out.contains { if case .produceCompleted = $0 { true } else { false } })
        // Leader fsynced, follower still not.
        out = leader.step(.persisted(upTo: 3), now: 3)
        XCTAssertEqual(leader.highWatermark, 0)
        out = leader.step(.fetch(from: 2, fetch(3, lastEpoch: 1, durable: 2)), now: 4)
        XCTAssertEqual(leader.highWatermark, 2)
        XCTAssertFalse(out.contains { if case .produceCompleted = $0 { true } else { false } })
        out = leader.step(.fetch(from: 2, fetch(3, lastEpoch: 1, durable: 3)), now: 5)
        XCTAssertEqual(leader.highWatermark, 3)
        XCTAssertTrue(out.contains(.produceCompleted(id: 7, baseOffset: 0)))
    }

    func testAcksAllRefusedBelowMinInSyncReplicas() {
        var leader = replica(1)
        _ = leader.step(.partitionState(state(leader: 1, epoch: 1, partitionEpoch: 1, isr: [1])), now: 0)
        XCTAssertEqual(
            leader.step(.produce(id: 1, recordCount: 1, acks: .all, leaderEpoch: nil), now: 1),
            [.produceFailed(id: 1, .notEnoughReplicas)])
        let out = leader.step(.produce(id: 2, recordCount: 1, acks: .leader, leaderEpoch: nil), now: 1)
        XCTAssertEqual(out.last, .produceCompleted(id: 2, baseOffset: 0))
        XCTAssertEqual(
            leader.step(.produce(id: 3, recordCount: 1, acks: .leader, leaderEpoch: 0), now: 1),
            [.produceFailed(id: 3, .fencedLeaderEpoch)])
    }

    /// A follower ahead of a new leader in an older epoch truncates to the point both agree
    /// (KIP-279's repeated-failover case: two rounds of diverging answers) before appending.
    func testFollowerTruncatesDivergentSuffixInRounds() {
        // Leader: epoch 1 at 0, 2 at 4, 4 at 6, log end 8. Follower: epoch 1 at 0, 3 at 5, log end 8.
        var leader = replica(
            1, logEnd: 8,
            history: LeaderEpochCache([
                .init(epoch: 1, startOffset: 0), .init(epoch: 2, startOffset: 4), .init(epoch: 4, startOffset: 6),
            ]))
        var follower = replica(
            2, logEnd: 8, history: LeaderEpochCache([.init(epoch: 1, startOffset: 0), .init(epoch: 3, startOffset: 5)]))
        let s = state(leader: 1, epoch: 5, partitionEpoch: 9, isr: [1, 2])
        _ = leader.step(.partitionState(s), now: 0)
        var toLeader = follower.step(.partitionState(s), now: 0)
        var truncations: [Int64] = []
        for round in 0..<5 {
            guard case .sendFetch(1, let f)? = toLeader.last else { return XCTFail("no fetch in round \(round)") }
            let answer = leader.step(.fetch(from: 2, f), now: Int64(round))
            guard
                case .answerFetch(2, let reply)? = answer.first(where: {
                    if case .answerFetch = $0 { true } else { false }
                })
            else { return XCTFail("no answer") }
            toLeader = follower.step(.fetchReply(from: 1, reply), now: Int64(round))
            for case .truncate(let to) in toLeader { truncations.append(to) }
            if case .records = reply.body { break }
        }
        // First to 5 (the follower's end of epoch 1 per its own history), then to 4 (the
        // leader's end of epoch 1): offset 4 was epoch 2 on the leader, epoch 1 on the follower.
        XCTAssertEqual(truncations, [5, 4])
        XCTAssertEqual(follower.logEnd, 8)  // then appended the leader's 4..<8
        XCTAssertEqual(follower.history.entries.map(\.epoch), [1, 2, 4])
    }

    /// ISR changes are proposals with the partition epoch; until a newer committed state comes
    /// back the leader keeps counting a replica being added.
    func testIsrExpansionIsProposedAndCountedUntilCommitted() {
        var leader = replica(1, minIsr: 1)
        _ = leader.step(.partitionState(state(leader: 1, epoch: 1, partitionEpoch: 4, isr: [1])), now: 0)
        _ = leader.step(.produce(id: 1, recordCount: 2, acks: .leader, leaderEpoch: nil), now: 0)
        _ = leader.step(.persisted(upTo: 2), now: 1)
        XCTAssertEqual(leader.highWatermark, 2)
        let out = leader.step(.fetch(from: 3, fetch(2, lastEpoch: 1, durable: 2)), now: 2)
        XCTAssertTrue(out.contains(.proposeIsr(leaderEpoch: 1, partitionEpoch: 4, isr: [1, 3])))
        XCTAssertEqual(leader.highWatermarkSet, [1, 3])
        _ = leader.step(.produce(id: 2, recordCount: 1, acks: .leader, leaderEpoch: nil), now: 3)
        _ = leader.step(.persisted(upTo: 3), now: 4)
        XCTAssertEqual(leader.highWatermark, 2, "replica 3 is being added: its durable offset bounds the HW")
        _ = leader.step(.partitionState(state(leader: 1, epoch: 1, partitionEpoch: 5, isr: [1, 3])), now: 5)
        XCTAssertEqual(leader.highWatermarkSet, [1, 3])
    }
}
