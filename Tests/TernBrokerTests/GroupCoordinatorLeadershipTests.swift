import Dispatch
import Logging
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The coordinator following `__consumer_offsets` leadership over real, fsynced logs: it serves
/// only the partitions it leads, loads a partition's groups from its log when it comes to lead
/// it (COORDINATOR_LOAD_IN_PROGRESS until then), drops them when it stops (NOT_COORDINATOR), and
/// a change whose partition changed hands while it was being written is not applied.
final class GroupCoordinatorLeadershipTests: XCTestCase {
    static let partitions: Int32 = 4
    var directory: TemporaryDirectory!
    var manager: LogManager!
    var logs: FaultyGroupLogs!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-group-leadership")
        manager = try LogManager(
            logDirs: [directory.path], flushMode: .sync,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        logs = FaultyGroupLogs(manager: manager)
        for partition in 0..<Self.partitions { _ = try logs.offsetsLog(partition) }
    }

    override func tearDown() {
        try? manager?.shutdown()
        directory?.remove()
    }

    /// A coordinator as the broker makes one: leading nothing until told.
    func makeCoordinator() -> GroupCoordinator {
        let coordinator = GroupCoordinator(
            settings: .init(
                offsetsPartitions: Self.partitions, ledPartitions: [], heartbeatIntervalMs: 100,
                minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 10_000),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        coordinator.withState { $0.loadingPartitions = Set(0..<Self.partitions) }
        return coordinator
    }

    func follow(_ coordinator: GroupCoordinator, _ led: [Int32: Int32]) {
        let manager = self.manager!
        coordinator.follow(
            partitionCount: Self.partitions, led: led,
            logs: { manager.log(for: TopicPartition(GroupCoordinator.topicName, $0)) })
    }

    func partition(_ group: String) -> Int32 {
        GroupCoordinatorState.coordinatorPartition(group, partitions: Self.partitions)
    }

    /// Two groups on different partitions.
    func twoGroups() -> (String, String) {
        let a = "group-0"
        let b = (1..<200).map { "group-\($0)" }.first { partition($0) != partition(a) }!
        return (a, b)
    }

    func commitRequest(_ group: String, _ offset: Int64) -> OffsetCommitRequest {
        OffsetCommitRequest(
            groupId: group, memberId: "", memberEpoch: -1,
            topics: [.init(name: "t", partitions: [.init(partition: 0, offset: offset)])])
    }

    func submitCommit(_ coordinator: GroupCoordinator, _ group: String, _ offset: Int64) -> AnswerBox<ErrorCode> {
        let box = AnswerBox<ErrorCode>()
        let request = commitRequest(group, offset)
        coordinator.submit(
            group, logs: logs, decide: { $0.commit(request, counts: { _ in 8 }) },
            failure: { code, message in OffsetCommitResponse(errorCode: code, errorMessage: message, topics: []) }
        ) { box.put($0.topics.first?.partitions.first?.errorCode ?? $0.errorCode) }
        return box
    }

    func commit(_ coordinator: GroupCoordinator, _ group: String, _ offset: Int64) throws -> ErrorCode {
        try XCTUnwrap(submitCommit(coordinator, group, offset).wait(seconds: 20), "no answer")
    }

    /// The committed offset of t-0 (-1: none), or the error OffsetFetch answers.
    func fetch(_ coordinator: GroupCoordinator, _ group: String) -> (ErrorCode, Int64) {
        let response = coordinator.read {
            $0.fetch(OffsetFetchRequest(groupId: group, topics: [.init(name: "t", partitions: [0])]))
        }
        return (response.errorCode, response.topics.first?.partitions.first?.offset ?? -1)
    }

    func waitLoaded(_ coordinator: GroupCoordinator) {
        XCTAssertTrue(coordinator.waitUntilLoaded(timeout: .seconds(20)), "the led partitions did not load")
    }

    // MARK: Tests

    func testOnlyLedPartitionsAreServedAndALostOneComesBackFromItsLog() throws {
        let coordinator = makeCoordinator()
        let (a, b) = twoGroups()
        // Before the image says anything: loading, for every group.
        XCTAssertEqual(fetch(coordinator, a).0, .coordinatorLoadInProgress)
        follow(coordinator, [partition(a): 0, partition(b): 0])
        waitLoaded(coordinator)
        XCTAssertEqual(try commit(coordinator, a, 11), .none)
        XCTAssertEqual(try commit(coordinator, b, 22), .none)
        XCTAssertEqual(Set(coordinator.read { $0.list() }.groups.map(\.groupId)), [a, b])

        // a's partition moves away: its group is dropped and refused; b's is untouched.
        follow(coordinator, [partition(b): 0])
        XCTAssertEqual(fetch(coordinator, a).0, .notCoordinator)
        XCTAssertEqual(try commit(coordinator, a, 12), .notCoordinator)
        XCTAssertEqual(coordinator.read { $0.list() }.groups.map(\.groupId), [b])
        XCTAssertEqual(fetch(coordinator, b).1, 22)

        // It comes back (a new leader epoch): loading until its log was read, then served as
        // the log holds it. The I/O queue is held so the load cannot finish before we look.
        let hold = DispatchSemaphore(value: 0)
        coordinator.onIOQueue { hold.wait() }
        follow(coordinator, [partition(a): 1, partition(b): 0])
        XCTAssertEqual(fetch(coordinator, a).0, .coordinatorLoadInProgress)
        XCTAssertEqual(try commit(coordinator, a, 13), .coordinatorLoadInProgress)
        XCTAssertEqual(fetch(coordinator, b).1, 22, "a load of another partition holds up nothing of b")
        hold.signal()
        waitLoaded(coordinator)
        XCTAssertEqual(fetch(coordinator, a).0, .none)
        XCTAssertEqual(fetch(coordinator, a).1, 11)
    }

    /// Regaining leadership with a new epoch reloads: what another leader wrote to the log in
    /// between (here a second coordinator over the same log) is served.
    func testANewLeaderEpochReloadsWhatAnotherLeaderWrote() throws {
        let first = makeCoordinator()
        let (a, _) = twoGroups()
        follow(first, [partition(a): 0])
        waitLoaded(first)
        XCTAssertEqual(try commit(first, a, 5), .none)
        follow(first, [:])

        let second = makeCoordinator()
        follow(second, [partition(a): 1])
        waitLoaded(second)
        XCTAssertEqual(fetch(second, a).1, 5, "the new leader loads the commit from the log")
        XCTAssertEqual(try commit(second, a, 6), .none)
        follow(second, [:])

        follow(first, [partition(a): 2])
        waitLoaded(first)
        XCTAssertEqual(fetch(first, a).1, 6)
    }

    /// A change being flushed when its partition's leadership moves is answered NOT_COORDINATOR
    /// and not applied; what queued behind it is refused too. A later load replays the log,
    /// where the batch is (it was written), so memory and log agree again.
    func testAChangeInFlightAcrossALeadershipMoveIsNotAppliedAndQueuedOnesAreRefused() throws {
        let coordinator = makeCoordinator()
        let (a, b) = twoGroups()
        follow(coordinator, [partition(a): 0, partition(b): 0])
        waitLoaded(coordinator)
        logs.holdFlush(partition(a))
        let inFlight = submitCommit(coordinator, a, 7)
        let queued = submitCommit(coordinator, a, 8)
        // The first is written and waits for its flush; the second waits for the group.
        let deadline = Date().addingTimeInterval(20)
        while logs.appendCount(partition(a)) < 1 && Date() < deadline { usleep(1000) }
        XCTAssertEqual(logs.appendCount(partition(a)), 1)
        follow(coordinator, [partition(b): 0])
        logs.releaseFlush()
        XCTAssertEqual(inFlight.wait(seconds: 20), .notCoordinator)
        XCTAssertEqual(queued.wait(seconds: 20), .notCoordinator)
        XCTAssertEqual(logs.appendCount(partition(a)), 1, "nothing is appended once the partition moved")
        XCTAssertEqual(coordinator.read { $0.groups[a] == nil }, true)

        follow(coordinator, [partition(a): 1, partition(b): 0])
        waitLoaded(coordinator)
        XCTAssertEqual(fetch(coordinator, a).1, 7, "the written batch is replayed by the next load")
    }
}
