import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// ``MetadataImage/partitionHealth(nodeId:)``: what the under-replicated and offline gauges,
/// `/v1/cluster` and `/health/ready` report.
final class MetadataImagePartitionHealthTests: XCTestCase {
    typealias D = ControllerDecisions

    func testFencingABrokerLeavesItsPartitionsUnderReplicatedOrOffline() throws {
        var image = try ControllerDecisionsTests.create(
            ControllerDecisionsTests.cluster([1, 2, 3]), "replicated", partitions: 3, rf: 3)
        image = try ControllerDecisionsTests.create(image, "solo", partitions: 3, rf: 1, seed: 2)
        for node: Int32 in [1, 2, 3] { XCTAssertEqual(image.partitionHealth(nodeId: node), PartitionHealth()) }

        let solo = try XCTUnwrap(image.topic(named: "solo"))
        let victim = try XCTUnwrap(solo.partitions[0]?.leader)
        let soloOnVictim = solo.partitions.values.filter { $0.replicas == [victim] }.count
        image = try image.applying(D.fenceBroker(image, nodeId: victim))
        let replicated = try XCTUnwrap(image.topic(named: "replicated")).sortedPartitions
        XCTAssertTrue(replicated.allSatisfy { !$0.isr.contains(victim) && $0.leader != victim })
        var led = 0
        for node: Int32 in [1, 2, 3] {
            let health = image.partitionHealth(nodeId: node)
            XCTAssertEqual(health.underReplicated, 3, "every replicated partition lost a replica")
            XCTAssertEqual(health.offline, soloOnVictim, "each solo partition of the victim has no leader")
            XCTAssertEqual(health.underReplicatedLed, replicated.filter { $0.leader == node }.count)
            led += health.underReplicatedLed
        }
        XCTAssertEqual(led, 3, "summed over the brokers, each partition counts once")
        XCTAssertEqual(image.partitionHealth(nodeId: victim).underReplicatedLed, 0)
    }

    /// A leader the image still names but that is fenced (the controller has not moved its
    /// leadership yet, e.g. no quorum) cannot serve: offline.
    func testALeaderThatIsFencedOrUnknownCountsAsOffline() throws {
        var image = try ControllerDecisionsTests.create(
            ControllerDecisionsTests.cluster([1, 2]), "t", partitions: 1, rf: 1)
        let partition = try XCTUnwrap(image.topic(named: "t")?.partitions[0])
        let broker = try XCTUnwrap(image.broker(partition.leader))
        image = try image.applying(
            MetadataRecord.brokerFencing(.init(nodeId: broker.nodeId, brokerEpoch: broker.brokerEpoch, fenced: true)))
        XCTAssertEqual(image.topic(named: "t")?.partitions[0]?.leader, partition.leader, "the raw record moves nothing")
        XCTAssertEqual(image.partitionHealth(nodeId: 1).offline, 1)
        XCTAssertEqual(image.partitionHealth(nodeId: 1).underReplicated, 0)
    }
}
