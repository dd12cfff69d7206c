import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// `ControllerDecisions.electUncleanLeaders`: only when every in-sync replica is fenced, and
/// then the first unfenced replica alone.
final class UncleanElectionTests: XCTestCase {
    typealias D = ControllerDecisions

    func testElectsAnOutOfSyncReplicaOnlyWhenNoInSyncOneIsLeft() throws {
        var image = try ControllerDecisionsTests.create(
            ControllerDecisionsTests.cluster([1, 2]), "t", partitions: 1, rf: 2)
        image = try image.applying(D.fenceBroker(image, nodeId: 2))
        image = try image.applying(D.fenceBroker(image, nodeId: 1))
        let offline = try XCTUnwrap(image.topic(named: "t")?.partitions[0])
        XCTAssertEqual(offline.leader, -1)
        let last = offline.isr[0]
        let other: Int32 = last == 1 ? 2 : 1
        // Nothing to elect while every replica is fenced.
        XCTAssertEqual(try D.electUncleanLeaders(image), [])
        image = try image.applying(
            D.unfenceBroker(
                image, nodeId: other, brokerEpoch: image.broker(other)!.brokerEpoch, metadataOffset: 9,
                logEndOffset: 9))
        XCTAssertEqual(image.topic(named: "t")?.partitions[0]?.leader, -1, "clean election leaves it offline")
        image = try image.applying(D.electUncleanLeaders(image))
        let unclean = try XCTUnwrap(image.topic(named: "t")?.partitions[0])
        XCTAssertEqual(unclean.leader, other)
        XCTAssertEqual(unclean.isr, [other])
        XCTAssertEqual(unclean.leaderEpoch, offline.leaderEpoch + 1)
        XCTAssertEqual(unclean.partitionEpoch, offline.partitionEpoch + 1)
        XCTAssertEqual(try D.electUncleanLeaders(image), [], "a led partition is left alone")
    }

    func testLeavesPartitionsWithAnUnfencedInSyncReplicaToCleanElection() throws {
        let image = try ControllerDecisionsTests.create(
            ControllerDecisionsTests.cluster([1, 2, 3]), "t", partitions: 2, rf: 3)
        XCTAssertEqual(try D.electUncleanLeaders(image), [])
    }
}
