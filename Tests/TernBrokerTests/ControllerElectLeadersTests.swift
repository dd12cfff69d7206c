import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// ElectLeaders as the controller decides it: which partitions move, and what each partition
/// asked about is told.
final class ControllerElectLeadersTests: XCTestCase {
    typealias D = ControllerDecisions
    typealias Result = ElectLeadersResponse.Partition

    /// Broker `node` stopped and came back: out of the ISRs, then let back in by the leaders.
    private func restart(_ node: Int32, _ image: MetadataImage) throws -> MetadataImage {
        var image = try image.applying(D.fenceBroker(image, nodeId: node))
        let epoch = try XCTUnwrap(image.broker(node)).brokerEpoch
        image = try image.applying(
            D.unfenceBroker(image, nodeId: node, brokerEpoch: epoch, metadataOffset: 9, logEndOffset: 9))
        let topic = try XCTUnwrap(image.topic(named: "t"))
        for partition in topic.sortedPartitions where !partition.isr.contains(node) {
            image = try image.applying(
                D.alterIsr(
                    image, topicId: topic.id, partition: partition.partition, leader: partition.leader,
                    leaderEpoch: partition.leaderEpoch, partitionEpoch: partition.partitionEpoch,
                    newIsr: partition.isr + [node]))
        }
        return image
    }

    func testPreferredElectionMovesOnlyWhatCanMoveAndSaysWhyForTheRest() throws {
        let start = try ControllerDecisionsTests.create(
            ControllerDecisionsTests.cluster([1, 2, 3]), "t", partitions: 6, rf: 3)
        let preferredBy1 = start.topic(named: "t")!.sortedPartitions.filter { $0.preferredLeader == 1 }.map(\.partition)
        XCTAssertFalse(preferredBy1.isEmpty)
        let image = try restart(1, start)
        for partition in image.topic(named: "t")!.sortedPartitions {
            XCTAssertEqual(partition.leader == partition.preferredLeader, !preferredBy1.contains(partition.partition))
        }
        let moved = preferredBy1[0]
        let stays = image.topic(named: "t")!.sortedPartitions.first { $0.preferredLeader != 1 }!.partition

        // Named partitions: each answered, in request order; duplicates once; unknown ones refused.
        let election = try D.electLeaders(
            image, type: .preferred,
            topics: [.init(name: "t", partitions: [moved, stays, moved, 42]), .init(name: "nope", partitions: [0])])
        XCTAssertEqual(election.topics.map(\.name), ["t", "nope"])
        let results = election.topics[0].partitions
        XCTAssertEqual(results.map(\.partition), [moved, stays, 42])
        XCTAssertEqual(results.map(\.errorCode), [.none, .electionNotNeeded, .unknownTopicOrPartition])
        XCTAssertEqual(election.topics[1].partitions.map(\.errorCode), [.unknownTopicOrPartition])
        XCTAssertEqual(election.records.count, 1)
        let after = try image.applying(election.records).topic(named: "t")!.partitions[moved]!
        let before = image.topic(named: "t")!.partitions[moved]!
        XCTAssertEqual(after.leader, 1)
        XCTAssertEqual(after.isr, before.isr)
        XCTAssertEqual(after.leaderEpoch, before.leaderEpoch + 1)

        // Every partition: the ones that move, and nothing about those already led as asked.
        let all = try D.electLeaders(image, type: .preferred, topics: [])
        XCTAssertEqual(all.topics.first?.partitions.map(\.partition), preferredBy1)
        XCTAssertEqual(all.records, try D.rebalancePreferredLeaders(image))
        XCTAssertEqual(try D.electLeaders(image.applying(all.records), type: .preferred, topics: []).topics, [])

        // A preferred replica that is fenced (or out of sync) cannot lead: said so, nothing moves.
        let fenced = try start.applying(D.fenceBroker(start, nodeId: 1))
        let refused = try D.electLeaders(fenced, type: .preferred, topics: [.init(name: "t", partitions: [moved])])
        XCTAssertEqual(refused.records, [])
        XCTAssertEqual(refused.topics.first?.partitions.first?.errorCode, .preferredLeaderNotAvailable)
        XCTAssertTrue(refused.topics.first?.partitions.first?.errorMessage?.contains("fenced") == true)
    }

    func testUncleanElectionOnlyForPartitionsWithoutALiveInSyncReplica() throws {
        var image = try ControllerDecisionsTests.create(
            ControllerDecisionsTests.cluster([1, 2]), "t", partitions: 1, rf: 2)
        let partition = image.topic(named: "t")!.partitions[0]!
        let (first, second) = (partition.replicas[0], partition.replicas[1])
        let clean = try D.electLeaders(image, type: .unclean, topics: [.init(name: "t", partitions: [0])])
        XCTAssertEqual(clean.topics.first?.partitions.first?.errorCode, .electionNotNeeded)
        // The second replica leaves the ISR, then the only in-sync one stops: leaderless.
        image = try image.applying(D.fenceBroker(image, nodeId: second))
        image = try image.applying(D.fenceBroker(image, nodeId: first))
        XCTAssertEqual(image.topic(named: "t")!.partitions[0]!.leader, -1)
        let nobody = try D.electLeaders(image, type: .unclean, topics: [.init(name: "t", partitions: [0])])
        XCTAssertEqual(nobody.topics.first?.partitions.first?.errorCode, .eligibleLeadersNotAvailable)
        // The out-of-sync replica returns: only an unclean election may pick it.
        let epoch = try XCTUnwrap(image.broker(second)).brokerEpoch
        image = try image.applying(
            D.unfenceBroker(image, nodeId: second, brokerEpoch: epoch, metadataOffset: 9, logEndOffset: 9))
        XCTAssertEqual(image.topic(named: "t")!.partitions[0]!.leader, -1)
        let preferred = try D.electLeaders(image, type: .preferred, topics: [.init(name: "t", partitions: [0])])
        XCTAssertEqual(preferred.records, [])
        let unclean = try D.electLeaders(image, type: .unclean, topics: [.init(name: "t", partitions: [0])])
        XCTAssertEqual(unclean.topics.first?.partitions.first?.errorCode, ErrorCode.none)
        let elected = try image.applying(unclean.records).topic(named: "t")!.partitions[0]!
        XCTAssertEqual(elected.leader, second)
        XCTAssertEqual(elected.isr, [second])
        // An unknown election type is refused as a whole.
        XCTAssertThrowsError(try D.electLeaders(image, type: .init(rawValue: 7), topics: []))
    }
}
