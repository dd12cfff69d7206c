import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// AlterPartition as the controller decides it (``ControllerDecisions/alterPartition(_:_:)``):
/// the broker's registration first, then each partition on its own, with Kafka's codes.
final class ControllerAlterPartitionTests: XCTestCase {
    typealias D = ControllerDecisions

    private func topic() throws -> (MetadataImage, MetadataUUID) {
        let image = try ControllerDecisionsTests.create(
            ControllerDecisionsTests.cluster([1, 2, 3]), "t", partitions: 2, rf: 3)
        return (image, try XCTUnwrap(image.topic(named: "t")).id)
    }

    private func change(
        _ id: MetadataUUID, _ p: MetadataImage.Partition, isr: [Int32], leaderEpoch: Int32? = nil,
        partitionEpoch: Int32? = nil
    ) -> AlterPartitionRequest.Partition {
        .init(
            topicId: id, partition: p.partition, leaderEpoch: leaderEpoch ?? p.leaderEpoch,
            partitionEpoch: partitionEpoch ?? p.partitionEpoch, newIsr: isr)
    }

    func testTheLeaderShrinksAndGrowsItsIsrAndGetsTheNewState() throws {
        var (image, id) = try topic()
        let p = try XCTUnwrap(image.partition(id, 0))
        let follower = p.replicas.first { $0 != p.leader }!
        let leaderEpoch = try XCTUnwrap(image.broker(p.leader)).brokerEpoch
        let shrink = AlterPartitionRequest(
            brokerId: p.leader, brokerEpoch: leaderEpoch,
            partitions: [change(id, p, isr: p.isr.filter { $0 != follower })])
        let decision = try D.alterPartition(image, shrink)
        XCTAssertEqual(decision.records.count, 1)
        XCTAssertEqual(decision.partitions.map(\.errorCode), [.none])
        let answer = try XCTUnwrap(decision.partitions.first)
        XCTAssertEqual(answer.isr, p.replicas.filter { $0 != follower }, "replica order kept")
        XCTAssertEqual(answer.partitionEpoch, p.partitionEpoch + 1)
        XCTAssertEqual(answer.leaderEpoch, p.leaderEpoch, "an ISR change keeps the leader epoch")
        XCTAssertEqual(answer.leader, p.leader)
        XCTAssertEqual(decision.changes.map(\.what), ["t-0"])
        image = try image.applying(decision.records)
        XCTAssertEqual(image.partition(id, 0)?.isr, answer.isr, "the answer is the state the records commit")

        // Growing back, in any order, from the new state.
        let shrunk = try XCTUnwrap(image.partition(id, 0))
        let grow = AlterPartitionRequest(
            brokerId: p.leader, brokerEpoch: leaderEpoch, partitions: [change(id, shrunk, isr: [follower] + shrunk.isr)]
        )
        let grown = try D.alterPartition(image, grow)
        XCTAssertEqual(grown.partitions.first?.isr, p.replicas)
        XCTAssertEqual(grown.partitions.first?.partitionEpoch, p.partitionEpoch + 2)
        image = try image.applying(grown.records)

        // The same ISR again: accepted, nothing to commit, the current state.
        let current = try XCTUnwrap(image.partition(id, 0))
        let same = try D.alterPartition(
            image,
            AlterPartitionRequest(
                brokerId: p.leader, brokerEpoch: leaderEpoch, partitions: [change(id, current, isr: current.isr)]))
        XCTAssertEqual(same.records, [])
        XCTAssertEqual(same.partitions.first?.errorCode, ErrorCode.none)
        XCTAssertEqual(same.partitions.first?.partitionEpoch, current.partitionEpoch)
    }

    func testARequestFromAStaleOrUnknownBrokerIsRefusedWhole() throws {
        let (image, id) = try topic()
        let p = try XCTUnwrap(image.partition(id, 0))
        let epoch = try XCTUnwrap(image.broker(p.leader)).brokerEpoch
        XCTAssertThrowsError(
            try D.alterPartition(
                image,
                AlterPartitionRequest(
                    brokerId: p.leader, brokerEpoch: epoch - 1, partitions: [change(id, p, isr: [p.leader])]))
        ) { XCTAssertEqual(($0 as? ControllerError)?.code, .staleBrokerEpoch, "\($0)") }
        XCTAssertThrowsError(
            try D.alterPartition(
                image, AlterPartitionRequest(brokerId: 9, brokerEpoch: epoch, partitions: [change(id, p, isr: [9])]))
        ) { XCTAssertEqual(($0 as? ControllerError)?.code, .brokerIdNotRegistered, "\($0)") }
    }

    /// Each partition is answered on its own, in request order: one refusal does not stop the rest.
    func testEachPartitionIsDecidedOnItsOwnWithKafkasCodes() throws {
        var (image, id) = try topic()
        let p0 = try XCTUnwrap(image.partition(id, 0))
        let leader = p0.leader
        let epoch = try XCTUnwrap(image.broker(leader)).brokerEpoch
        let follower = p0.replicas.first { $0 != leader }!
        let other = try XCTUnwrap(image.partition(id, 1))
        let unknown = MetadataUUID(high: 99, low: 99)
        var partitions = [
            change(id, p0, isr: p0.isr.filter { $0 != follower }),  // accepted
            change(id, p0, isr: p0.isr),  // same partition, now stale: the first one bumped its epoch
            .init(topicId: unknown, partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [leader]),
            change(id, p0, isr: [leader, 42], partitionEpoch: p0.partitionEpoch + 1),  // not a replica
            change(id, p0, isr: [follower], partitionEpoch: p0.partitionEpoch + 1),  // leaves the leader out
        ]
        if other.leader != leader {
            partitions.append(change(id, other, isr: other.isr))  // sent by a broker that does not lead it
        }
        let decision = try D.alterPartition(
            image, AlterPartitionRequest(brokerId: leader, brokerEpoch: epoch, partitions: partitions))
        var expected: [ErrorCode] = [
            .none, .invalidUpdateVersion, .unknownTopicOrPartition, .invalidRequest, .invalidRequest,
        ]
        if other.leader != leader { expected.append(.notLeaderOrFollower) }
        XCTAssertEqual(decision.partitions.map(\.errorCode), expected, "\(decision.partitions)")
        XCTAssertEqual(decision.records.count, 1, "only the accepted change is proposed")
        for refused in decision.partitions.dropFirst() {
            XCTAssertEqual([refused.leader, refused.leaderEpoch, refused.partitionEpoch], [-1, -1, -1])
            XCTAssertEqual(refused.isr, [])
            XCTAssertNotNil(refused.errorMessage)
        }
        image = try image.applying(decision.records)
        XCTAssertEqual(image.partition(id, 0)?.isr, p0.replicas.filter { $0 != follower })
    }

    /// A leader that lost leadership (fenced, a new leader elected at the next leader epoch)
    /// cannot change the ISR any more; a fenced broker cannot be added.
    func testAStaleLeaderAndAnIneligibleReplicaAreRefused() throws {
        var (image, id) = try topic()
        let p = try XCTUnwrap(image.partition(id, 0))
        let oldEpoch = try XCTUnwrap(image.broker(p.leader)).brokerEpoch
        image = try image.applying(D.fenceBroker(image, nodeId: p.leader))
        let now = try XCTUnwrap(image.partition(id, 0))
        XCTAssertNotEqual(now.leader, p.leader)
        XCTAssertEqual(now.leaderEpoch, p.leaderEpoch + 1)
        let stale = try D.alterPartition(
            image,
            AlterPartitionRequest(brokerId: p.leader, brokerEpoch: oldEpoch, partitions: [change(id, p, isr: p.isr)]))
        XCTAssertEqual(stale.partitions.first?.errorCode, .fencedLeaderEpoch)
        XCTAssertEqual(stale.records, [])

        // The new leader may not add the fenced old leader back.
        let newEpoch = try XCTUnwrap(image.broker(now.leader)).brokerEpoch
        let add = try D.alterPartition(
            image,
            AlterPartitionRequest(
                brokerId: now.leader, brokerEpoch: newEpoch, partitions: [change(id, now, isr: now.isr + [p.leader])]))
        XCTAssertEqual(add.partitions.first?.errorCode, .ineligibleReplica)
        XCTAssertEqual(add.records, [])
    }
}
