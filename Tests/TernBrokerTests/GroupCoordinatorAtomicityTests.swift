import Dispatch
import Logging
import Synchronization
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The coordinator shell over real `__consumer_offsets` logs (a `LogManager` on a temporary
/// directory, flushed with fsync), with a failure injected at the append or the flush of chosen
/// partitions: a group change is all-or-nothing in memory and in what a reload replays, and a
/// slow flush of one group holds up only that group.
final class GroupCoordinatorAtomicityTests: XCTestCase {
    static let partitions: Int32 = 5
    var directory: TemporaryDirectory!
    var manager: LogManager!
    var logs: FaultyGroupLogs!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-group-atomicity")
        manager = try LogManager(
            logDirs: [directory.path], flushMode: .sync,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        logs = FaultyGroupLogs(manager: manager)
    }

    override func tearDown() {
        try? manager?.shutdown()
        directory?.remove()
    }

    func makeCoordinator() -> GroupCoordinator {
        GroupCoordinator(
            settings: .init(
                offsetsPartitions: Self.partitions, ledPartitions: nil, heartbeatIntervalMs: 100,
                minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 10_000),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// A new coordinator rebuilt from what the logs hold (as after a restart).
    func reloaded() throws -> GroupCoordinator {
        let coordinator = makeCoordinator()
        coordinator.load(
            from: try (0..<Self.partitions).map {
                try manager.createLog(TopicPartition(GroupCoordinator.topicName, $0), config: LogConfig())
            })
        return coordinator
    }

    /// Committed offsets of every group, the part of the state that must survive a restart.
    func offsets(_ coordinator: GroupCoordinator) -> [String: [TopicPartition: Int64]] {
        coordinator.read { $0.groups.mapValues(\.offsets) }
    }

    /// Submits a request and waits (bounded) for its answer.
    func answer<R: Sendable>(
        _ coordinator: GroupCoordinator, _ groupId: String,
        failure: @escaping @Sendable (ErrorCode, String) -> R,
        _ decide: @escaping @Sendable (GroupCoordinatorState) -> GroupCoordinatorState.Outcome<R>
    ) throws -> R {
        let box = AnswerBox<R>()
        coordinator.submit(groupId, logs: logs, decide: decide, failure: failure) { box.put($0) }
        return try XCTUnwrap(box.wait(seconds: 20), "no answer for \(groupId)")
    }

    func commit(_ coordinator: GroupCoordinator, _ group: String, _ offsets: [Int32: Int64]) throws -> ErrorCode {
        let request = OffsetCommitRequest(
            groupId: group, memberId: "", memberEpoch: -1,
            topics: [
                .init(
                    name: "t",
                    partitions: offsets.sorted { $0.key < $1.key }.map { .init(partition: $0.key, offset: $0.value) })
            ])
        let response = try answer(
            coordinator, group,
            failure: { code, message in OffsetCommitResponse(errorCode: code, errorMessage: message, topics: []) }
        ) { $0.commit(request, counts: { _ in 8 }) }
        return response.topics.first?.partitions.first?.errorCode ?? response.errorCode
    }

    func delete(_ coordinator: GroupCoordinator, _ group: String) -> AnswerBox<DeleteGroupsResponse.Result> {
        let box = AnswerBox<DeleteGroupsResponse.Result>()
        coordinator.submit(
            group, logs: logs, decide: { $0.delete(group) },
            failure: { DeleteGroupsResponse.Result(groupId: group, errorCode: $0, errorMessage: $1) }
        ) { box.put($0) }
        return box
    }

    /// Three groups on three different `__consumer_offsets` partitions, in partition order.
    func groupsOnThreePartitions() -> [String] {
        var chosen: [Int32: String] = [:]
        for i in 0..<200 where chosen.count < 3 {
            let id = "group-\(i)"
            let partition = GroupCoordinatorState.coordinatorPartition(id, partitions: Self.partitions)
            if chosen[partition] == nil { chosen[partition] = id }
        }
        return chosen.sorted { $0.key < $1.key }.map(\.value)
    }

    func partition(_ group: String) -> Int32 {
        GroupCoordinatorState.coordinatorPartition(group, partitions: Self.partitions)
    }

    // MARK: Tests

    func testDeletingGroupsOnThreePartitionsWithTheMiddleAppendFailingAgreesInMemoryAndOnReload() throws {
        let coordinator = makeCoordinator()
        let groups = groupsOnThreePartitions()
        for (i, group) in groups.enumerated() {
            XCTAssertEqual(try commit(coordinator, group, [0: Int64(10 * i + 1), 1: Int64(10 * i + 2)]), .none)
        }
        let before = offsets(coordinator)
        XCTAssertEqual(before.count, 3)

        logs.failAppend(partition(groups[1]))
        let boxes = groups.map { delete(coordinator, $0) }
        let results = try boxes.map { try XCTUnwrap($0.wait(seconds: 20)) }
        XCTAssertEqual(results.map(\.errorCode), [.none, .kafkaStorageError, .none])

        // Memory: the failed group exactly as before, the others gone.
        let memory = offsets(coordinator)
        XCTAssertEqual(memory, [groups[1]: before[groups[1]]!])
        // The log replays the same: no tombstone of the failed group, all of the others'.
        XCTAssertEqual(offsets(try reloaded()), memory)
        // The failed group is still usable once the disk is.
        logs.failAppend(nil)
        XCTAssertEqual(try XCTUnwrap(delete(coordinator, groups[1]).wait(seconds: 20)).errorCode, .none)
        XCTAssertEqual(offsets(coordinator), [:])
        XCTAssertEqual(offsets(try reloaded()), [:])
    }

    func testAFailedCommitChangesNeitherMemoryNorTheLog() throws {
        let coordinator = makeCoordinator()
        let group = groupsOnThreePartitions()[0]
        XCTAssertEqual(try commit(coordinator, group, [0: 5, 1: 6]), .none)
        logs.failAppend(partition(group))
        XCTAssertEqual(try commit(coordinator, group, [0: 50, 1: 60, 2: 70]), .kafkaStorageError)
        XCTAssertEqual(offsets(coordinator), [group: [TopicPartition("t", 0): 5, TopicPartition("t", 1): 6]])
        XCTAssertEqual(offsets(try reloaded()), offsets(coordinator))
    }

    /// A failed flush: the client is told, memory keeps the state before, the partition's groups
    /// are not served any more (what a restart replays is unknown), other partitions go on; the
    /// log holds the batch whole or not at all, so a reload shows before or after, never a mix.
    func testAFailedFlushLeavesMemoryAsBeforeAndFencesOnlyThatPartition() throws {
        let coordinator = makeCoordinator()
        let groups = groupsOnThreePartitions()
        XCTAssertEqual(try commit(coordinator, groups[0], [0: 5, 1: 6]), .none)
        XCTAssertEqual(try commit(coordinator, groups[1], [0: 7]), .none)
        logs.failFlush(partition(groups[0]))
        XCTAssertEqual(try commit(coordinator, groups[0], [0: 50, 1: 60]), .kafkaStorageError)
        let old: [TopicPartition: Int64] = [TopicPartition("t", 0): 5, TopicPartition("t", 1): 6]
        let new: [TopicPartition: Int64] = [TopicPartition("t", 0): 50, TopicPartition("t", 1): 60]
        XCTAssertEqual(offsets(coordinator)[groups[0]], old)
        XCTAssertEqual(
            coordinator.read { $0.fetch(OffsetFetchRequest(groupId: groups[0], topics: [])) }.errorCode,
            .coordinatorNotAvailable)
        XCTAssertEqual(try commit(coordinator, groups[0], [0: 51]), .coordinatorNotAvailable)
        XCTAssertEqual(try commit(coordinator, groups[1], [0: 8]), .none, "another partition is not affected")
        let replayed = try XCTUnwrap(offsets(try reloaded())[groups[0]])
        XCTAssertTrue(replayed == old || replayed == new, "a reload replays a partial change: \(replayed)")
    }

    /// A group whose flush is slow holds up only its own later requests, which are decided in
    /// order on the state its change leaves; another group's change completes meanwhile.
    func testASlowFlushOfOneGroupDoesNotHoldUpAnotherAndKeepsItsOwnRequestsInOrder() throws {
        let coordinator = makeCoordinator()
        let groups = groupsOnThreePartitions()
        let (slow, other) = (groups[0], groups[1])
        logs.holdFlush(partition(slow))
        let first = AnswerBox<ErrorCode>()
        let second = AnswerBox<ErrorCode>()
        for (box, offset) in [(first, Int64(1)), (second, Int64(2))] {
            let request = OffsetCommitRequest(
                groupId: slow, memberId: "", memberEpoch: -1,
                topics: [.init(name: "t", partitions: [.init(partition: 0, offset: offset)])])
            coordinator.submit(
                slow, logs: logs, decide: { $0.commit(request, counts: { _ in 8 }) },
                failure: { code, message in OffsetCommitResponse(errorCode: code, errorMessage: message, topics: []) }
            ) { box.put($0.topics.first?.partitions.first?.errorCode ?? $0.errorCode) }
        }
        // The other group commits, and is read back, while the slow group's flush is held.
        XCTAssertEqual(try commit(coordinator, other, [0: 9]), .none)
        XCTAssertNil(first.wait(seconds: 0.2), "answered before its records were durable")
        XCTAssertNil(second.wait(seconds: 0), "decided before the change ahead of it finished")
        XCTAssertNil(offsets(coordinator)[slow], "applied before its records were durable")
        XCTAssertEqual(logs.appendCount(partition(slow)), 1, "the second commit was appended before the first was done")
        logs.releaseFlush()
        XCTAssertEqual(first.wait(seconds: 20), ErrorCode.none)
        XCTAssertEqual(second.wait(seconds: 20), ErrorCode.none)
        XCTAssertEqual(offsets(coordinator)[slow], [TopicPartition("t", 0): 2])
        XCTAssertEqual(offsets(try reloaded()), offsets(coordinator))
    }
}

/// Real logs of `__consumer_offsets`, with failures injected per partition: an append that
/// throws (nothing written, as `PartitionLog` leaves it after a failed `pwrite`), a flush that
/// fails after the batch was written (as a failed `fdatasync`), or a flush held until released.
final class FaultyGroupLogs: GroupLogs {
    struct Faults {
        var failAppend: Int32?
        var failFlush: Int32?
        var holdFlush: Int32?
        /// Appended and flushed, but answered as a replicated leader answers a batch its high
        /// watermark did not pass in time.
        var notReplicated: Int32?
        var held: [@Sendable () -> Void] = []
        var appends: [Int32: Int] = [:]
    }

    let manager: LogManager
    private let faults = Mutex(Faults())

    init(manager: LogManager) { self.manager = manager }

    func failAppend(_ partition: Int32?) { faults.withLock { $0.failAppend = partition } }
    func failFlush(_ partition: Int32?) { faults.withLock { $0.failFlush = partition } }
    func holdFlush(_ partition: Int32?) { faults.withLock { $0.holdFlush = partition } }
    func notReplicated(_ partition: Int32?) { faults.withLock { $0.notReplicated = partition } }
    func appendCount(_ partition: Int32) -> Int { faults.withLock { $0.appends[partition] ?? 0 } }

    /// Lets the held flushes go on (to the real flusher).
    func releaseFlush() {
        let held = faults.withLock { faults in
            defer {
                faults.held = []
                faults.holdFlush = nil
            }
            return faults.held
        }
        for resume in held { resume() }
    }

    func offsetsLog(_ partition: Int32) throws -> PartitionLog {
        try manager.createLog(TopicPartition(GroupCoordinator.topicName, partition), config: LogConfig())
    }

    func appendGroupBatch(_ bytes: inout [UInt8], batches: [ValidatedBatch], to log: PartitionLog) throws
        -> GroupAppend
    {
        let partition = log.topicPartition.partition
        let fail = faults.withLock { faults in
            faults.appends[partition, default: 0] += 1
            return faults.failAppend == partition
        }
        if fail { throw StorageError(.ioError, "injected: no space left on device") }
        let result = try log.append(&bytes, batches: batches, leaderEpoch: 0)
        return GroupAppend(endOffset: result.lastOffset + 1, leaderEpoch: nil)
    }

    func whenCommitted(
        _ log: PartitionLog, _ append: GroupAppend, completion: @escaping @Sendable (GroupStorageFailure?) -> Void
    ) {
        let notReplicated = faults.withLock { $0.notReplicated == log.topicPartition.partition }
        whenDurable(log, upTo: append.endOffset) { result in
            switch result {
            case .success where notReplicated:
                completion(GroupStorageFailure(.coordinatorNotAvailable, "injected: not replicated", reload: true))
            case .success: completion(nil)
            case .failure(let error):
                completion(GroupStorageFailure(.kafkaStorageError, "not durable: \(error)", written: true))
            }
        }
    }

    private func whenDurable(
        _ log: PartitionLog, upTo offset: Int64, completion: @escaping @Sendable (Result<Void, StorageError>) -> Void
    ) {
        let partition = log.topicPartition.partition
        let manager = self.manager
        let action = faults.withLock { faults -> Bool? in
            if faults.failFlush == partition { return false }
            if faults.holdFlush == partition {
                faults.held.append { manager.whenDurable(log, upTo: offset, completion: completion) }
                return nil
            }
            return true
        }
        switch action {
        case true?: manager.whenDurable(log, upTo: offset, completion: completion)
        case false?: completion(.failure(StorageError(.ioError, "injected: fdatasync failed")))
        case nil: break
        }
    }
}

/// One answer, delivered from any thread and awaited with a bound.
final class AnswerBox<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func put(_ answer: T) {
        value.withLock { $0 = answer }
        ready.signal()
    }

    /// The answer, or nil when none came within `seconds`.
    func wait(seconds: Double) -> T? {
        if let answer = value.withLock({ $0 }) { return answer }
        guard ready.wait(timeout: .now() + seconds) == .success else { return nil }
        ready.signal()
        return value.withLock { $0 }
    }
}
