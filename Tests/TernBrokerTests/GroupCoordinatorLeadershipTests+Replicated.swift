import Dispatch
import Logging
import Synchronization
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The coordinator over a replicated `__consumer_offsets` partition, on real fsynced logs: it
/// loads a partition only once the replica says its log is committed, and only up to that
/// point; and a change appended but not seen committed sends the partition back to loading, so
/// memory ends up as the log is rather than without a change the log keeps.
extension GroupCoordinatorLeadershipTests {
    /// A new leader's partition whose high watermark has not reached its log end is not served;
    /// once it is, only what lies below the committed end is loaded.
    func testLoadWaitsForTheCommittedEndAndReadsNothingAboveIt() throws {
        let (a, _) = twoGroups()
        let p = partition(a)
        let writer = makeCoordinator()
        follow(writer, [p: 0])
        waitLoaded(writer)
        XCTAssertEqual(try commit(writer, a, 11), .none)
        let log = try XCTUnwrap(manager.log(for: TopicPartition(GroupCoordinator.topicName, p)))
        let committedEnd = log.logEndOffset
        XCTAssertEqual(try commit(writer, a, 12), .none)
        XCTAssertGreaterThan(log.logEndOffset, committedEnd)

        // The next leader: its high watermark has not reached the epoch start yet.
        let reader = makeCoordinator()
        let state = Mutex<GroupCoordinator.OffsetsLogState>(.uncommitted)
        reader.follow(partitionCount: Self.partitions, led: [p: 1]) { _ in state.withLock { $0 } }
        usleep(200_000)
        XCTAssertEqual(fetch(reader, a).0, .coordinatorLoadInProgress, "not served before it is committed")
        // Committed up to the first change only (the second is above the high watermark).
        state.withLock { $0 = .ready(log, end: committedEnd) }
        waitLoaded(reader)
        XCTAssertEqual(fetch(reader, a).1, 11, "nothing above the committed end is loaded")
    }

    /// A change whose batch was appended but not seen committed is refused with a retriable
    /// error; the partition reloads from its log, which kept the batch, so the group then shows
    /// it — memory agrees with what a later coordinator will replay.
    func testAChangeNotSeenCommittedReloadsThePartitionFromItsLog() throws {
        let (a, b) = twoGroups()
        let coordinator = makeCoordinator()
        follow(coordinator, [partition(a): 0, partition(b): 0])
        waitLoaded(coordinator)
        XCTAssertEqual(try commit(coordinator, a, 5), .none)
        XCTAssertEqual(try commit(coordinator, b, 50), .none)

        logs.notReplicated(partition(a))
        XCTAssertEqual(try commit(coordinator, a, 6), .coordinatorNotAvailable)
        logs.notReplicated(nil)
        waitLoaded(coordinator)
        XCTAssertEqual(fetch(coordinator, a).1, 6, "the reload shows the change the log kept")
        XCTAssertEqual(fetch(coordinator, b).1, 50, "another partition's groups are untouched")
        XCTAssertEqual(try commit(coordinator, a, 7), .none)
        XCTAssertEqual(fetch(coordinator, a).1, 7)

        // A coordinator that replays the log agrees.
        let replayed = makeCoordinator()
        follow(replayed, [partition(a): 2])
        waitLoaded(replayed)
        XCTAssertEqual(fetch(replayed, a).1, 7)
    }
}
