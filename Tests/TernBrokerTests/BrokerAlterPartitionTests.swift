import Dispatch
import Foundation
import Logging
import Synchronization
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// ``Broker/alterPartition(topicId:from:newIsr:completion:)`` on a single node, whose controller
/// is in-process: the request goes through the broker's registration and the controller's queue
/// and comes back with the committed state or Kafka's refusal. (The controller-listener path and
/// committed ISR changes are ClusterAlterPartitionTests, on three real processes.)
final class BrokerAlterPartitionTests: XCTestCase {
    var directory: TemporaryDirectory!
    var broker: Broker!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-alter-partition")
        let config = try BrokerConfig.load(
            file: nil, overrides: ["log.dirs=\(directory.path)/data", "listeners=PLAINTEXT://127.0.0.1:0"])
        broker = try Broker(config: config, logger: Logger(label: "test"))
        try broker.start()
        _ = try broker.createTopic(name: "t", partitions: 1, configs: [:])
    }

    override func tearDownWithError() throws {
        try broker?.shutdown()
        directory?.remove()
    }

    private func alter(
        _ id: MetadataUUID, _ from: MetadataImage.Partition, _ isr: [Int32]
    ) throws -> Result<MetadataImage.Partition, ControllerError> {
        let result = Mutex<Result<MetadataImage.Partition, ControllerError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        broker.alterPartition(topicId: id, from: from, newIsr: isr) { answer in
            result.withLock { $0 = answer }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "an answer within 20 s")
        return try XCTUnwrap(result.withLock { $0 })
    }

    func testTheLeaderGetsTheCommittedStateOrKafkasRefusal() throws {
        let image = broker.cluster.image
        let id = try XCTUnwrap(image.topic(named: "t")).id
        let p = try XCTUnwrap(image.partition(id, 0))
        XCTAssertEqual(p.isr, [p.leader])

        // Until the broker is registered (and its controller active) the answer says to retry.
        var first = try alter(id, p, p.isr)
        let deadline = ContinuousClock.now + .seconds(20)
        while case .failure(let error) = first, error.code == .notController, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            first = try alter(id, p, p.isr)
        }
        XCTAssertEqual(try first.get(), p, "the same ISR: accepted, the current state back")

        var staleVersion = p
        staleVersion.partitionEpoch -= 1
        XCTAssertEqual(try? alter(id, staleVersion, p.isr).failure?.code, .invalidUpdateVersion)
        var staleLeader = p
        staleLeader.leaderEpoch -= 1
        XCTAssertEqual(try? alter(id, staleLeader, p.isr).failure?.code, .fencedLeaderEpoch)
        XCTAssertEqual(try? alter(id, p, [p.leader, p.leader + 1]).failure?.code, .invalidRequest)
        XCTAssertEqual(try? alter(id, p, []).failure?.code, .invalidRequest)
        var unknown = p
        unknown.partition = 7
        XCTAssertEqual(try? alter(id, unknown, p.isr).failure?.code, .unknownTopicOrPartition)
        XCTAssertEqual(broker.cluster.image.partition(id, 0), p, "nothing refused changed the partition")
    }
}

extension BrokerAlterPartitionTests {
    /// What `tern_isr_shrinks_total` and `tern_isr_expands_total` count for a committed change.
    func testIsrChangesAreCountedAsShrinksOrExpands() {
        let before = MetadataImage.Partition(
            partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 4, partitionEpoch: 7)
        var after = before
        after.isr = [1, 3]
        after.partitionEpoch = 8
        XCTAssertTrue(IsrChangeMetrics.kind(before: before, after: after) == (true, false))
        XCTAssertTrue(IsrChangeMetrics.kind(before: after, after: before) == (false, true), "epochs only differ")
        var swapped = after
        swapped.isr = [1, 2]
        swapped.partitionEpoch = 9
        XCTAssertTrue(IsrChangeMetrics.kind(before: after, after: swapped) == (true, true))
        XCTAssertTrue(IsrChangeMetrics.kind(before: before, after: before) == (false, false), "unchanged: not counted")
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
