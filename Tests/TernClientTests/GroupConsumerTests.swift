import Synchronization
import TernWire
import XCTest

@testable import TernClient

/// The group consumer's side of the protocol against a scripted coordinator: where assigned
/// partitions start, and that revoked partitions are committed before they are released.
final class GroupConsumerTests: XCTestCase {
    func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func testAssignedPartitionsStartAtTheCommittedOffsetAndRevokedOnesAreCommittedBeforeRelease() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 2)
        let client = try await TernClient(configuration: broker.configuration())
        let producer = client.producer()
        for i in 0..<10 { _ = try await producer.send(topic: "t", value: Array("v\(i)".utf8), partition: Int32(i % 2)) }
        try await producer.flush()
        await producer.close()
        broker.state.withLock { state in
            state.group.assignment = [TopicPartitionList(name: "t", partitions: [0, 1])]
            state.group.offsets[TopicPartition(topic: "t", partition: 1)] = 2
        }

        let events = Mutex<[RebalanceEvent]>([])
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(20), autoOffsetReset: .earliest, groupId: "g", enableAutoCommit: true,
                autoCommitInterval: .seconds(3600)))
        try await consumer.subscribe(topics: ["t"]) { event in
            events.withLock { $0.append(event) }
            if case .revoked = event {
                // The release must wait for the application: nothing was released yet.
                XCTAssertFalse(broker.groupLog.contains { $0.hasSuffix("owned=t-0") })
            }
        }
        var values: [String] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while values.count < 8 && ContinuousClock.now < deadline {
            values += try await consumer.poll(timeout: .milliseconds(100)).map {
                String(decoding: $0.value ?? [], as: UTF8.self)
            }
        }
        // p0 from the beginning (no commit), p1 from its committed offset 2: v1 and v3 are skipped.
        XCTAssertEqual(Set(values), Set(["v0", "v2", "v4", "v6", "v8", "v5", "v7", "v9"]))
        XCTAssertEqual(consumer.memberId, "m")

        broker.state.withLock { $0.group.assignment = [TopicPartitionList(name: "t", partitions: [0])] }
        try await waitFor("the release of t-1") { broker.groupLog.contains { $0.hasSuffix("owned=t-0") } }
        let log = broker.groupLog
        let commit = try XCTUnwrap(log.firstIndex(of: "commit t-1=5"), "\(log)")
        let release = try XCTUnwrap(log.firstIndex { $0.hasSuffix("owned=t-0") })
        XCTAssertLessThan(commit, release, "\(log)")
        let tp0 = TopicPartition(topic: "t", partition: 0)
        let tp1 = TopicPartition(topic: "t", partition: 1)
        XCTAssertEqual(events.withLock { $0 }, [.assigned([tp0, tp1]), .revoked([tp1])])
        XCTAssertEqual(consumer.assignment, [tp0])

        // close commits what was consumed and leaves with epoch -1.
        await consumer.close()
        XCTAssertEqual(broker.state.withLock { $0.group.offsets[tp0] }, 5)
        XCTAssertTrue(broker.groupLog.last?.hasPrefix("heartbeat epoch=-1") ?? false, "\(broker.groupLog)")
        await client.close()
    }

    func testAFencedMemberReportsItsPartitionsLostRejoinsWithEpochZeroAndAStaticOneLeavesWithMinusTwo() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 2)
        broker.state.withLock { $0.group.assignment = [TopicPartitionList(name: "t", partitions: [0, 1])] }
        let client = try await TernClient(configuration: broker.configuration())
        let events = Mutex<[RebalanceEvent]>([])
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(20), groupId: "g", groupInstanceId: "host-a", enableAutoCommit: false))
        try await consumer.subscribe(topics: ["t"]) { event in events.withLock { $0.append(event) } }
        let tps = [TopicPartition(topic: "t", partition: 0), TopicPartition(topic: "t", partition: 1)]
        try await waitFor("the assignment") { events.withLock { $0 } == [.assigned(tps)] }

        // Fenced, then the coordinator moves while the member rejoins: it retries with epoch 0.
        broker.state.withLock { $0.group.heartbeatErrors = [.fencedMemberEpoch, .notCoordinator] }
        try await waitFor("the rejoin") { events.withLock { $0 } == [.assigned(tps), .lost(tps), .assigned(tps)] }
        let log = broker.groupLog
        let fenced = try XCTUnwrap(log.lastIndex(of: "heartbeat epoch=1 owned=t-0,t-1"), "\(log)")
        XCTAssertEqual(
            Array(log[(fenced + 1)...].prefix(2)), ["heartbeat epoch=0 owned=", "heartbeat epoch=0 owned="], "\(log)")
        XCTAssertEqual(consumer.assignment, tps)
        XCTAssertEqual(consumer.memberEpoch, 1)

        await consumer.close()
        XCTAssertEqual(broker.groupLog.last, "heartbeat epoch=-2 owned=")
        XCTAssertEqual(consumer.memberEpoch, 0)
        await client.close()
    }

    /// A commit follows its coordinator: NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE look it up
    /// again, COORDINATOR_LOAD_IN_PROGRESS asks the same one again, and the commit lands.
    func testACommitLooksTheCoordinatorUpAgainWhenItMovedOrIsUnavailableAndWaitsOutALoad() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 1)
        let client = try await TernClient(configuration: broker.configuration())
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                retryBackoff: .milliseconds(10), groupId: "g", enableAutoCommit: false))
        let tp = TopicPartition(topic: "t", partition: 0)
        broker.state.withLock {
            $0.group.commitErrors = [.notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress]
        }
        try await consumer.commitSync([tp: 5])
        let (offsets, finds, left) = broker.state.withLock { ($0.group.offsets, $0.group.finds, $0.group.commitErrors) }
        XCTAssertEqual(offsets[tp], 5)
        XCTAssertEqual(left, [])
        XCTAssertEqual(finds, 3, "a lookup before the first try and after each of the two moves, none after the load")
        await consumer.close()
        await client.close()
    }
}
