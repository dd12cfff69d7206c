import TernWire
import XCTest

@testable import TernClient

/// KIP-320 in the consumer's state machine: fetches carry the metadata's leader epoch and the
/// last fetched batch's epoch; a newer leader epoch holds the partition back until its position
/// is validated; a log truncated below the position (validation answer or a Fetch's diverging
/// epoch) is reported and the position moves to the diverging offset — or, with reset `.none`,
/// the partition stops with `.logTruncated`.
final class ConsumerStateTruncationTests: XCTestCase {
    private let tp = TopicPartition(topic: "t", partition: 0)
    private let now = ContinuousClock.now

    private func record(_ offset: Int64) -> ConsumerRecord {
        ConsumerRecord(topic: "t", partition: 0, offset: offset, timestamp: 0, key: nil, value: [1])
    }

    /// A state that fetched offsets 0..<5 from a leader in epoch 0 (batches of epoch 0) and
    /// handed `taken` of them to the application.
    private func fetchedFive(taken: Int, policy: ConsumerConfiguration.OffsetReset = .earliest) throws -> ConsumerState
    {
        var state = ConsumerState()
        state.assign([tp], reset: .earliest)
        XCTAssertTrue(state.seek(tp, to: .offset(0)))
        let target = try XCTUnwrap(
            state.fetchTargets(now: now, leader: { _ in 1 }, leaderEpoch: { _ in 0 }).byLeader[1]?.first)
        XCTAssertEqual(target.currentLeaderEpoch, 0)
        XCTAssertEqual(target.lastFetchedEpoch, -1, "nothing fetched yet: no divergence check")
        _ = state.apply(
            .records((0..<5).map(record), nextOffset: 5, bytes: 50, lastEpoch: 0), for: target, policy: policy,
            now: now,
            backoff: .zero)
        XCTAssertEqual(state.take(max: taken).count, taken)
        return state
    }

    func testFetchesCarryTheLeaderEpochAndTheLastFetchedBatchsEpoch() throws {
        let state = try fetchedFive(taken: 5)
        let next = try XCTUnwrap(
            state.fetchTargets(now: now, leader: { _ in 1 }, leaderEpoch: { _ in 0 }).byLeader[1]?.first)
        XCTAssertEqual(next.offset, 5)
        XCTAssertEqual(next.currentLeaderEpoch, 0)
        XCTAssertEqual(next.lastFetchedEpoch, 0)
        XCTAssertTrue(state.pendingValidations(now: now, leader: { _ in 1 }, leaderEpoch: { _ in 0 }).isEmpty)
    }

    func testANewLeaderEpochHoldsThePartitionUntilValidated() throws {
        var state = try fetchedFive(taken: 5)
        let targets = state.fetchTargets(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 })
        XCTAssertTrue(targets.byLeader.isEmpty, "not fetched before its position is validated")
        let validations = state.pendingValidations(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 })
        XCTAssertEqual(
            validations,
            [
                .init(
                    tp: tp, leader: 2, currentLeaderEpoch: 1, lastFetchedEpoch: 0, offset: 5,
                    epoch: validations[0].epoch)
            ])
        // The new leader holds epoch 0 up to 7: nothing was lost; fetching goes on at 5.
        let effects = state.validated(
            validations[0], .init(partition: 0, leaderEpoch: 0, endOffset: 7), policy: .earliest, now: now,
            backoff: .zero)
        XCTAssertNil(effects.truncation)
        let next = try XCTUnwrap(
            state.fetchTargets(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).byLeader[2]?.first)
        XCTAssertEqual(next.offset, 5)
        XCTAssertEqual(next.currentLeaderEpoch, 1)
        XCTAssertEqual(state.position(tp), 5)
    }

    func testATruncatedLogIsReportedAndTheConsumerResumesAtTheDivergingOffset() throws {
        var state = try fetchedFive(taken: 5)
        let validation = try XCTUnwrap(
            state.pendingValidations(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).first)
        let effects = state.validated(
            validation, .init(partition: 0, leaderEpoch: 0, endOffset: 3), policy: .earliest, now: now, backoff: .zero)
        let truncation = try XCTUnwrap(effects.truncation)
        XCTAssertEqual(truncation.divergingOffset, 3)
        XCTAssertEqual(truncation.divergingEpoch, 0)
        XCTAssertEqual(truncation.position, 5)
        XCTAssertEqual(truncation.returnedRecordsLost, 2)
        XCTAssertEqual(truncation.resumeOffset, 3)
        XCTAssertTrue(truncation.description.contains("2 record(s) already returned by poll"), truncation.description)
        XCTAssertEqual(state.position(tp), 3)
        let next = try XCTUnwrap(
            state.fetchTargets(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).byLeader[2]?.first)
        XCTAssertEqual(next.offset, 3)
        XCTAssertEqual(next.lastFetchedEpoch, 0, "the leader's epoch that ends there")
        XCTAssertEqual(next.currentLeaderEpoch, 1)
    }

    func testRecordsNotYetReturnedAreReadAgainFromTheLeadersLog() throws {
        // Two of the five were returned; the log diverges at 4: the consumer goes on at 2 (records
        // 2 and 3 are read again from the new leader, buffered ones dropped), nothing returned is lost.
        var state = try fetchedFive(taken: 2)
        let target = FetchedPartition.diverged(epoch: 0, endOffset: 4)
        let current = ConsumerState.FetchTarget(
            tp: tp, offset: 5, epoch: try XCTUnwrap(state.partitions[tp]).epoch, currentLeaderEpoch: 1,
            lastFetchedEpoch: 0)
        let effects = state.apply(target, for: current, policy: .latest, now: now, backoff: .zero)
        let truncation = try XCTUnwrap(effects.truncation)
        XCTAssertEqual(truncation.returnedRecordsLost, 0)
        XCTAssertEqual(truncation.resumeOffset, 2)
        XCTAssertTrue(state.take(max: 10).isEmpty, "buffered records of the old log are dropped")
        XCTAssertEqual(state.position(tp), 2)
        let next = try XCTUnwrap(
            state.fetchTargets(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).byLeader[2]?.first)
        XCTAssertEqual(next.offset, 2)
        XCTAssertEqual(next.lastFetchedEpoch, -1, "the epoch at 2 is not known: no divergence check")
    }

    func testADivergingEpochThatEndsPastThePositionIsNoTruncation() throws {
        var state = try fetchedFive(taken: 5)
        let target = ConsumerState.FetchTarget(
            tp: tp, offset: 5, epoch: try XCTUnwrap(state.partitions[tp]).epoch, currentLeaderEpoch: 2,
            lastFetchedEpoch: 1)
        state.partitions[tp]?.lastFetchedEpoch = 1
        let effects = state.apply(
            .diverged(epoch: 0, endOffset: 9), for: target, policy: .earliest, now: now, backoff: .zero)
        XCTAssertNil(effects.truncation)
        let next = try XCTUnwrap(
            state.fetchTargets(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 2 }).byLeader[2]?.first)
        XCTAssertEqual(next.offset, 5)
        XCTAssertEqual(next.lastFetchedEpoch, 0, "names the leader's epoch now, so the next fetch does not diverge")
    }

    func testWithResetNoneTheTruncationStopsThePartitionWithAnError() throws {
        var state = try fetchedFive(taken: 5, policy: .none)
        let validation = try XCTUnwrap(
            state.pendingValidations(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).first)
        let effects = state.validated(
            validation, .init(partition: 0, leaderEpoch: 0, endOffset: 0), policy: .none, now: now, backoff: .zero)
        XCTAssertNil(effects.truncation?.resumeOffset)
        XCTAssertEqual(state.error?.code, .logTruncated)
        XCTAssertEqual(state.position(tp), 5, "not moved: the application decides")
        XCTAssertTrue(
            state.pendingValidations(now: now + .seconds(60), leader: { _ in 2 }, leaderEpoch: { _ in 1 }).isEmpty)
        XCTAssertTrue(state.seek(tp, to: .offset(0)), "a seek lets it go on")
        XCTAssertNotNil(state.fetchTargets(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).byLeader[2])
    }

    func testAnErrorAnswerBacksOffAndAsksForMetadata() throws {
        var state = try fetchedFive(taken: 5)
        let validation = try XCTUnwrap(
            state.pendingValidations(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).first)
        let effects = state.validated(
            validation, .init(partition: 0, errorCode: .fencedLeaderEpoch), policy: .earliest, now: now,
            backoff: .seconds(1))
        XCTAssertTrue(effects.refreshMetadata)
        XCTAssertNil(effects.truncation)
        XCTAssertTrue(state.pendingValidations(now: now, leader: { _ in 2 }, leaderEpoch: { _ in 1 }).isEmpty)
        XCTAssertEqual(
            state.pendingValidations(now: now + .seconds(2), leader: { _ in 2 }, leaderEpoch: { _ in 1 }).count, 1)
    }

    func testFetchedPartitionNamesTheLastBatchsEpochAndADivergence() {
        var builder = RecordBatchBuilder(baseTimestamp: 1)
        for value in ["a", "b"] { builder.append(key: nil, value: Array(value.utf8)) }
        var batch = builder.finish()
        batch.withUnsafeMutableBytes {
            RecordBatchHeader.assign(baseOffset: 10, partitionLeaderEpoch: 3, in: $0, at: 0)
        }
        var partition = FetchResponse.Partition(partition: 0)
        partition.records = batch
        guard
            case .records(let records, let next, _, let lastEpoch) = FetchedPartition.decode(
                partition, topic: "t", fetchOffset: 10, peer: "b")
        else { return XCTFail("records expected") }
        XCTAssertEqual(records.map(\.offset), [10, 11])
        XCTAssertEqual(next, 12)
        XCTAssertEqual(lastEpoch, 3)
        var diverging = FetchResponse.Partition(partition: 0)
        diverging.divergingEpoch = 2
        diverging.divergingEndOffset = 8
        guard
            case .diverged(let epoch, let end) = FetchedPartition.decode(
                diverging, topic: "t", fetchOffset: 10, peer: "b")
        else { return XCTFail("diverged expected") }
        XCTAssertEqual(epoch, 2)
        XCTAssertEqual(end, 8)
    }
}
